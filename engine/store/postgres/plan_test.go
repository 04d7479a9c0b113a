package postgres

import (
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
// primary key (or walk the due index), never walk a node's index once per
// item, even with statistics that make that index look selective.
func TestHotPlans(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var defs []store.TriggerDef
	for i := range 20000 {
		defs = append(defs, store.TriggerDef{ScheduleID: fmt.Sprintf("t%05d", i), ConfigHash: "h", NextFireAt: time.Unix(1000, 0)})
	}
	if _, err := s.UpsertTriggers(t.Context(), store.UpsertTriggersParams{Triggers: defs}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AcquireDue(t.Context(), store.AcquireParams{Node: "n", Now: time.Unix(2000, 0), Limit: 100}); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var runs []store.Run
	for i := range 20000 {
		runs = append(runs, store.Run{ID: fmt.Sprintf("r%05d", i), ScheduleID: "r", ScheduledAt: time.Unix(int64(i), 0),
			StartedAt: time.Unix(int64(i), 0), Node: "n", Status: store.RunRunning})
	}
	if _, err := insertRuns(t.Context(), conn, runs); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(t.Context(), "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	ids, revs, tss, strs, bools := []string{"t00001"}, []int64{1}, []pgtype.Timestamptz{{}}, []string{"x"}, []bool{false}
	now := time.Unix(2000, 0)
	for name, c := range map[string]struct {
		q    string
		args []any
	}{
		"acquire": {acquireSQL, []any{"n", now, now, 100}},
		"advance": {advanceSQL, []any{"n", ids, revs, tss, tss, strs, []time.Time{now}}},
		"release": {releaseSQL, []any{"n", now, ids, revs, bools, tss}},
		"finish":  {finishSQL, []any{"n", ids, strs, []time.Time{now}, strs}},
	} {
		rows, err := conn.Query(t.Context(), "EXPLAIN "+c.q, c.args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, line)
		}
		rows.Close()
		text := strings.Join(plan, "\n  ")
		if strings.Contains(text, "Seq Scan on triggers") || strings.Contains(text, "Seq Scan on runs") ||
			strings.Contains(text, "triggers_node") || strings.Contains(text, "runs_running") {
			t.Errorf("%s plan walks a table or a node's index:\n  %s", name, text)
		}
	}
}
