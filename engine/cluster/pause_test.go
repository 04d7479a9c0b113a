package cluster_test

import (
	"context"
	"testing"
	"time"

	"sundial/engine/store"
)

// TestClaimedFirePausedBeforeItRuns: a fire claimed while the node's one
// worker was free, waiting behind a run that holds the worker, does not run
// once its schedule is paused: its claimed run is recorded skipped (reason
// paused), its only record.
func TestClaimedFirePausedBeforeItRuns(t *testing.T) {
	t.Parallel()
	tdb := newSQLite(t)
	f := newFires(0)
	hold := make(chan struct{})
	f.hold = map[string]chan struct{}{"one-00000": hold, "one-00001": hold}
	d := oneShots(2, 1, time.Now().Add(-time.Second))
	n := startNode(t, nodeConfig{id: "n1", db: tdb.open(t), services: noop(f)}, d)
	waitFor(t, 5*time.Second, "both fires claimed", func() bool {
		return countRuns(t, tdb)[store.RunRunning] == 2
	})
	ex := n.sched.Executing()
	if len(ex) != 1 {
		t.Fatalf("executing %+v, want one run", ex)
	}
	waiting := "one-00000"
	if ex[0].ScheduleID == waiting {
		waiting = "one-00001"
	}
	if err := n.sched.Pause(context.Background(), waiting); err != nil {
		t.Fatal(err)
	}
	close(hold)
	if err := n.sched.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	n.p.Stop()
	if got := f.total.Load(); got != 1 {
		t.Fatalf("%d runs, want 1 (the paused schedule's fire ran)", got)
	}
	var rows []store.Run
	for _, r := range tdb.runs(t) {
		if r.ScheduleID == waiting {
			rows = append(rows, r)
		}
	}
	if len(rows) != 1 || rows[0].Status != store.RunSkipped || rows[0].Error != "paused" {
		t.Fatalf("records of %s = %+v, want one skipped (paused)", waiting, rows)
	}
}
