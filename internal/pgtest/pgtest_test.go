package pgtest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"sundial/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestFindBin(t *testing.T) {
	bin, err := pgtest.FindBin()
	if err != nil {
		skipUnlessRequired(t, err)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	if os.Getenv("SUNDIAL_PG_BIN") == "" && len(dirs) > 0 && !strings.HasPrefix(bin, "/usr/lib/postgresql/") {
		t.Fatalf("FindBin() = %s, want one of %v", bin, dirs)
	}
}

// skipUnlessRequired skips the test when PostgreSQL is missing, or fails it
// when SUNDIAL_REQUIRE_POSTGRES=1.
func skipUnlessRequired(t *testing.T, err error) {
	t.Helper()
	if os.Getenv(pgtest.RequireEnv) == "1" {
		t.Fatal(err)
	}
	t.Skip(err)
}

// TestFreshDatabases: each DSN names its own empty database on the one
// server.
func TestFreshDatabases(t *testing.T) {
	a, b := pgtest.DSN(t), pgtest.DSN(t)
	if a == b {
		t.Fatalf("two DSNs are the same: %s", a)
	}
	if !strings.HasPrefix(a, "postgres://") || !strings.Contains(a, "127.0.0.1:") {
		t.Fatalf("DSN %s: want postgres://...@127.0.0.1:port/...", a)
	}
	ca, err := pgx.Connect(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close(t.Context())
	if _, err := ca.Exec(t.Context(), "CREATE TABLE x (id int)"); err != nil {
		t.Fatal(err)
	}
	cb, err := pgx.Connect(t.Context(), b)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close(t.Context())
	var n int
	if err := cb.QueryRow(t.Context(), "SELECT count(*) FROM pg_tables WHERE tablename = 'x'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatal("a table created in one test database shows in another")
	}
	s := pgtest.Shared(t)
	if _, err := os.Stat(filepath.Join(s.Dir, "data", "PG_VERSION")); err != nil {
		t.Fatalf("data directory: %v", err)
	}
	var fsync string
	if err := ca.QueryRow(t.Context(), "SHOW fsync").Scan(&fsync); err != nil || fsync != "off" {
		t.Fatalf("fsync = %q (%v), want off", fsync, err)
	}
}

func TestStartStop(t *testing.T) {
	bin, err := pgtest.FindBin()
	if err != nil {
		skipUnlessRequired(t, err)
	}
	s, err := pgtest.Start(t.Context(), bin)
	if err != nil {
		t.Fatal(err)
	}
	dsn, err := s.CreateDatabase(t.Context(), "startstop")
	if err != nil {
		t.Fatal(err)
	}
	c, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close(t.Context())
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Fatalf("%s still exists after Stop (%v)", s.Dir, err)
	}
	if _, err := pgx.Connect(t.Context(), dsn); err == nil {
		t.Fatal("connected after Stop")
	}
}
