package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"sundial/engine/store"
)

// ExerciseScanRuns runs the task-scan run tests against a backend: put
// (insert and replace), list in start order, read, prune one state's
// oldest, and interrupt one node's unfinished runs.
func ExerciseScanRuns(t *testing.T, s store.Store) {
	runs, err := store.ScanRunsOf(s)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
	put := func(r store.ScanRun) {
		t.Helper()
		if err := runs.PutScanRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range []struct{ id, node, state string }{
		{"c1", "n1", "COMPLETED"}, {"c2", "n2", "COMPLETED"}, {"a1", "n1", "ACTIVE"},
		{"c3", "n1", "COMPLETED"}, {"i1", "n1", "INITIALIZED"}, {"a2", "n2", "ACTIVE"},
	} {
		r := store.ScanRun{ID: c.id, Name: "schedule/s", Node: c.node, State: c.state, Total: -1, Started: t0.Add(time.Duration(i) * time.Second)}
		if c.state == "COMPLETED" {
			r.Ended, r.Processed, r.Successes, r.Total = r.Started.Add(time.Second), 3, 2, 3
			r.Failures = 1
		}
		put(r)
	}
	got, err := runs.ReadScanRun(ctx, "c1")
	if err != nil || got.Processed != 3 || got.Failures != 1 || !got.Started.Equal(t0) || !got.Ended.Equal(t0.Add(time.Second)) || got.Node != "n1" {
		t.Fatalf("read c1: %+v %v", got, err)
	}
	// Replace: progress of a1.
	put(store.ScanRun{ID: "a1", Name: "schedule/s", Node: "n1", State: "ACTIVE", Processed: 7, Successes: 7, Total: 10, Started: t0.Add(2 * time.Second)})
	if err := runs.PruneScanRuns(ctx, store.PruneScanRunsParams{State: "COMPLETED", Keep: 2}); err != nil {
		t.Fatal(err)
	}
	n, err := runs.InterruptScanRuns(ctx, store.InterruptScanRunsParams{Node: "n1", States: []string{"INITIALIZED", "ACTIVE"}, State: "ERROR", At: t0.Add(time.Hour)})
	if err != nil || n != 2 {
		t.Fatalf("interrupt: %d %v, want 2", n, err)
	}
	list, err := runs.ListScanRuns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range list {
		ids = append(ids, r.ID+":"+r.State)
		if r.ID == "a1" && (r.Processed != 7 || r.Total != 10 || !r.Ended.Equal(t0.Add(time.Hour))) {
			t.Errorf("a1: %+v", r)
		}
	}
	if got, want := strings.Join(ids, " "), "c2:COMPLETED a1:ERROR c3:COMPLETED i1:ERROR a2:ACTIVE"; got != want {
		t.Errorf("runs %s, want %s", got, want)
	}
	if _, err := runs.ReadScanRun(ctx, "c1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("pruned c1: %v, want not found", err)
	}
}
