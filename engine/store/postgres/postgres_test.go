package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"sundial/engine/store"
	"sundial/engine/store/postgres"
	"sundial/engine/store/storetest"
	"sundial/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// dsns maps each store the suite opened to its DSN, so WithReopen can open
// another handle (another "node") on the same database.
var dsns sync.Map

func openDSN(t testing.TB, dsn string) store.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	dsns.Store(s, dsn)
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Exercise(t, func(t *testing.T) store.Store {
		return openDSN(t, pgtest.DSN(t))
	}, storetest.WithReopen(func(t *testing.T, s store.Store) store.Store {
		dsn, _ := dsns.Load(s)
		return openDSN(t, dsn.(string))
	}))
}

func TestMigrations(t *testing.T) {
	t.Parallel()
	storetest.ExerciseMigrations(t, func(t *testing.T) storetest.MigrationDB {
		dsn := pgtest.DSN(t)
		return storetest.MigrationDB{
			Open: func(ctx context.Context) (store.Store, error) { return postgres.Open(ctx, dsn) },
			Version: func(t *testing.T) int {
				conn, err := pgx.Connect(t.Context(), dsn)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close(t.Context())
				var v int
				if err := conn.QueryRow(t.Context(), `SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil {
					t.Fatal(err)
				}
				return v
			},
			SetVersion: func(t *testing.T, v int) {
				conn, err := pgx.Connect(t.Context(), dsn)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close(t.Context())
				if _, err := conn.Exec(t.Context(), `INSERT INTO schema_migrations (version, name) VALUES ($1, 'future')`, v); err != nil {
					t.Fatal(err)
				}
			},
			Latest: postgres.LatestSchemaVersion(),
		}
	})
}

func TestOpenViaDSN(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	for _, d := range []string{dsn, strings.Replace(dsn, "postgres://", "postgresql://", 1), dsn + "&pool_max_conns=3"} {
		s, err := store.Open(t.Context(), d)
		if err != nil {
			t.Fatalf("store.Open(%s): %v", d, err)
		}
		if _, ok := s.(*postgres.Store); !ok {
			t.Fatalf("store.Open(%s) = %T, want *postgres.Store", d, s)
		}
		if _, err := s.ListTriggers(t.Context(), store.ListTriggersParams{}); err != nil {
			t.Fatal(err)
		}
		_ = s.Close()
	}
}

func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	// A port nothing listens on.
	s := pgtest.Shared(t)
	dsn := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/x?sslmode=disable&connect_timeout=2", s.Port+1)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := store.Open(ctx, dsn)
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Open(unreachable) = %v, want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("cannot reach postgres at 127.0.0.1:%d/x", s.Port+1)) {
		t.Fatalf("error %q does not say which server could not be reached", err)
	}
	t.Log(err)

	_, err = store.Open(ctx, "postgres://postgres@127.0.0.1:1/x?pool_max_conns=0")
	if !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("Open(pool_max_conns=0) = %v, want ErrInvalid", err)
	}
}

func TestPasswordNotInErrors(t *testing.T) {
	t.Parallel()
	s := pgtest.Shared(t)
	_, err := store.Open(t.Context(), fmt.Sprintf("postgres://postgres:s3cret@127.0.0.1:%d/nope?sslmode=disable", s.Port))
	if err == nil {
		t.Fatal("open of a missing database succeeded")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("error leaks the password: %v", err)
	}
}

// BenchmarkFires: 1, 2 and 3 nodes racing for the same fires, in batches
// of 1, 10 and 100 fires per ClaimFires call.
func BenchmarkFires(b *testing.B) {
	for _, nodes := range []int{1, 2, 3} {
		for _, batch := range []int{1, 10, 100} {
			b.Run(fmt.Sprintf("nodes=%d/batch=%d", nodes, batch), func(b *testing.B) {
				storetest.BenchmarkFires(b, func(b *testing.B, n int) []store.Store {
					dsn := pgtest.DSN(b)
					var hs []store.Store
					for range n {
						hs = append(hs, openDSN(b, dsn))
					}
					return hs
				}, storetest.BenchConfig{Nodes: nodes, Batch: batch})
			})
		}
	}
}

// BenchmarkChangesIdle: Changes with nothing new on a log of 100,000
// entries.
func BenchmarkChangesIdle(b *testing.B) {
	storetest.BenchmarkChangesIdle(b, openDSN(b, pgtest.DSN(b)), 100_000)
}

// BenchmarkPutAPISchedule: REST schedule puts, one at a time.
func BenchmarkPutAPISchedule(b *testing.B) {
	storetest.BenchmarkPutAPISchedule(b, openDSN(b, pgtest.DSN(b)))
}
