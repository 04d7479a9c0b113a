package postgres

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"sundial/engine/store/storetest"
	"sundial/internal/pgtest"
)

// TestUpgradeFromVersion3: a database from before migration 4, with a
// trigger left acquired, an API schedule and a run, migrates: the trigger is
// waiting and claimable again, and the run history is kept.
func TestUpgradeFromVersion3(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := conn.Exec(t.Context(), q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`CREATE TABLE schema_migrations (version integer NOT NULL PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`)
	for _, m := range migrations[:3] {
		exec(m.SQL)
		exec(`INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
	}
	due := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	exec(`INSERT INTO triggers (schedule_id, definition, config_hash, state, next_fire_at, node_id, acquired_at, revision, created_at, updated_at)
		VALUES ('a', 'null', 'h', 'acquired', $1, 'n1', $1, 2, now(), now())`, due)
	exec(`INSERT INTO schedules (id, config, revision, created_at, updated_at) VALUES ('api', '{}', 1, now(), now())`)
	exec(`INSERT INTO runs (id, schedule_id, scheduled_at, started_at, ended_at, node_id, status)
		VALUES ('a@old', 'a', now(), now(), now(), 'n1', 'succeeded')`)
	_ = conn.Close(t.Context())

	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.CheckUpgradedFromVersion3(t, s, due)
}
