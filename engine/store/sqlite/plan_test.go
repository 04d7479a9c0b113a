package sqlite

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sundial/engine/store"
)

// TestHotPlans checks that the batch statements look each batch item up by
// primary key (or walk the due index), never scan a table or walk a node's
// index once per item: with a few thousand triggers held by one node that
// turns a batch quadratic.
func TestHotPlans(t *testing.T) {
	t.Parallel()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "plan.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var defs []store.TriggerDef
	for i := range 2000 {
		defs = append(defs, store.TriggerDef{ScheduleID: fmt.Sprintf("t%05d", i), ConfigHash: "h", NextFireAt: time.Unix(1000, 0)})
	}
	if _, err := s.UpsertTriggers(t.Context(), store.UpsertTriggersParams{Triggers: defs}); err != nil {
		t.Fatal(err)
	}
	// One node holds every trigger, and runs for all of them are running.
	acq, err := s.AcquireDue(t.Context(), store.AcquireParams{Node: "n", Now: time.Unix(2000, 0), Limit: 2000})
	if err != nil || len(acq) != 2000 {
		t.Fatalf("AcquireDue = %d, %v", len(acq), err)
	}
	var runs []runJSON
	for i := range 2000 {
		runs = append(runs, toRunJSON(store.Run{ID: fmt.Sprintf("r%05d", i), ScheduleID: "r", ScheduledAt: time.Unix(1, 0),
			StartedAt: time.Unix(1, 0), Node: "n", Status: store.RunRunning}))
	}
	if err := s.write(t.Context(), func(tx *sql.Tx) error {
		_, err := insertRuns(t.Context(), tx, runs)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.writer.ExecContext(t.Context(), "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	for name, q := range map[string]string{
		"acquire": acquireSQL, "advance": advanceSQL, "finish": finishSQL, "unblock": unblockSQL, "insertRuns": insertRunsSQL,
		"claimUpdate": claimUpdateSQL,
	} {
		nargs := strings.Count(q, "?")
		if strings.Contains(q, "?1") {
			nargs = 2
		}
		args := make([]any, nargs)
		for i := range args {
			args[i] = "[]"
		}
		rows, err := s.writer.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		for _, step := range plan {
			bad := strings.HasPrefix(step, "SCAN triggers") || strings.HasPrefix(step, "SCAN runs") ||
				strings.Contains(step, "triggers_node") || strings.Contains(step, "runs_running")
			if bad {
				t.Errorf("%s plan walks a table or a node's index:\n  %s", name, strings.Join(plan, "\n  "))
				break
			}
		}
	}
}
