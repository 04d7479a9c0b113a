package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"sundial/engine/store"
)

// MigrationDB is one fresh, empty database for ExerciseMigrations.
type MigrationDB struct {
	// Open opens a handle on the database, applying migrations; every call
	// opens the same database.
	Open func(ctx context.Context) (store.Store, error)
	// Version reads the newest version recorded in schema_migrations,
	// behind the store's back.
	Version func(t *testing.T) int
	// SetVersion records version as applied in schema_migrations, behind the
	// store's back, as a newer Sundial would have.
	SetVersion func(t *testing.T, version int)
	// Latest is the newest migration the backend embeds.
	Latest int
}

// ExerciseMigrations checks a backend's migrations: a fresh database gets
// every one, reopening applies nothing and keeps the data, concurrent first
// opens are safe, and a database from a newer Sundial is refused with a clear
// error. newDB returns a fresh database each call.
func ExerciseMigrations(t *testing.T, newDB func(t *testing.T) MigrationDB) {
	open := func(t *testing.T, db MigrationDB) store.Store {
		t.Helper()
		s, err := db.Open(t.Context())
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}

	t.Run("FreshThenReopen", func(t *testing.T) {
		t.Parallel()
		db := newDB(t)
		s := open(t, db)
		wantEq(t, "fresh version", db.Version(t), db.Latest)
		kept := store.TriggerDef{ScheduleID: "kept", Definition: json.RawMessage(`{"a":1}`), ConfigHash: "h", NextFireAt: t0}
		if _, err := s.UpsertTriggers(t.Context(), store.UpsertTriggersParams{Triggers: []store.TriggerDef{kept}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}

		s2 := open(t, db)
		wantEq(t, "reopened version", db.Version(t), db.Latest)
		ts, err := s2.ListTriggers(t.Context(), store.ListTriggersParams{})
		if err != nil || len(ts) != 1 {
			t.Fatalf("data after reopen: %v, %v", ts, err)
		}
		wantEq(t, "definition after reopen", string(ts[0].Definition), `{"a":1}`)
	})

	t.Run("ConcurrentFirstOpen", func(t *testing.T) {
		t.Parallel()
		db := newDB(t)
		const n = 4
		stores := make([]store.Store, n)
		parallel(t, n, func(i int) error {
			s, err := db.Open(t.Context())
			stores[i] = s
			return err
		})
		for _, s := range stores {
			_ = s.Close()
		}
		wantEq(t, "version", db.Version(t), db.Latest)
	})

	t.Run("NewerVersionRefused", func(t *testing.T) {
		t.Parallel()
		db := newDB(t)
		_ = open(t, db).Close()
		future := db.Latest + 4
		db.SetVersion(t, future)
		s, err := db.Open(t.Context())
		if err == nil {
			_ = s.Close()
			t.Fatal("open of a database from a newer sundial succeeded, want an error")
		}
		if !errors.Is(err, store.ErrSchemaTooNew) {
			t.Fatalf("error %v, want ErrSchemaTooNew", err)
		}
		var sve *store.SchemaVersionError
		if !errors.As(err, &sve) || sve.Database != future || sve.Supported != db.Latest {
			t.Fatalf("error %v, want a *SchemaVersionError{%d, %d}", err, future, db.Latest)
		}
		want := fmt.Sprintf("database schema version %d is newer than this sundial supports (%d); upgrade sundial", future, db.Latest)
		if got := sve.Error(); got != want {
			t.Fatalf("message %q, want %q", got, want)
		}
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not carry %q", err, want)
		}
	})
}

// CheckUpgradedFromVersion3 checks a store opened on a database made at
// migration 3 holding a trigger "a" (config hash "h") left acquired by node
// n1 for due, and one finished run of it: after the upgrade the trigger is
// waiting, another node claims its fire at due, and the old run is kept
// beside the new one.
func CheckUpgradedFromVersion3(t *testing.T, s store.Store, due time.Time) {
	t.Helper()
	ts, err := s.ListTriggers(t.Context(), store.ListTriggersParams{})
	if err != nil || len(ts) != 1 || ts[0].State != store.TriggerWaiting {
		t.Fatalf("triggers after the upgrade = %+v, %v; want a waiting", ts, err)
	}
	res, err := s.ClaimFires(t.Context(), store.ClaimFiresParams{Node: "n2", Fires: []store.ClaimFire{{ScheduleID: "a", ConfigHash: "h", ScheduledAt: due}}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("claim after the upgrade: %v, %+v", err, res)
	}
	rs, err := s.ListRuns(t.Context(), store.ListRunsParams{})
	if err != nil || len(rs) != 2 {
		t.Fatalf("runs after the upgrade = %+v, %v; want the old run and the new one", rs, err)
	}
}
