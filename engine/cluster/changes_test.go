package cluster_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"sundial/engine/clock"
	"sundial/engine/config"
	"sundial/engine/scheduler"
	"sundial/engine/store"
)

// applyPauses is what a daemon does with the change log: it reads back the
// triggers whose paused flag changed and applies their flag.
func applyPauses(t *testing.T, db store.Store, calls *atomic.Int64) func(ctx context.Context, s *scheduler.Scheduler, changes []store.Change) {
	return func(ctx context.Context, s *scheduler.Scheduler, changes []store.Change) {
		calls.Add(1)
		var ids []string
		for _, c := range changes {
			if c.Kind == store.ChangePause {
				ids = append(ids, c.ID)
			}
		}
		if len(ids) == 0 {
			return
		}
		ts, err := db.ListTriggers(ctx, store.ListTriggersParams{ScheduleIDs: ids})
		if err != nil {
			t.Errorf("read back paused triggers: %v", err)
			return
		}
		for _, tr := range ts {
			s.ApplyPaused(scheduler.ApplyPausedParams{ScheduleIDs: []string{tr.ScheduleID}, Paused: tr.Paused})
		}
	}
}

// TestPauseReachesOtherNode: a schedule paused on node A shows paused on
// node B after B's next read of the change log (one ChangesInterval on a
// fake clock), before its next fire, and resumes there the same way; B
// does not fire it while paused. A failed read of the log keeps B's place:
// the change is applied once the store answers.
func TestPauseReachesOtherNode(t *testing.T) {
	t.Parallel()
	tdb := newSQLite(t)
	start := time.Date(2026, 3, 1, 10, 0, 0, 500_000_000, time.UTC)
	fc := clock.NewFake(start)
	f := newFires(0)
	d := cronEverySecond(map[string]string{"a": config.MisfireDoNothing}, 100*time.Millisecond)
	a := startNode(t, nodeConfig{id: "A", db: tdb.open(t), services: noop(f), clock: fc, clusterClock: fc}, d)
	var calls atomic.Int64
	dbB := &flakyChanges{Store: tdb.open(t)}
	b := startNode(t, nodeConfig{id: "B", db: dbB, services: noop(f), clock: fc, clusterClock: fc,
		onChanges: applyPauses(t, dbB, &calls)}, d)

	paused := func(n *node) bool {
		info, ok := n.sched.Schedule("a")
		if !ok {
			t.Fatal("schedule a not found")
		}
		return info.Paused
	}
	if err := a.sched.Pause(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	if paused(b) {
		t.Fatal("B shows a paused before reading the change log")
	}
	fc.Advance(250 * time.Millisecond)
	waitFor(t, 10*time.Second, "B shows a paused", func() bool { return paused(b) })

	// Past two fire times: neither node fires the paused schedule.
	for range 8 {
		fc.Advance(250 * time.Millisecond)
	}
	f.mu.Lock()
	fired := fmt.Sprint(f.count)
	f.mu.Unlock()
	if f.total.Load() != 0 {
		t.Fatalf("fires of the paused schedule: %s", fired)
	}

	// The resume comes while B cannot read the log; it is applied after.
	dbB.down.Store(true)
	if err := a.sched.Resume(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	before := dbB.failed.Load()
	waitFor(t, 10*time.Second, "B fails to read the change log", func() bool {
		fc.Advance(50 * time.Millisecond)
		return dbB.failed.Load() > before
	})
	if !paused(b) {
		t.Fatal("B resumed a without reading the change log")
	}
	dbB.down.Store(false)
	waitFor(t, 10*time.Second, "B shows a resumed", func() bool {
		fc.Advance(50 * time.Millisecond)
		return !paused(b)
	})
}

// flakyChanges is a store whose Changes fails while down is set.
type flakyChanges struct {
	store.Store
	down   atomic.Bool
	failed atomic.Int64
}

func (f *flakyChanges) Changes(ctx context.Context, p store.ChangesParams) (store.Changes, error) {
	if f.down.Load() {
		f.failed.Add(1)
		return store.Changes{}, errDown
	}
	return f.Store.Changes(ctx, p)
}
