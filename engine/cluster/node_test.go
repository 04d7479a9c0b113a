package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sundial/engine/clock"
	"sundial/engine/config"
	"sundial/engine/scheduler"
	"sundial/engine/store"
)

// Tests run on real databases. Schedulers run on a fake clock where the
// test is about fire times; check-ins, node timeouts and the database's
// clock are real, so those tests wait on conditions, with short check-in
// intervals.

func noop(f *fires) map[string]scheduler.Service {
	return map[string]scheduler.Service{"noop": f.service()}
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		<-tick.C
	}
}

// TestClusterFiresOnce: three nodes on one PostgreSQL database fire every
// one-shot and every second of two recurring schedules exactly once between
// them.
func TestClusterFiresOnce(t *testing.T) {
	t.Parallel()
	tdb := newPostgres(t)
	open := tdb.open
	const oneShots = 300
	f := newFires(0)
	at := time.Now().Add(1500 * time.Millisecond)
	d := cronEverySecond(map[string]string{"every-a": config.MisfireFireAndProceed, "every-b": config.MisfireDoNothing}, 0)
	for id, sc := range oneShotsAt(oneShots, at).Schedules {
		d.Schedules[id] = sc
	}
	d.Schedules["every-b"].ConcurrentExecution = true
	d.Scheduler.ThreadCount = 16
	var nodes []*node
	for i := range 3 {
		nodes = append(nodes, startNode(t, nodeConfig{id: fmt.Sprintf("n%d", i), db: open(t), services: noop(f)}, d))
	}
	start := time.Now()
	waitFor(t, 30*time.Second, "the one-shots and 3 s of the recurring schedules", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		n := 0
		for id := range f.count {
			if len(id) > 4 && id[:4] == "one-" {
				n++
			}
		}
		return n == oneShots && f.last.After(start.Add(3*time.Second))
	})
	for _, n := range nodes {
		n.stop()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	seconds := map[string][]time.Time{}
	for id, c := range f.count {
		if c != 1 {
			t.Errorf("fire %s ran %d times", id, c)
		}
		if len(id) > 6 && id[:6] == "every-" {
			sched := id[:7]
			ts, err := time.Parse(time.RFC3339Nano, id[8:])
			if err != nil {
				t.Fatal(err)
			}
			seconds[sched] = append(seconds[sched], ts)
		}
	}
	for sched, ts := range seconds {
		first, last := ts[0], ts[0]
		for _, s := range ts {
			if s.Before(first) {
				first = s
			}
			if s.After(last) {
				last = s
			}
		}
		if want := int(last.Sub(first)/time.Second) + 1; len(ts) != want {
			t.Errorf("%s fired %d times from %s to %s, want every second (%d)", sched, len(ts), first, last, want)
		}
	}
	runs := countRuns(t, tdb)
	if runs[store.RunSucceeded] != len(f.count) || runs[store.RunRunning] != 0 {
		t.Errorf("store recorded %v, want %d succeeded", runs, len(f.count))
	}
}

func oneShotsAt(n int, at time.Time) *config.Desired { return oneShots(n, 16, at) }

// ghost makes the store believe a node "ghost" is running the given
// schedules' fires, as a process would that then died: it checks in, and
// claims a fire of each.
func ghost(t *testing.T, db store.Store, node string, recoverable map[string]bool) map[string]string {
	t.Helper()
	ctx := context.Background()
	if _, err := db.CheckIn(ctx, store.CheckInParams{Node: node}); err != nil {
		t.Fatal(err)
	}
	runIDs := map[string]string{}
	for id, rec := range recoverable {
		at := time.Now().Add(-time.Second)
		if _, err := db.UpsertTriggers(ctx, store.UpsertTriggersParams{Triggers: []store.TriggerDef{
			{ScheduleID: id, ConfigHash: "h-" + id, NextFireAt: at},
		}}); err != nil {
			t.Fatal(err)
		}
		res, err := db.ClaimFires(ctx, store.ClaimFiresParams{Node: node, Fires: []store.ClaimFire{
			{ScheduleID: id, ConfigHash: "h-" + id, ScheduledAt: at, Recoverable: rec},
		}})
		if err != nil || res[0].Err != nil {
			t.Fatalf("claim: %v %v", err, res)
		}
		runIDs[id] = res[0].Run.ID
	}
	return runIDs
}

