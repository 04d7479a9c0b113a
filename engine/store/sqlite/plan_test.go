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
// primary key, never scan a table or walk a node's index once per item
// (with a few thousand runs of one node that turns a batch quadratic), and
// that the retention statements walk their index in order, without a table
// scan or a sort.
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
	// One node runs 2000 runs.
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
		"finish": finishSQL, "unblock": unblockSQL, "insertRuns": insertRunsSQL, "claimUpdate": claimUpdateSQL,
		"pruneAged": pruneAgedSQL, "pruneBeyond": pruneBeyondSQL,
	} {
		nargs := strings.Count(q, "?")
		if strings.Contains(q, "?1") {
			nargs = 2
		}
		args := make([]any, nargs)
		for i := range args {
			args[i] = "[]"
		}
		if strings.HasPrefix(name, "prune") {
			args = []any{1, 100}
		}
		plan := queryPlan(t, s.writer, q, args...)
		t.Logf("%s:\n  %s", name, strings.Join(plan, "\n  "))
		for _, step := range plan {
			scan := strings.HasPrefix(step, "SCAN triggers") || strings.HasPrefix(step, "SCAN runs")
			inOrder := strings.Contains(step, "USING INDEX runs_finished") || strings.Contains(step, "USING INDEX runs_ended") ||
				strings.Contains(step, "USING COVERING INDEX runs_finished")
			bad := scan && !inOrder || strings.Contains(step, "runs_running") || strings.Contains(step, "TEMP B-TREE")
			if bad {
				t.Errorf("%s plan walks a table or a node's index:\n  %s", name, strings.Join(plan, "\n  "))
				break
			}
		}
	}
}

// TestChangesPlan: reading the change log after a seq searches the
// primary key; it never scans the log.
func TestChangesPlan(t *testing.T) {
	t.Parallel()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "plan.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	plan := queryPlan(t, s.writer, changesAfterSQL, 5, 10)
	if len(plan) != 1 || !strings.Contains(plan[0], "SEARCH changes USING INTEGER PRIMARY KEY") {
		t.Fatalf("plan %q, want a search of the primary key", plan)
	}
}

// queryPlan returns the detail column of EXPLAIN QUERY PLAN for q, one
// step a line.
func queryPlan(t *testing.T, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatalf("explain %q: %v", q, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}
