package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"sundial/engine/store"
)

func TestParseDSN(t *testing.T) {
	for _, tc := range []struct {
		dsn, backend, target string
	}{
		{"", store.BackendSQLite, store.DefaultSQLitePath},
		{"var/x.db", store.BackendSQLite, "var/x.db"},
		{"/abs/x.db", store.BackendSQLite, "/abs/x.db"},
		{"sqlite:var/x.db", store.BackendSQLite, "var/x.db"},
		{"sqlite:///abs/x.db", store.BackendSQLite, "/abs/x.db"},
		{"sqlite:", store.BackendSQLite, store.DefaultSQLitePath},
		{"postgres://u:p@h:5432/db?sslmode=disable", store.BackendPostgres, "postgres://u:p@h:5432/db?sslmode=disable"},
		{"postgresql://h/db", store.BackendPostgres, "postgresql://h/db"},
	} {
		backend, target, err := store.ParseDSN(tc.dsn)
		if err != nil || backend != tc.backend || target != tc.target {
			t.Errorf("ParseDSN(%q) = %q, %q, %v; want %q, %q", tc.dsn, backend, target, err, tc.backend, tc.target)
		}
	}
	_, _, err := store.ParseDSN("mysql://h/db")
	if !errors.Is(err, store.ErrUnknownBackend) || !strings.Contains(err.Error(), `"mysql"`) {
		t.Errorf("ParseDSN(mysql://) error = %v, want ErrUnknownBackend naming mysql", err)
	}
}

func TestOpenUnregistered(t *testing.T) {
	// This package's tests link no backend.
	_, err := store.Open(t.Context(), "postgres://h/db")
	if !errors.Is(err, store.ErrUnknownBackend) || !strings.Contains(err.Error(), "import sundial/engine/store/postgres") {
		t.Fatalf("Open without the backend linked = %v, want ErrUnknownBackend with an import hint", err)
	}
}

func TestFireID(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{at, "s@2030-01-02T02:04:05Z"},
		{at.Add(1500 * time.Millisecond), "s@2030-01-02T02:04:06.5Z"},
		{at.Add(1234567), "s@2030-01-02T02:04:05.001234Z"}, // truncated to µs
	} {
		if got := store.FireID("s", tc.t); got != tc.want {
			t.Errorf("FireID(%s) = %s, want %s", tc.t, got, tc.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	if !store.Normalize(time.Time{}).IsZero() {
		t.Error("Normalize(zero) is not zero")
	}
	in := time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.FixedZone("x", -7200))
	got := store.Normalize(in)
	if got.Location() != time.UTC || got.Nanosecond() != 123456000 || !got.Equal(in.Truncate(time.Microsecond)) {
		t.Errorf("Normalize(%s) = %s", in, got)
	}
	if store.NowOr(time.Time{}).IsZero() {
		t.Error("NowOr(zero) is zero")
	}
}

func TestSchemaVersionError(t *testing.T) {
	var err error = &store.SchemaVersionError{Database: 7, Supported: 3}
	if got, want := err.Error(), "database schema version 7 is newer than this sundial supports (3); upgrade sundial"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, store.ErrSchemaTooNew) {
		t.Error("not ErrSchemaTooNew")
	}
}

func TestRunStatusTerminal(t *testing.T) {
	for s, want := range map[store.RunStatus]bool{
		store.RunRunning: false, store.RunSucceeded: true, store.RunFailed: true,
		store.RunSkipped: true, store.RunAbandoned: true, "bogus": false,
	} {
		if s.Terminal() != want {
			t.Errorf("%s.Terminal() = %v", s, !want)
		}
	}
}