// TestDeadNodeRecovered: a node that stops checking in is found by a node
// that executes persisted schedules (not by one that does not): its
// recoverable run runs again there once, as a recovery run, and its other
// run is recorded abandoned.
func TestDeadNodeRecovered(t *testing.T) {
	t.Parallel()
	tdb := newSQLite(t)
	open := tdb.open
	db := open(t)
	runIDs := ghost(t, db, "ghost", map[string]bool{"rec": true, "norec": false})
	const timeout = 600 * time.Millisecond

	var mu sync.Mutex
	var recovered []store.Run
	recoverHook := func(_ context.Context, r store.Run) error {
		mu.Lock()
		defer mu.Unlock()
		recovered = append(recovered, r)
		return nil
	}
	empty := &config.Desired{Scheduler: config.DefaultSchedulerConfig(), Schedules: map[string]*config.Schedule{}}

	// A node with executePersistentSchedules false recovers nobody.
	passive := startNode(t, nodeConfig{id: "passive", db: open(t), interval: 100 * time.Millisecond, timeout: timeout,
		recover: recoverHook, execPersisted: func() bool { return false }}, empty)
	waitFor(t, 10*time.Second, "the ghost to be dead", func() bool {
		dead, err := db.DeadNodes(context.Background(), store.DeadNodesParams{Timeout: timeout})
		return err == nil && len(dead) == 1
	})
	for range 3 { // a few check-ins of the passive node, each followed by a scan
		before := passive.p.Status().LastCheckIn
		waitFor(t, 5*time.Second, "a check-in", func() bool { return passive.p.Status().LastCheckIn.After(before) })
	}
	if r, _ := tdb.getRun(t, runIDs["rec"]); r.Status != store.RunRunning || r.Node != "ghost" {
		t.Fatalf("run recovered by a node that does not execute persisted schedules: %+v", r)
	}

	startNode(t, nodeConfig{id: "active", db: open(t), interval: 100 * time.Millisecond, timeout: timeout, recover: recoverHook}, empty)
	waitFor(t, 10*time.Second, "the recoverable run to be re-run", func() bool {
		r, err := tdb.getRun(t, runIDs["rec"])
		return err == nil && r.Status == store.RunSucceeded
	})
	r, _ := tdb.getRun(t, runIDs["rec"])
	if !r.Recovery || r.Node != "active" || r.RecoveredFrom != "ghost" || r.Attempt != 2 {
		t.Errorf("recovered run = %+v", r)
	}
	r, _ = tdb.getRun(t, runIDs["norec"])
	if r.Status != store.RunAbandoned {
		t.Errorf("non-recoverable run = %+v, want abandoned", r)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(recovered) != 1 || recovered[0].ID != runIDs["rec"] {
		t.Errorf("Recover hook called with %+v, want the recoverable run once", recovered)
	}
}

// TestSelfRecoveryAtStart: a node restarting under the same id handles the
// runs its previous process left running before it fires anything.
func TestSelfRecoveryAtStart(t *testing.T) {
	t.Parallel()
	tdb := newSQLite(t)
	open := tdb.open
	db := open(t)
	runIDs := ghost(t, db, "n1", map[string]bool{"rec": true, "norec": false})
	got := make(chan store.Run, 2)
	startNode(t, nodeConfig{id: "n1", db: open(t), recover: func(_ context.Context, r store.Run) error {
		got <- r
		return errors.New("boom")
	}}, &config.Desired{Scheduler: config.DefaultSchedulerConfig()})
	select {
	case r := <-got:
		if r.ID != runIDs["rec"] || !r.Recovery || r.RecoveredFrom != "n1" {
			t.Errorf("recovered %+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the recoverable run was not re-run")
	}
	waitFor(t, 10*time.Second, "the recovery run's failure to be recorded", func() bool {
		r, _ := tdb.getRun(t, runIDs["rec"])
		return r.Status == store.RunFailed && r.Error == "boom"
	})
	if r, _ := tdb.getRun(t, runIDs["norec"]); r.Status != store.RunAbandoned {
		t.Errorf("non-recoverable run = %+v, want abandoned", r)
	}
}

// flaky is a store that fails every call while down is set, and reports a
// clock skew.
type flaky struct {
	store.Store
	down atomic.Bool
	skew atomic.Int64
}

var errDown = fmt.Errorf("connection refused: %w", store.ErrUnavailable)

func (f *flaky) err() error {
	if f.down.Load() {
		return errDown
	}
	return nil
}

func (f *flaky) CheckIn(ctx context.Context, p store.CheckInParams) (store.Node, error) {
	if err := f.err(); err != nil {
		return store.Node{}, err
	}
	n, err := f.Store.CheckIn(ctx, p)
	n.Skew += time.Duration(f.skew.Load())
	return n, err
}

func (f *flaky) ClaimFires(ctx context.Context, p store.ClaimFiresParams) ([]store.ClaimResult, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	return f.Store.ClaimFires(ctx, p)
}

func (f *flaky) FinishRuns(ctx context.Context, p store.FinishRunsParams) ([]store.FinishResult, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	return f.Store.FinishRuns(ctx, p)
}

func (f *flaky) StartRun(ctx context.Context, p store.StartRunParams) (store.Run, error) {
	if err := f.err(); err != nil {
		return store.Run{}, err
	}
	return f.Store.StartRun(ctx, p)
}

func (f *flaky) ListTriggers(ctx context.Context, p store.ListTriggersParams) ([]store.Trigger, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	return f.Store.ListTriggers(ctx, p)
}

func (f *flaky) DeadNodes(ctx context.Context, p store.DeadNodesParams) ([]store.Node, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	return f.Store.DeadNodes(ctx, p)
}

// TestStoreLostAndBack: while the store is down the node fences itself and
// fires no persisted schedule; once it is back, the node reads the stored
// triggers back and the missed fires follow the misfire policy:
// fireAndProceed fires once at once, doNothing waits for its next time;
// nothing fires twice. The scheduler runs on a fake clock, the store on the
// real one.
func TestStoreLostAndBack(t *testing.T) {
	t.Parallel()
	tdb := newSQLite(t)
	open := tdb.open
	db := &flaky{Store: open(t)}
	at := func(sec float64) time.Time {
		return time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC).Add(time.Duration(sec * float64(time.Second)))
	}
	fc := clock.NewFake(at(0)) // the first fires are due at once
	ran := make(chan string, 64)
	services := map[string]scheduler.Service{"noop": scheduler.ServiceFunc(func(_ context.Context, r scheduler.Run) error {
		ran <- r.FireID
		return nil
	})}
	d := cronEverySecond(map[string]string{"fap": config.MisfireFireAndProceed, "dn": config.MisfireDoNothing}, 500*time.Millisecond)
	n := startNode(t, nodeConfig{id: "n1", db: db, services: services, interval: 100 * time.Millisecond, timeout: time.Second,
		retryBudget: 100 * time.Millisecond, clock: fc}, d)
	var fired []string
	expect := func(ids ...string) {
		t.Helper()
		want := map[string]bool{}
		for _, id := range ids {
			want[id] = true
		}
		deadline := time.After(10 * time.Second)
		for len(want) > 0 {
			select {
			case id := <-ran:
				if !want[id] {
					t.Fatalf("fire %s ran, want %v", id, ids)
				}
				delete(want, id)
				fired = append(fired, id)
			case <-deadline:
				t.Fatalf("fires %v did not run", want)
			}
		}
	}
	for _, sec := range []float64{0, 1} {
		fc.Set(at(sec))
		expect(fireID("fap", at(sec)), fireID("dn", at(sec)))
	}
	if st := n.p.Status(); !st.Healthy() {
		t.Fatalf("status before the outage = %+v, want healthy", st)
	}

	db.down.Store(true)
	fc.Set(at(2))
	_ = n.sched.Schedules() // the loop has handed the fires at 10:00:02 to the claimers
	waitFor(t, 5*time.Second, "the claims of 10:00:02 to fail", func() bool {
		for _, id := range []string{"fap", "dn"} {
			if info, _ := n.sched.Schedule(id); info.Running != 0 {
				return false
			}
		}
		return true
	})
	waitFor(t, 5*time.Second, "the node to see the store gone", func() bool {
		st := n.p.Status()
		return !st.Reachable && !st.Firing && st.Error != "" && !st.Healthy()
	})
	// Down across a few fire times, past the 500 ms misfire threshold.
	fc.Set(at(4.5))
	db.down.Store(false)
	expect(fireID("fap", at(4.5))) // fireAndProceed: once, at once
	for _, sec := range []float64{5, 6} {
		fc.Set(at(sec))
		expect(fireID("fap", at(sec)), fireID("dn", at(sec)))
	}
	if st := n.p.Status(); !st.Healthy() {
		t.Errorf("status after the outage = %+v, want healthy", st)
	}
	n.stop()
	close(ran)
	for id := range ran {
		t.Errorf("fire %s ran too (fired before it: %v)", id, fired)
	}
}

func fireID(schedule string, at time.Time) string { return scheduler.FireID(schedule, at) }

// TestClockSkew: a skew beyond the limit is reported in the status.
func TestClockSkew(t *testing.T) {
	t.Parallel()
	db := &flaky{Store: sqliteDB(t)(t)}
	db.skew.Store(int64(3 * time.Second))
	n := startNode(t, nodeConfig{id: "n1", db: db, interval: 100 * time.Millisecond}, &config.Desired{Scheduler: config.DefaultSchedulerConfig()})
	st := n.p.Status()
	if !st.ClockSkewed || st.ClockSkew < 2.9 || st.Healthy() {
		t.Errorf("status = %+v, want a 3 s skew reported", st)
	}
	db.skew.Store(0)
	waitFor(t, 5*time.Second, "the skew to clear", func() bool { return !n.p.Status().ClockSkewed })
}

// TestLoserAdoptsStoredState: a schedule paused in the store behind a
// node's back (by another node) is paused on that node at its next fire.
func TestLoserAdoptsStoredState(t *testing.T) {
	t.Parallel()
	tdb := newSQLite(t)
	open := tdb.open
	f := newFires(0)
	d := cronEverySecond(map[string]string{"every": config.MisfireFireAndProceed}, 0)
	n := startNode(t, nodeConfig{id: "n1", db: open(t), services: noop(f)}, d)
	other := open(t)
	if _, err := other.PauseTriggers(context.Background(), store.PauseTriggersParams{ScheduleIDs: []string{"every"}, Paused: true}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the node to adopt the pause", func() bool {
		info, ok := n.sched.Schedule("every")
		return ok && info.Paused
	})
	fired := f.total.Load()
	tr, err := getTrigger(other, "every")
	if err != nil || !tr.Paused {
		t.Fatalf("trigger = %+v, %v", tr, err)
	}
	info, _ := n.sched.Schedule("every")
	if info.Status != scheduler.StatusPaused || f.total.Load() != fired {
		t.Errorf("after the pause: %+v, fires %d → %d", info, fired, f.total.Load())
	}
}
