package sqlite

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"sundial/engine/store/storetest"
)

// TestUpgradeFromVersion3: a database from before migration 4, with a
// trigger left acquired, an API schedule and a run, migrates: the trigger is
// waiting and claimable again, and the run history is kept.
func TestUpgradeFromVersion3(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`)
	for _, m := range migrations[:3] {
		exec(m.SQL)
		exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 0)`, m.Version, m.Name)
	}
	due := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	exec(`INSERT INTO triggers (schedule_id, definition, config_hash, state, next_fire_at, node_id, acquired_at, revision, created_at, updated_at)
		VALUES ('a', 'null', 'h', 'acquired', ?, 'n1', ?, 2, 0, 0)`, micros(due), micros(due))
	exec(`INSERT INTO schedules (id, config, revision, created_at, updated_at) VALUES ('api', '{}', 1, 0, 0)`)
	exec(`INSERT INTO runs (id, schedule_id, scheduled_at, started_at, ended_at, node_id, status) VALUES ('a@old', 'a', 1, 1, 2, 'n1', 'succeeded')`)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.CheckUpgradedFromVersion3(t, s, due)
}
