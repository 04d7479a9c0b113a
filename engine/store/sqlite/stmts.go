package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
)

// The managed-object statements every write transaction runs, prepared
// once on the writer at Open: modernc's SQLite compiles an unprepared
// statement anew on every call, which costs about as much as running it.
const (
	sqlReadObject   = "SELECT rev, json(doc) FROM managed_objects WHERE type = ? AND id = ?"
	sqlReadRev      = "SELECT rev FROM managed_objects WHERE type = ? AND id = ?"
	sqlUpdateObject = "UPDATE managed_objects SET rev = ?, doc = jsonb(?) WHERE type = ? AND id = ?"
	sqlInsertObject = "INSERT INTO managed_objects (type, id, rev, doc) VALUES (?, ?, ?, jsonb(?))"
	sqlDeleteObject = "DELETE FROM managed_objects WHERE type = ? AND id = ?"
)

var writerStatements = []string{sqlReadObject, sqlReadRev, sqlUpdateObject, sqlInsertObject, sqlDeleteObject}

// stmtCacheMax bounds the reader's cache of query statements: queries'
// texts come from their filters, so only the first few distinct ones are
// kept (a scan's query is repeated for every page).
const stmtCacheMax = 64

// stmtCache holds statements prepared on one pool, by their text.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache { return &stmtCache{db: db, m: map[string]*sql.Stmt{}} }

// prepare prepares every statement of qs now (the writer's, while no
// transaction holds its one connection).
func (c *stmtCache) prepare(ctx context.Context, qs []string) error {
	for _, q := range qs {
		st, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.m[q] = st
		c.mu.Unlock()
	}
	return nil
}

// get returns q prepared, preparing it when there is room; nil when the
// cache is full and q is not in it.
func (c *stmtCache) get(ctx context.Context, q string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[q]; ok || len(c.m) >= stmtCacheMax {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	c.m[q] = st
	return st, nil
}

// in is the writer's prepared q in tx (prepare put it there at Open).
func (c *stmtCache) in(ctx context.Context, tx *sql.Tx, q string) *sql.Stmt {
	c.mu.Lock()
	st := c.m[q]
	c.mu.Unlock()
	return tx.StmtContext(ctx, st)
}

func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for q, st := range c.m {
		errs = append(errs, st.Close())
		delete(c.m, q)
	}
	return errors.Join(errs...)
}

// inList appends ids to args, padded to a power of two with the last one
// (the IN list asks the same), and returns them with the list's
// placeholders: few distinct statement texts, which the reader's cache
// keeps prepared.
func inList(args []any, ids []string) ([]any, string) {
	n := 1
	for n < len(ids) {
		n *= 2
	}
	for i := range n {
		args = append(args, ids[min(i, len(ids)-1)])
	}
	return args, "(?" + strings.Repeat(", ?", n-1) + ")"
}

// query runs q on the reader, prepared when the cache has room for it.
func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := s.readerStmts.get(ctx, q)
	switch {
	case err != nil:
		return nil, err
	case st != nil:
		return st.QueryContext(ctx, args...)
	default:
		return s.reader.QueryContext(ctx, q, args...)
	}
}
