package taskscanner_test

import (
	"testing"
	"time"

	"sundial/engine/store"
	"sundial/engine/taskscanner"
)

func withRuns(runs store.ScanRuns, node string, keep int) func(*taskscanner.Options) {
	return func(o *taskscanner.Options) {
		o.Runs, o.Node = runs, node
		o.MaxCompletedRuns = func() int { return keep }
	}
}

// TestRunsStored: a scan's run and its progress are stored, so another
// scanner on the store (a restarted node, or another node) lists and
// reads it; the newest MaxCompletedRuns completed ones are kept.
func TestRunsStored(t *testing.T) {
	objs, matching := newUsers(t, 20, 2)
	runs := objs.(store.ScanRuns)
	a := newScanner(objs, withRuns(runs, "n1", 2))
	defer a.Close()
	b := newScanner(objs, withRuns(runs, "n2", 2))
	defer b.Close()
	first := execute(t, a, sunsetContext(sunsetScript))
	st, err := b.Run(first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Node != "n1" || st.Progress.State != taskscanner.StateCompleted || st.Progress.Total != int64(len(matching)) ||
		st.Progress.Successes != int64(len(matching)) || st.Ended.IsZero() {
		t.Errorf("stored run %+v, want n1's, COMPLETED, %d successes", st, len(matching))
	}
	ids := []string{first.ID}
	for range 2 {
		ids = append(ids, execute(t, a, sunsetContext(sunsetScript)).ID)
	}
	list := b.Runs()
	if len(list) != 2 || list[0].ID != ids[1] || list[1].ID != ids[2] {
		t.Fatalf("runs listed by another scanner: %+v, want %v", list, ids[1:])
	}
	if st, err := b.Run(ids[0]); err == nil {
		t.Errorf("the oldest completed run is still stored: %+v", st)
	}
	if ok, err := b.Cancel(ids[2]); ok || err != nil {
		t.Errorf("cancel of a completed stored run: %v %v, want false", ok, err)
	}
}

// TestUnfinishedRunOfADeadNode: a run a node left ACTIVE (it was killed)
// is listed as stored, ACTIVE with that node, and cannot be cancelled
// from elsewhere; when that node's scanner starts again it marks the run
// ERROR, ended then.
func TestUnfinishedRunOfADeadNode(t *testing.T) {
	objs, _ := newUsers(t, 1, 1)
	runs := objs.(store.ScanRuns)
	started := time.Now().Add(-time.Minute).UTC().Truncate(time.Millisecond)
	if err := runs.PutScanRun(t.Context(), store.ScanRun{ID: "left", Name: "schedule/s", Node: "dead", State: taskscanner.StateActive,
		Processed: 5, Successes: 5, Total: 10, Started: started}); err != nil {
		t.Fatal(err)
	}
	other := newScanner(objs, withRuns(runs, "alive", 100))
	defer other.Close()
	st, err := other.Run("left")
	if err != nil || st.Node != "dead" || st.Progress.State != taskscanner.StateActive || st.Progress.Processed != 5 {
		t.Fatalf("run left by a dead node: %+v %v, want ACTIVE on node dead", st, err)
	}
	if _, err := other.Cancel("left"); err == nil {
		t.Error("another node cancelled the dead node's run")
	}
	restarted := newScanner(objs, withRuns(runs, "dead", 100))
	defer restarted.Close()
	st, err = restarted.Run("left")
	if err != nil || st.Progress.State != taskscanner.StateError || st.Ended.IsZero() {
		t.Fatalf("after its node restarted: %+v %v, want ERROR, ended", st, err)
	}
}
