// Package sqlite is the embedded store backend: one SQLite file (by default
// var/sundial.db) through modernc.org/sqlite, without cgo.
//
// The database runs in WAL mode, so readers never wait for the writer. All
// writes of a Store go through a single connection, so they are serialized
// in-process, and each method call is one write transaction that starts
// with BEGIN IMMEDIATE: it takes SQLite's write lock up front, so two
// writers (two Store values or two processes on one file) queue for the lock
// instead of deadlocking on a lock upgrade. The wait for the lock honours
// the call's context. Every commit is durable (synchronous=FULL), so a batch
// call (ClaimFires, FinishRuns) costs one fsync whatever its size: batching
// concurrent calls into batch calls is the caller's job. A call whose
// context carries store.WithDeferredSync commits with synchronous=NORMAL
// instead: no fsync, durable against a crash of the process, and made
// durable against a power loss by the next FULL commit. Reads use a
// separate pool of read-only connections.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	msqlite "modernc.org/sqlite"

	"sundial/engine/store"
	"sundial/engine/store/internal/migrate"
	"sundial/engine/store/internal/sqlcommon"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

var migrations = migrate.MustLoad(migrationFS, "sqlite")

// LatestSchemaVersion is the newest migration this binary embeds.
func LatestSchemaVersion() int { return migrate.Latest(migrations) }

func init() {
	store.Register(store.BackendSQLite, func(ctx context.Context, target string) (store.Store, error) {
		return Open(ctx, target)
	})
}

// busyTimeout is how long a write waits for another writer's lock (another
// process on the file) before it fails with SQLITE_BUSY, unless its context
// ends first; readers wait as long in SQLite's own busy handler.
const busyTimeout = 10 * time.Second

// busyPoll is the writer connection's busy_timeout: SQLite's busy handler
// does not see a context, so the writer waits for the lock in steps this
// long, and write checks the context between them. A cancelled
// write so gives up within about busyPoll while another process holds the
// lock.
const busyPoll = 100 * time.Millisecond

// Store is the SQLite backend. Its methods are safe for concurrent use.
type Store struct {
	path string
	// writer has exactly one connection: writes of this Store are serialized
	// in-process and never contend for SQLite's lock among themselves.
	writer *sql.DB
	// reader is a small pool of query_only connections.
	reader *sql.DB
	// writerStmts and readerStmts are the statements prepared on each.
	writerStmts, readerStmts *stmtCache

	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed, with its directory) the database file at
// path and applies pending migrations. A database migrated by a newer Sundial
// is refused with a *store.SchemaVersionError.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		path = store.DefaultSQLitePath
	}
	if path == ":memory:" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open sqlite store %q: %w", path, store.Invalidf("want a file path (an in-memory database cannot be shared between connections)"))
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("open sqlite store %s: %w: %w", path, store.ErrUnavailable, err)
		}
	}
	common := "_journal_mode=WAL&_foreign_keys=1"
	writer, err := sql.Open("sqlite", path+"?"+common+fmt.Sprintf("&_busy_timeout=%d", busyPoll.Milliseconds())+
		"&_synchronous=FULL&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w: %w", path, store.ErrUnavailable, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	s := &Store{path: path, writer: writer}
	// The writer connection is opened first: it switches the file to WAL
	// before any read-only connection looks at it.
	if err := s.migrate(ctx); err != nil {
		_ = writer.Close()
		return nil, err
	}
	reader, err := sql.Open("sqlite", path+"?"+common+fmt.Sprintf("&_busy_timeout=%d", busyTimeout.Milliseconds())+"&_query_only=1")
	if err != nil {
		_ = writer.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w: %w", path, store.ErrUnavailable, err)
	}
	reader.SetMaxOpenConns(4)
	reader.SetMaxIdleConns(4)
	s.reader = reader
	s.writerStmts, s.readerStmts = newStmtCache(writer), newStmtCache(reader)
	if err := errors.Join(s.writerStmts.prepare(ctx, writerStatements), s.readerStmts.prepare(ctx, []string{sqlReadObject})); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("open sqlite store %s: prepare: %w", path, err)
	}
	return s, nil
}

// String describes the store for logs.
func (s *Store) String() string { return "sqlite " + s.path }

