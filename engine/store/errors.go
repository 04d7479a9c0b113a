package store

import (
	"errors"
	"fmt"
)

// Sentinel errors. Backends wrap them with context; test with errors.Is.
var (
	// ErrNotFound: the trigger or run does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the row is not in the state the operation requires: a
	// trigger refused a fire (another node fired it past that fire, or it is
	// paused, blocked, complete or of another config version), or a run is
	// not running on the node finishing it.
	ErrConflict = errors.New("conflict: changed concurrently")
	// ErrAlreadyFired: a run with this fire id is already recorded; the fire
	// must not be executed again.
	ErrAlreadyFired = errors.New("already fired")
	// ErrNodeAlive: RecoverNode was asked to recover a node whose last check-in
	// is more recent than the staleness limit.
	ErrNodeAlive = errors.New("node is alive")
	// ErrNodeInUse: CheckIn found another live process checking in under
	// the node id. See NodeInUseError.
	ErrNodeInUse = errors.New("node id is in use by a live process")
	// ErrSchemaTooNew: the database was migrated by a newer Sundial. See
	// SchemaVersionError.
	ErrSchemaTooNew = errors.New("database schema is newer than this sundial supports")
	// ErrUnavailable: the database cannot be reached or opened.
	ErrUnavailable = errors.New("database unavailable")
	// ErrInvalid: the params are invalid (missing id, bad JSON, ...).
	ErrInvalid = errors.New("invalid argument")
	// ErrUnknownBackend: Open was given a DSN whose scheme no backend handles.
	ErrUnknownBackend = errors.New("unknown store backend")
)

// SchemaVersionError reports a database whose schema version is newer than
// the newest migration this binary knows. It matches ErrSchemaTooNew.
type SchemaVersionError struct {
	Database  int // version recorded in schema_migrations
	Supported int // newest version this binary embeds
}

func (e *SchemaVersionError) Error() string {
	return fmt.Sprintf("database schema version %d is newer than this sundial supports (%d); upgrade sundial",
		e.Database, e.Supported)
}

// Is makes errors.Is(err, ErrSchemaTooNew) true.
func (e *SchemaVersionError) Is(target error) bool { return target == ErrSchemaTooNew }

// Invalidf returns an ErrInvalid with a message.
func Invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}
