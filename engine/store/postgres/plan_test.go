package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"sundial/engine/store"
	"sundial/internal/pgtest"
)

// TestHotPlans checks that the batch statements look each batch item up by
// primary key, never walk a node's index once per item, even with
// statistics that make that index look selective, and that the retention
// statements walk their index in order, without a table scan or a sort.
func TestHotPlans(t *testing.T) {
	t.Parallel()
	s, conn := storeAndConn(t)
	var defs []store.TriggerDef
	for i := range 20000 {
		defs = append(defs, store.TriggerDef{ScheduleID: fmt.Sprintf("t%05d", i), ConfigHash: "h", NextFireAt: time.Unix(1000, 0)})
	}
	if _, err := s.UpsertTriggers(t.Context(), store.UpsertTriggersParams{Triggers: defs}); err != nil {
		t.Fatal(err)
	}
	// One node runs 20000 runs; 20000 more are finished, 100 per schedule.
	if _, err := conn.Exec(t.Context(), `INSERT INTO runs (id, schedule_id, scheduled_at, started_at, ended_at, node_id, status)
		SELECT 'r' || i, 's' || (i % 200), to_timestamp(i), to_timestamp(i),
			CASE WHEN i % 2 = 0 THEN to_timestamp(i + 1) END, 'n', CASE WHEN i % 2 = 0 THEN 'succeeded' ELSE 'running' END
		FROM generate_series(1, 40000) AS i`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(t.Context(), "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	ids, tss, strs, ints := []string{"t00001"}, []pgtype.Timestamptz{{}}, []string{"x"}, []int64{1}
	now := time.Unix(2000, 0)
	for name, c := range map[string]struct {
		q    string
		args []any
	}{
		"finish":      {finishSQL, []any{"n", ids, strs, []time.Time{now}, strs}},
		"claimUpdate": {claimUpdateSQL, []any{ids, strs, tss, tss, ints, strs, strs, ints, []time.Time{now}}},
		"pruneAged":   {pruneAgedSQL, []any{now, 100}},
		"pruneBeyond": {pruneBeyondSQL, []any{100, 100}},
	} {
		text := explain(t, conn, name, c.q, c.args...)
		t.Logf("%s:\n  %s", name, text)
		if strings.Contains(text, "Seq Scan on triggers") || strings.Contains(text, "Seq Scan on runs") ||
			strings.Contains(text, "runs_running") || strings.Contains(text, "Sort") {
			t.Errorf("%s plan walks a table or a node's index, or sorts:\n  %s", name, text)
		}
	}
}

// storeAndConn opens a store on a fresh database, and a connection of the
// test's own to it, both closed at the test's end.
func storeAndConn(t *testing.T) (*Store, *pgx.Conn) {
	t.Helper()
	dsn := pgtest.DSN(t)
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return s, conn
}

// explain is the plan of q, its lines joined.
func explain(t *testing.T, conn *pgx.Conn, name, q string, args ...any) string {
	t.Helper()
	rows, err := conn.Query(t.Context(), "EXPLAIN "+q, args...)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return strings.Join(plan, "\n  ")
}
