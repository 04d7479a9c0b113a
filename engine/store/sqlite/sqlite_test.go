package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"sundial/engine/store"
	"sundial/engine/store/sqlite"
	"sundial/engine/store/storetest"
)

// paths maps each store the suite opened to its file, so WithReopen can open
// another handle on it.
var paths sync.Map

func newStore(t *testing.T) store.Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sundial.db")
	return openPath(t, path)
}

func openPath(t testing.TB, path string) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	paths.Store(s, path)
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Exercise(t, newStore, storetest.WithReopen(func(t *testing.T, s store.Store) store.Store {
		path, _ := paths.Load(s)
		return openPath(t, path.(string))
	}))
}

func TestMigrations(t *testing.T) {
	t.Parallel()
	storetest.ExerciseMigrations(t, func(t *testing.T) storetest.MigrationDB {
		path := filepath.Join(t.TempDir(), "sub", "dir", "sundial.db") // Open creates the directories
		return storetest.MigrationDB{
			Open: func(ctx context.Context) (store.Store, error) { return sqlite.Open(ctx, path) },
			Version: func(t *testing.T) int {
				db, err := sql.Open("sqlite", path)
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				var v int
				if err := db.QueryRow(`SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil {
					t.Fatal(err)
				}
				return v
			},
			SetVersion: func(t *testing.T, v int) {
				db, err := sql.Open("sqlite", path)
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', 0)`, v); err != nil {
					t.Fatal(err)
				}
			},
			Latest: sqlite.LatestSchemaVersion(),
		}
	})
}

func TestOpenViaDSN(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, dsn := range []string{filepath.Join(dir, "a.db"), "sqlite:" + filepath.Join(dir, "b.db"), "sqlite://" + filepath.Join(dir, "c.db")} {
		s, err := store.Open(t.Context(), dsn)
		if err != nil {
			t.Fatalf("store.Open(%q): %v", dsn, err)
		}
		if _, ok := s.(*sqlite.Store); !ok {
			t.Fatalf("store.Open(%q) = %T, want *sqlite.Store", dsn, s)
		}
		if _, err := s.ListTriggers(t.Context(), store.ListTriggersParams{}); err != nil {
			t.Fatal(err)
		}
		_ = s.Close()
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	_, err := sqlite.Open(t.Context(), ":memory:")
	if err == nil {
		t.Fatal("Open(:memory:) succeeded, want an error")
	}
	// A directory where the file should be.
	_, err = sqlite.Open(t.Context(), t.TempDir())
	if err == nil {
		t.Fatal("Open(a directory) succeeded, want an error")
	}
	t.Log(err)
}

// BenchmarkFires: one node, batches of 1, 10, 100 and 500 fires per
// ClaimFires call.
func BenchmarkFires(b *testing.B) {
	for _, batch := range []int{1, 10, 100, 500} {
		b.Run(fmt.Sprintf("nodes=1/batch=%d", batch), func(b *testing.B) {
			storetest.BenchmarkFires(b, func(b *testing.B, n int) []store.Store {
				path := filepath.Join(b.TempDir(), "bench.db")
				var hs []store.Store
				for range n {
					hs = append(hs, openPath(b, path))
				}
				return hs
			}, storetest.BenchConfig{Nodes: 1, Batch: batch})
		})
	}
}

// TestWriteHonoursContextWhileLocked: while another process holds the
// database lock (BEGIN EXCLUSIVE on a second connection), a write whose
// context ends gives up at once instead of waiting out busy_timeout, and so
// do the writes queued behind it for the writer connection.
func TestWriteHonoursContextWhileLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sundial.db")
	s := openPath(t, path)
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(context.Background(), "ROLLBACK") //nolint:errcheck

	for _, n := range []int{1, 3} { // one write alone, and writes queued behind one
		// A deadline, so that the writes reach the writer before it ends.
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		errs := make(chan error, n)
		for i := range n {
			go func() {
				_, err := s.DeleteTriggers(ctx, store.DeleteTriggersParams{ScheduleIDs: []string{fmt.Sprint("x", i)}})
				errs <- err
			}()
		}
		limit := time.After(3 * time.Second) // busy_timeout is 10 s
		for range n {
			select {
			case err := <-errs:
				if err == nil {
					t.Fatal("write succeeded while the database was locked")
				}
			case <-limit:
				t.Fatalf("%d write(s) still waiting for the lock after their context ended", n)
			}
		}
	}
}

// BenchmarkChangesIdle: Changes with nothing new on a log of 100,000
// entries.
func BenchmarkChangesIdle(b *testing.B) {
	storetest.BenchmarkChangesIdle(b, openPath(b, filepath.Join(b.TempDir(), "bench.db")), 100_000)
}

// BenchmarkPutAPISchedule: REST schedule puts, one at a time.
func BenchmarkPutAPISchedule(b *testing.B) {
	storetest.BenchmarkPutAPISchedule(b, openPath(b, filepath.Join(b.TempDir(), "bench.db")))
}