// Close closes both pools. It is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		for _, c := range []*stmtCache{s.writerStmts, s.readerStmts} {
			if c != nil {
				errs = append(errs, c.close())
			}
		}
		if s.reader != nil {
			errs = append(errs, s.reader.Close())
		}
		errs = append(errs, s.writer.Close())
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("close sqlite store %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

func (s *Store) migrate(ctx context.Context) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER NOT NULL PRIMARY KEY,
			name       TEXT    NOT NULL,
			applied_at INTEGER NOT NULL
		)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var current int
		if err := tx.QueryRowContext(ctx, migrate.VersionSQL).Scan(&current); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		return migrate.Apply(migrations, current, func(sql string) error {
			_, err := tx.ExecContext(ctx, sql)
			return err
		}, func(m migrate.Migration) error {
			_, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				m.Version, m.Name, micros(time.Now()))
			return err
		})
	})
	if err != nil {
		if errors.Is(err, store.ErrSchemaTooNew) {
			return fmt.Errorf("open sqlite store %s: %w", s.path, err)
		}
		return fmt.Errorf("open sqlite store %s: %w: %w", s.path, store.ErrUnavailable, err)
	}
	return nil
}

// write runs fn in a BEGIN IMMEDIATE transaction on the writer connection
// and returns fn's error or the transaction's. While another process holds
// the write lock, the transaction fails with SQLITE_BUSY after busyPoll and
// is run again from scratch (so fn must not keep results from a failed
// attempt), for up to busyTimeout: this is the writer's busy handler, which,
// unlike SQLite's, stops as soon as ctx ends. The wait for the writer
// connection itself (another write of this Store) honours ctx too.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	deadline := time.Now().Add(busyTimeout)
	for attempt := 0; ; attempt++ {
		err := s.writeOnce(ctx, fn)
		if err == nil || !isBusy(err) || ctx.Err() != nil || time.Now().After(deadline) {
			if err != nil && ctx.Err() != nil && isBusy(err) {
				err = fmt.Errorf("%w (waiting for the database lock: %w)", err, ctx.Err())
			}
			return err
		}
		backoff := time.Duration(min(attempt+1, 4)) * 5 * time.Millisecond
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (waiting for the database lock: %w)", err, ctx.Err())
		}
	}
}

func (s *Store) writeOnce(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if store.DeferredSync(ctx) {
		return s.writeDeferred(ctx, fn)
	}
	return inTx(ctx, s.writer, fn)
}

// inTx runs fn in a transaction begun on db, and commits it unless fn
// fails (then it rolls back).
func inTx(ctx context.Context, db interface {
	BeginTx(context.Context, *sql.TxOptions) (*sql.Tx, error)
}, fn func(tx *sql.Tx) error) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// writeDeferred is writeOnce with synchronous=NORMAL for this one
// transaction (store.WithDeferredSync): in WAL mode the commit is not
// synced, and the next synchronous=FULL commit's sync of the WAL makes it
// durable with it. The setting is per connection and cannot change inside
// a transaction, so the writer connection is held across the three steps
// and set back to FULL after; a connection that cannot be set back is
// discarded rather than reused.
func (s *Store) writeDeferred(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	conn, err := s.writer.Conn(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA synchronous = FULL"); rerr != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			if err == nil {
				err = fmt.Errorf("restore synchronous=FULL: %w", rerr)
			}
		}
		_ = conn.Close()
	}()
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = NORMAL"); err != nil {
		return fmt.Errorf("begin: synchronous=NORMAL: %w", err)
	}
	return inTx(ctx, conn, fn)
}

func isBusy(err error) bool {
	var se *msqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
			return true
		}
	}
	return false
}

// isUniqueViolation reports a PRIMARY KEY or UNIQUE constraint failure.
func isUniqueViolation(err error) bool {
	var se *msqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case 1555, 2067: // SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE
			return true
		}
	}
	return false
}

// Time columns are microseconds since the epoch; NULL is the zero time.

func micros(t time.Time) int64 { return t.UnixMicro() }

func nullMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func microsPtr(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	n := t.UnixMicro()
	return &n
}

// codec decodes this dialect's scanned columns.
var codec = sqlcommon.Codec[sql.NullInt64, int, sql.NullString]{
	Time: fromMicros,
	Bool: func(n int) bool { return n != 0 },
	Str:  func(s sql.NullString) string { return s.String },
}

// queryer is what *sql.DB and *sql.Tx have in common for queries.
type queryer interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}

// queryAll runs q on db and scans each row it returns with scan.
func queryAll[T any](ctx context.Context, db queryer, scan func(sqlcommon.Scanner) (T, error), q string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return sqlcommon.Collect(rows, scan)
}

func fromMicros(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.UnixMicro(n.Int64).UTC()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// placeholders returns "?, ?, ?" for n values.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// chunk splits ids into slices small enough for one IN (...) list.
func chunk(ids []string, size int) [][]string {
	var out [][]string
	for len(ids) > size {
		out = append(out, ids[:size])
		ids = ids[size:]
	}
	if len(ids) > 0 {
		out = append(out, ids)
	}
	return out
}

func anys(ids []string) []any {
	a := make([]any, len(ids))
	for i, id := range ids {
		a[i] = id
	}
	return a
}
