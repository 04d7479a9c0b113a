// Package postgres is the cluster store backend: several Sundial nodes share
// one PostgreSQL database through github.com/jackc/pgx/v5.
//
// ClaimFires locks the triggers it decides on with SELECT ... FOR UPDATE SKIP
// LOCKED, so nodes claiming the same fires at once never wait on each other
// and each fire is decided on the latest committed state. Batch methods are
// set-based (one statement over unnest'ed arrays per step), so a batch of
// fires costs a few round trips whatever its size. Connections come from a
// pgxpool.Pool. Transactions run at READ COMMITTED and are retried on
// deadlock or serialization failure. Migrations run under a
// transaction-scoped advisory lock, so nodes starting together migrate once.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"sundial/engine/store"
	"sundial/engine/store/internal/migrate"
	"sundial/engine/store/internal/sqlcommon"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

var migrations = migrate.MustLoad(migrationFS, "postgres")

// LatestSchemaVersion is the newest migration this binary embeds.
func LatestSchemaVersion() int { return migrate.Latest(migrations) }

func init() {
	store.Register(store.BackendPostgres, func(ctx context.Context, dsn string) (store.Store, error) {
		return Open(ctx, dsn)
	})
}

// migrationLockID keys the advisory lock that serializes migrations.
const migrationLockID = 0x53756e6469616c // "Sundial"

// DefaultMaxConns bounds a Store's connections unless the DSN sets
// pool_max_conns.
const DefaultMaxConns = 10

// connectTimeout applies when the DSN sets no connect_timeout, so that an
// unreachable server fails Open quickly.
const connectTimeout = 10 * time.Second

// maxTxRetries bounds the retries of a transaction that hit a deadlock or
// serialization failure.
const maxTxRetries = 8

// Store is the PostgreSQL backend. Its methods are safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	desc string // host:port/database, for messages (no password)

	closeOnce sync.Once
}

var _ store.Store = (*Store)(nil)

// Open connects to the database a postgres:// or postgresql:// URL names,
// checks that it answers, and applies pending migrations. The URL may carry
// pgxpool's pool_* settings (pool_max_conns defaults to DefaultMaxConns). An
// unreachable server is an error wrapping store.ErrUnavailable; a database
// migrated by a newer Sundial a *store.SchemaVersionError.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", store.Invalidf("parse DSN: %v", err))
	}
	if u, err := url.Parse(dsn); err == nil && !u.Query().Has("pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", store.Invalidf("%v", err))
	}
	s := &Store{pool: pool, desc: fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store: cannot reach postgres at %s: %w: %w", s.desc, store.ErrUnavailable, err)
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store %s: %w", s.desc, err)
	}
	return s, nil
}

// String describes the store for logs, without credentials.
func (s *Store) String() string { return "postgres " + s.desc }

// Close closes the connections, waiting for those in use to be released. It
// is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(s.pool.Close)
	return nil
}

func (s *Store) migrate(ctx context.Context) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLockID)); err != nil {
			return fmt.Errorf("lock migrations: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer     NOT NULL PRIMARY KEY,
			name       text        NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var current int
		if err := tx.QueryRow(ctx, migrate.VersionSQL).Scan(&current); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		return migrate.Apply(migrations, current, func(sql string) error {
			_, err := tx.Exec(ctx, sql)
			return err
		}, func(m migrate.Migration) error {
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name)
			return err
		})
	})
}

// tx runs fn in a READ COMMITTED transaction, retrying it on deadlock or
// serialization failure. fn must not keep results from a failed attempt.
// Under store.WithDeferredSync the transaction commits with
// synchronous_commit off: the commit does not wait for the WAL flush, and
// the next synchronous commit flushes it too.
func (s *Store) tx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	if store.DeferredSync(ctx) {
		inner := fn
		fn = func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SET LOCAL synchronous_commit = off"); err != nil {
				return err
			}
			return inner(tx)
		}
	}
	for attempt := 0; ; attempt++ {
		err := pgx.BeginFunc(ctx, s.pool, fn)
		if err == nil || !retryable(err) || attempt >= maxTxRetries || ctx.Err() != nil {
			return err
		}
		t := time.NewTimer(time.Duration(attempt+1) * 2 * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
	}
}

func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "40001" || pgErr.Code == "40P01" // serialization_failure, deadlock_detected
	}
	return false
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// querier is what pgxpool.Pool, pgx.Conn and pgx.Tx have in common.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// prefixed returns "p.a, p.b, ..." for a column list "a, b, ...".
func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + "." + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// ts encodes a time for a nullable timestamptz parameter.
func ts(t time.Time) pgtype.Timestamptz {
	if t.IsZero() {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: store.Normalize(t), Valid: true}
}

// codec decodes this dialect's scanned columns.
var codec = sqlcommon.Codec[pgtype.Timestamptz, bool, pgtype.Text]{
	Time: fromTS,
	Bool: func(b bool) bool { return b },
	Str:  func(t pgtype.Text) string { return t.String },
}

// query runs sql and scans each row it returns with scan.
func query[T any](ctx context.Context, q querier, scan func(sqlcommon.Scanner) (T, error), sql string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return sqlcommon.Collect(rows, scan)
}

// fromTS decodes a nullable timestamptz.
func fromTS(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}
