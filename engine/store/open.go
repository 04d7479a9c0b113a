package store

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// DefaultSQLitePath is the database file Open uses for an empty DSN, relative
// to the working directory.
const DefaultSQLitePath = "var/sundial.db"

// Backend names, as Register and ParseDSN use them.
const (
	BackendSQLite   = "sqlite"
	BackendPostgres = "postgres"
)

// OpenFunc opens a backend. For SQLite target is a file path; for PostgreSQL
// it is the whole postgres:// URL.
type OpenFunc func(ctx context.Context, target string) (Store, error)

var (
	backendsMu sync.RWMutex
	backends   = map[string]OpenFunc{}
)

// Register makes a backend available to Open. Backend packages call it from
// init; registering a name twice panics.
func Register(backend string, open OpenFunc) {
	backendsMu.Lock()
	defer backendsMu.Unlock()
	if _, dup := backends[backend]; dup {
		panic("store: Register called twice for backend " + backend)
	}
	backends[backend] = open
}

func registered() []string {
	names := make([]string, 0, len(backends))
	for name := range backends {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

var schemeRE = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9+.-]*)://`)

// ParseDSN tells which backend a DSN selects and what that backend is given:
//
//	""                                → sqlite, DefaultSQLitePath
//	"var/x.db", "/abs/x.db"           → sqlite, the path
//	"sqlite:var/x.db", "sqlite:///abs" → sqlite, the path
//	"postgres://…", "postgresql://…"  → postgres, the DSN unchanged
func ParseDSN(dsn string) (backend, target string, err error) {
	switch {
	case dsn == "":
		return BackendSQLite, DefaultSQLitePath, nil
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return BackendPostgres, dsn, nil
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "//")
		if path == "" {
			path = DefaultSQLitePath
		}
		return BackendSQLite, path, nil
	}
	if m := schemeRE.FindStringSubmatch(dsn); m != nil {
		return "", "", fmt.Errorf("%w %q in store DSN (want a file path, sqlite:<path> or postgres://...)", ErrUnknownBackend, m[1])
	}
	return BackendSQLite, dsn, nil
}

// Open opens the store a DSN selects (see ParseDSN), applying its schema
// migrations. The backend's package must be imported (it registers itself).
func Open(ctx context.Context, dsn string) (Store, error) {
	backend, target, err := ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	backendsMu.RLock()
	open, ok := backends[backend]
	names := registered()
	backendsMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("open store: %w %q: not linked into this binary (import sundial/engine/store/%s; have %v)",
			ErrUnknownBackend, backend, backend, names)
	}
	return open(ctx, target)
}

// FireID is the id of the run of a schedule's fire at a scheduled time:
// "<scheduleID>@<scheduled, RFC 3339 UTC, to the microsecond>". It is unique
// per schedule and scheduled time, which is what makes a double fire
// impossible to record.
func FireID(scheduleID string, scheduled time.Time) string {
	return scheduleID + "@" + Normalize(scheduled).Format(time.RFC3339Nano)
}

// Normalize returns t as the store keeps it: UTC, truncated to microseconds.
// The zero time stays zero.
func Normalize(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// NowOr returns Normalize(t), or the current time when t is zero.
func NowOr(t time.Time) time.Time {
	if t.IsZero() {
		t = time.Now()
	}
	return Normalize(t)
}
