package config

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// Sentinels: every error and warning of a loaded file wraps exactly one of
// them under a *FileError, so callers can classify with errors.Is.
var (
	ErrRead              = errors.New("unreadable file")
	ErrNotRegular        = errors.New("not a regular file") // a FIFO, socket or device where a file was expected
	ErrTooLarge          = errors.New("file too large")
	ErrEncoding          = errors.New("invalid encoding")
	ErrSyntax            = errors.New("syntax error")
	ErrDuplicateKey      = errors.New("duplicate key")
	ErrDuplicateID       = errors.New("duplicate schedule id")
	ErrInvalidID         = errors.New("invalid schedule id")
	ErrUnknownKey        = errors.New("unknown key")
	ErrInvalidValue      = errors.New("invalid value")
	ErrUndefinedProperty = errors.New("undefined property")
	ErrInvalidCron       = errors.New("invalid cron expression")
	ErrInvalidTime       = errors.New("invalid time")
	ErrInvalidTimeZone   = errors.New("invalid time zone")
	ErrUnknownService    = errors.New("unknown service")
	ErrScriptNotFound    = errors.New("script not found")
	ErrScript            = errors.New("invalid script") // LoadOptions.CheckScript's error
	ErrIgnored           = errors.New("ignored")        // warnings: a key, a file or a value that has no effect
	ErrLegacyFileName    = errors.New("legacy file name")
	ErrLegacyCron        = errors.New("legacy cron syntax") // warnings: accepted as OpenIDM's Quartz 1 did
	ErrEmpty             = errors.New("empty configuration")
	ErrFrequent          = errors.New("very frequent trigger") // warnings: a simple trigger repeating more than once a second
)

// FileError is one problem in one configuration file. It renders as
// "file:line:col: message" (or "file: message" when the position is not
// known); Err wraps one of the sentinels above.
type FileError struct {
	File    string // path as the loader was given it (Dir joined with the file name); "" for a REST body
	Line    int    // 1-based; 0 when unknown
	Col     int    // 1-based, in characters; 0 when unknown
	Pointer string // JSON pointer of the offending value in the document, "" for the whole file
	Err     error
}

func (e *FileError) Error() string {
	var pos string
	switch {
	case e.Line > 0 && e.Col > 0:
		pos = fmt.Sprintf("%d:%d", e.Line, e.Col)
	case e.Line > 0:
		pos = fmt.Sprintf("%d", e.Line)
	}
	switch {
	case e.File != "" && pos != "":
		return fmt.Sprintf("%s:%s: %v", e.File, pos, e.Err)
	case e.File != "":
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	case pos != "":
		return fmt.Sprintf("%s: %v", pos, e.Err)
	}
	return e.Err.Error()
}

func (e *FileError) Unwrap() error { return e.Err }

// detail is a message with a sentinel (and optionally a cause) underneath:
// its text is the message alone, and errors.Is and errors.As find both.
type detail struct {
	msg      string
	sentinel error
	cause    error
}

func (d *detail) Error() string { return d.msg }

func (d *detail) Unwrap() []error {
	if d.cause == nil {
		return []error{d.sentinel}
	}
	return []error{d.sentinel, d.cause}
}

// errorf returns an error whose message is the formatted text and which wraps
// sentinel.
func errorf(sentinel error, format string, args ...any) error {
	return &detail{msg: fmt.Sprintf(format, args...), sentinel: sentinel}
}

// errorw is errorf that also wraps cause, e.g. the cron parser's error.
func errorw(sentinel, cause error, format string, args ...any) error {
	return &detail{msg: fmt.Sprintf(format, args...), sentinel: sentinel, cause: cause}
}

// sortErrors orders file errors by file, line and column, keeping the
// order of equal positions.
func sortErrors(errs []error) {
	slices.SortStableFunc(errs, func(a, b error) int {
		var fa, fb *FileError
		if !errors.As(a, &fa) || !errors.As(b, &fb) {
			return 0
		}
		return cmp.Or(cmp.Compare(fa.File, fb.File), cmp.Compare(fa.Line, fb.Line), cmp.Compare(fa.Col, fb.Col))
	})
}
