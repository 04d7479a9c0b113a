package storetest

import (
	"errors"
	"strings"
	"testing"

	"sundial/engine/store"
)

func init() {
	register("JobInstancesRoundTrip", testJobInstancesRoundTrip)
	register("JobInstancesInterrupt", testJobInstancesInterrupt)
}

func jobStore(t *testing.T, b *bundle) store.JobInstances {
	t.Helper()
	js, err := store.JobInstancesOf(b.s)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// testJobInstancesRoundTrip: instances get ascending ids, a save keeps a
// cancel request, lists select by job and state, task logs are bounded.
func testJobInstancesRoundTrip(t *testing.T, b *bundle) {
	js := jobStore(t, b)
	a, err := js.CreateJobInstance(b.ctx, store.JobInstance{JobID: "a", State: store.JobRunning, Node: "n1", Started: t0,
		TotalGroups: 2, Options: []byte(`{"task":"x"}`), Definition: []byte(`{"id":"a"}`)})
	if err != nil {
		t.Fatal(err)
	}
	other, err := js.CreateJobInstance(b.ctx, store.JobInstance{JobID: "b", State: store.JobRunning, Node: "n1", Started: t0, Options: []byte(`{}`), Definition: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID <= 0 || other.ID <= a.ID {
		t.Fatalf("ids %d then %d, want positive and ascending", a.ID, other.ID)
	}
	if _, err := js.RequestJobCancel(b.ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	a.CurrentGroup, a.State, a.Ended, a.Message = 2, store.JobCompleted, at(5), "done"
	if err := js.SaveJobInstance(b.ctx, a); err != nil {
		t.Fatal(err)
	}
	got, err := js.ReadJobInstance(b.ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.CancelRequested || got.State != store.JobCompleted || got.CurrentGroup != 2 || !got.Ended.Equal(at(5)) ||
		string(got.Options) != `{"task":"x"}` || string(got.Definition) != `{"id":"a"}` || got.Message != "done" {
		t.Errorf("read back %+v", got)
	}
	list, err := js.ListJobInstances(b.ctx, store.ListJobInstancesParams{JobID: "a"})
	if err != nil || len(list) != 1 || list[0].ID != a.ID {
		t.Errorf("list of job a: %+v, %v", list, err)
	}
	list, err = js.ListJobInstances(b.ctx, store.ListJobInstancesParams{State: store.JobRunning})
	if err != nil || len(list) != 1 || list[0].ID != other.ID {
		t.Errorf("list of running: %+v, %v", list, err)
	}
	list, err = js.ListJobInstances(b.ctx, store.ListJobInstancesParams{})
	if err != nil || len(list) != 2 || list[0].ID != other.ID {
		t.Errorf("list of all (newest first): %+v, %v", list, err)
	}
	if _, err := js.ReadJobInstance(b.ctx, other.ID+100); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("read of a missing instance: %v, want ErrNotFound", err)
	}
	if err := js.SaveJobInstance(b.ctx, store.JobInstance{ID: other.ID + 100}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("save of a missing instance: %v, want ErrNotFound", err)
	}

	log := make([]string, store.MaxTaskLogLines+10)
	for i := range log {
		log[i] = strings.Repeat("x", i%7)
	}
	log[len(log)-1] = "last"
	ti, err := js.CreateTaskInstance(b.ctx, store.TaskInstance{JobInstanceID: a.ID, TaskID: "t1", Type: "synchronize", State: store.JobRunning, Group: 1, Node: "n1", Started: at(1)})
	if err != nil {
		t.Fatal(err)
	}
	ti.State, ti.ReconID, ti.Log = store.JobBlocked, "r-1", log
	ti.Counters = store.TaskCounters{Created: 1, Deleted: 7, TargetTotal: 10}
	if err := js.SaveTaskInstance(b.ctx, ti); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateTaskInstance(b.ctx, store.TaskInstance{JobInstanceID: a.ID, TaskID: "t1#validation", Validation: true, ResumeOf: ti.ID, State: store.JobCompleted}); err != nil {
		t.Fatal(err)
	}
	tis, err := js.ListTaskInstances(b.ctx, a.ID)
	if err != nil || len(tis) != 2 {
		t.Fatalf("task instances: %+v, %v", tis, err)
	}
	first := tis[0]
	if first.ID != ti.ID || first.State != store.JobBlocked || first.ReconID != "r-1" || first.Counters.Deleted != 7 ||
		len(first.Log) != store.MaxTaskLogLines || first.Log[len(first.Log)-1] != "last" {
		t.Errorf("task instance read back: %+v (log %d lines)", first, len(first.Log))
	}
	if !tis[1].Validation || tis[1].ResumeOf != ti.ID {
		t.Errorf("validation instance: %+v", tis[1])
	}
	if one, err := js.ReadTaskInstance(b.ctx, ti.ID); err != nil || one.TaskID != "t1" {
		t.Errorf("read task instance: %+v, %v", one, err)
	}
	if _, err := js.ReadTaskInstance(b.ctx, ti.ID+100); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("read of a missing task instance: %v, want ErrNotFound", err)
	}
}

// testJobInstancesInterrupt: only the node's running instances change, and
// each says where it stopped.
func testJobInstancesInterrupt(t *testing.T, b *bundle) {
	js := jobStore(t, b)
	mk := func(node, state string) store.JobInstance {
		ji, err := js.CreateJobInstance(b.ctx, store.JobInstance{JobID: "j", State: state, Node: node, Started: t0, CurrentGroup: 2, TotalGroups: 3, Options: []byte(`{}`), Definition: []byte(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		return ji
	}
	mid, idle, done, elsewhere := mk("n1", store.JobRunning), mk("n1", store.JobRunning), mk("n1", store.JobCompleted), mk("n2", store.JobRunning)
	for _, task := range []struct {
		id, state string
	}{{"Export", store.JobCompleted}, {"Sync", store.JobRunning}} {
		if _, err := js.CreateTaskInstance(b.ctx, store.TaskInstance{JobInstanceID: mid.ID, TaskID: task.id, State: task.state}); err != nil {
			t.Fatal(err)
		}
	}
	changed, err := js.InterruptJobInstances(b.ctx, store.InterruptJobInstancesParams{Node: "n1", Now: at(9)})
	if err != nil {
		t.Fatal(err)
	}
	if len(changed) != 2 || changed[0].ID != mid.ID || changed[1].ID != idle.ID {
		t.Fatalf("changed %+v, want instances %d and %d", changed, mid.ID, idle.ID)
	}
	got, _ := js.ReadJobInstance(b.ctx, mid.ID)
	if got.State != store.JobInterrupted || got.StoppedAt != "Sync" || !strings.Contains(got.Message, "while running Sync") || !got.Ended.Equal(at(9)) {
		t.Errorf("interrupted mid-task: %+v", got)
	}
	got, _ = js.ReadJobInstance(b.ctx, idle.ID)
	if got.State != store.JobInterrupted || !strings.Contains(got.Message, "after launch group 2 of 3") {
		t.Errorf("interrupted between groups: %+v", got)
	}
	tis, _ := js.ListTaskInstances(b.ctx, mid.ID)
	if len(tis) != 2 || tis[0].State != store.JobCompleted || tis[1].State != store.JobInterrupted {
		t.Errorf("task instances after the interrupt: %+v", tis)
	}
	for _, id := range []int64{done.ID, elsewhere.ID} {
		if got, _ := js.ReadJobInstance(b.ctx, id); got.State == store.JobInterrupted {
			t.Errorf("instance %d of another node or finished was interrupted", id)
		}
	}
}
