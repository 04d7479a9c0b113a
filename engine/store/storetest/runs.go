package storetest

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"sundial/engine/store"
)

func init() {
	register("StartRun", testStartRun)
	register("StartRun/Invalid", testStartRunInvalid)
	register("FinishRuns", testFinishRuns)
	register("ListRuns", testListRuns)
	register("AbandonRuns", testAbandonRuns)
	register("PruneRuns/ByAge", testPruneByAge)
	register("PruneRuns/KeepPerSchedule", testPruneKeep)
	register("PruneRuns/AgeAndCount", testPruneAgeAndCount)
	register("PruneRuns/Limit", testPruneLimit)
	register("PruneRuns/ConcurrentNodes", testPruneConcurrent)
	register("PruneRuns/NoRefire", testPruneNoRefire)
}

func testStartRun(t *testing.T, b *bundle) {
	r, err := b.s.StartRun(b.ctx, store.StartRunParams{ScheduleID: "mem", ScheduledAt: at(5), StartedAt: at(6), Node: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	want := store.Run{ID: store.FireID("mem", at(5)), ScheduleID: "mem", ScheduledAt: at(5), StartedAt: at(6),
		Node: "n1", Status: store.RunRunning, Attempt: 1}
	wantRun(t, "run", r, want)
	wantRun(t, "stored", getRun(t, b, want.ID), want)

	_, err = b.s.StartRun(b.ctx, store.StartRunParams{ScheduleID: "mem", ScheduledAt: at(5), Node: "n2"})
	wantErr(t, "same fire again", err, store.ErrAlreadyFired)

	// Per-node ids for schedules that fire on every node.
	r, err = b.s.StartRun(b.ctx, store.StartRunParams{ID: store.FireID("mem", at(5)) + "@n2", ScheduleID: "mem", ScheduledAt: at(5), Node: "n2"})
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "custom id", r.ID, "mem@2030-01-02T03:04:10Z@n2")

	// A run recorded as already finished.
	r, err = b.s.StartRun(b.ctx, store.StartRunParams{ScheduleID: "mem", ScheduledAt: at(7), StartedAt: at(7), Node: "n1",
		Status: store.RunSkipped, Error: "service not found"})
	if err != nil {
		t.Fatal(err)
	}
	wantTime(t, "EndedAt", r.EndedAt, at(7))
	wantRun(t, "stored skipped", getRun(t, b, r.ID), r)

	// Sub-second fire times keep their microseconds in the id.
	r, err = b.s.StartRun(b.ctx, store.StartRunParams{ScheduleID: "ms", ScheduledAt: at(1).Add(1234567), Node: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "sub-second id", r.ID, "ms@2030-01-02T03:04:06.001234Z")
	wantTime(t, "ScheduledAt truncated to µs", getRun(t, b, r.ID).ScheduledAt, at(1).Add(1234000))
}

func testStartRunInvalid(t *testing.T, b *bundle) {
	for name, p := range map[string]store.StartRunParams{
		"no schedule": {ScheduledAt: at(1), Node: "n1"},
		"no time":     {ScheduleID: "a", Node: "n1"},
		"no node":     {ScheduleID: "a", ScheduledAt: at(1)},
		"bad status":  {ScheduleID: "a", ScheduledAt: at(1), Node: "n1", Status: "done"},
	} {
		_, err := b.s.StartRun(b.ctx, p)
		wantErr(t, name, err, store.ErrInvalid)
	}
}

func testFinishRuns(t *testing.T, b *bundle) {
	for i, node := range []string{"n1", "n1", "n2"} {
		if _, err := b.s.StartRun(b.ctx, store.StartRunParams{ScheduleID: "s", ScheduledAt: at(i), Node: node, StartedAt: at(i)}); err != nil {
			t.Fatal(err)
		}
	}
	id := func(i int) string { return store.FireID("s", at(i)) }
	res := finish(t, b, "n1",
		store.FinishRun{ID: id(0), Status: store.RunSucceeded, EndedAt: at(10)},
		store.FinishRun{ID: id(1), Status: store.RunFailed, EndedAt: at(11), Error: "boom"},
		store.FinishRun{ID: id(2), Status: store.RunSucceeded}, // n2's run
		store.FinishRun{ID: "nope", Status: store.RunSucceeded},
	)
	if res[0].Err != nil || res[1].Err != nil {
		t.Fatalf("finish: %v, %v", res[0].Err, res[1].Err)
	}
	wantEq(t, "status", res[0].Run.Status, store.RunSucceeded)
	wantTime(t, "EndedAt", res[0].Run.EndedAt, at(10))
	failed := getRun(t, b, id(1))
	wantEq(t, "failed status", failed.Status, store.RunFailed)
	wantEq(t, "failed error", failed.Error, "boom")
	wantTime(t, "failed EndedAt", failed.EndedAt, at(11))
	wantErr(t, "another node's run", res[2].Err, store.ErrConflict)
	wantEq(t, "another node's run status", getRun(t, b, id(2)).Status, store.RunRunning)
	wantErr(t, "unknown run", res[3].Err, store.ErrNotFound)

	// A finished run stays finished: no second outcome, no re-run.
	res = finish(t, b, "n1", store.FinishRun{ID: id(0), Status: store.RunFailed})
	wantErr(t, "finish twice", res[0].Err, store.ErrConflict)
	wantEq(t, "status after second finish", getRun(t, b, id(0)).Status, store.RunSucceeded)

	_, err := b.s.FinishRuns(b.ctx, store.FinishRunsParams{Node: "n1", Runs: []store.FinishRun{{ID: id(0), Status: store.RunRunning}}})
	wantErr(t, "non-terminal status", err, store.ErrInvalid)
	_, err = b.s.FinishRuns(b.ctx, store.FinishRunsParams{Runs: []store.FinishRun{{ID: id(0), Status: store.RunFailed}}})
	wantErr(t, "no node", err, store.ErrInvalid)
}

func testListRuns(t *testing.T, b *bundle) {
	for i := range 6 {
		sched, node := "a", "n1"
		if i%2 == 1 {
			sched, node = "b", "n2"
		}
		if _, err := b.s.StartRun(b.ctx, store.StartRunParams{ScheduleID: sched, ScheduledAt: at(i), Node: node}); err != nil {
			t.Fatal(err)
		}
	}
	list := func(p store.ListRunsParams) []store.Run {
		t.Helper()
		rs, err := b.s.ListRuns(b.ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	all := list(store.ListRunsParams{})
	wantEq(t, "all", len(all), 6)
	for i := range all {
		wantTime(t, fmt.Sprintf("all[%d].ScheduledAt (newest first)", i), all[i].ScheduledAt, at(5-i))
	}
	wantIDs(t, "schedule a", ids(list(store.ListRunsParams{ScheduleID: "a"}), runID),
		store.FireID("a", at(0)), store.FireID("a", at(2)), store.FireID("a", at(4)))
	wantIDs(t, "newest two", ids(list(store.ListRunsParams{Limit: 2}), runID), store.FireID("b", at(5)), store.FireID("a", at(4)))
}

func testAbandonRuns(t *testing.T, b *bundle) {
	upsert(t, b, def("blk", at(1)))
	f := claimFire("blk", 1, 2)
	f.Block = true
	fr := claimOne(t, b, "n1", f)
	for i := range 3 {
		if _, err := b.s.StartRun(b.ctx, store.StartRunParams{ScheduleID: "x", ScheduledAt: at(i), Node: "n1"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.s.StartRun(b.ctx, store.StartRunParams{ScheduleID: "x", ScheduledAt: at(9), Node: "n2"}); err != nil {
		t.Fatal(err)
	}
	finish(t, b, "n1", store.FinishRun{ID: store.FireID("x", at(2)), Status: store.RunSucceeded})

	rs, err := b.s.AbandonRuns(b.ctx, store.AbandonRunsParams{Node: "n1", At: at(20), Reason: "operator"})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "abandoned (every running run of n1)", ids(rs, runID), fr.Run.ID, store.FireID("x", at(0)), store.FireID("x", at(1)))
	r := getRun(t, b, store.FireID("x", at(0)))
	wantEq(t, "Status", r.Status, store.RunAbandoned)
	wantEq(t, "Error", r.Error, "operator")
	wantTime(t, "EndedAt", r.EndedAt, at(20))
	wantEq(t, "finished run", getRun(t, b, store.FireID("x", at(2))).Status, store.RunSucceeded)
	wantEq(t, "blocked trigger released", getTrigger(t, b, "blk").State, store.TriggerWaiting)
	wantEq(t, "n2's run", getRun(t, b, store.FireID("x", at(9))).Status, store.RunRunning)

	if _, err := b.s.StartRun(b.ctx, store.StartRunParams{ScheduleID: "x", ScheduledAt: at(30), Node: "n1"}); err != nil {
		t.Fatal(err)
	}
	rs, err = b.s.AbandonRuns(b.ctx, store.AbandonRunsParams{Node: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Error == "" {
		t.Fatalf("abandoned without a reason = %+v: want one run with a default error text", rs)
	}
	_, err = b.s.AbandonRuns(b.ctx, store.AbandonRunsParams{})
	wantErr(t, "no node", err, store.ErrInvalid)
}

// finishedRuns records n finished runs of a schedule, scheduled (and ended)
// at from, from+1, ... seconds.
func finishedRuns(t *testing.T, b *bundle, schedule string, from, n int) {
	t.Helper()
	for i := range n {
		if _, err := b.s.StartRun(b.ctx, store.StartRunParams{ScheduleID: schedule, ScheduledAt: at(from + i), StartedAt: at(from + i),
			Node: "n1", Status: store.RunSucceeded}); err != nil {
			t.Fatal(err)
		}
	}
}

// running records a running run of a schedule, scheduled at sec.
func running(t *testing.T, b *bundle, schedule string, sec int) {
	t.Helper()
	if _, err := b.s.StartRun(b.ctx, store.StartRunParams{ScheduleID: schedule, ScheduledAt: at(sec), Node: "n1"}); err != nil {
		t.Fatal(err)
	}
}

func prune(t *testing.T, b *bundle, p store.PruneRunsParams) int {
	t.Helper()
	n, err := b.s.PruneRuns(b.ctx, p)
	if err != nil {
		t.Fatalf("PruneRuns(%+v): %v", p, err)
	}
	return n
}

// runsLeft returns the seconds (since t0) of the runs of a schedule, oldest
// first.
func runsLeft(t *testing.T, b *bundle, schedule string) string {
	t.Helper()
	rs, err := b.s.ListRuns(b.ctx, store.ListRunsParams{ScheduleID: schedule, Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	var secs []int
	for i := len(rs) - 1; i >= 0; i-- {
		secs = append(secs, int(rs[i].ScheduledAt.Sub(t0)/time.Second))
	}
	return fmt.Sprint(secs)
}

func testPruneByAge(t *testing.T, b *bundle) {
	finishedRuns(t, b, "p", 0, 3) // ended at 0, 1, 2
	running(t, b, "p", -10)       // running for a long time: never pruned
	wantEq(t, "pruned", prune(t, b, store.PruneRunsParams{KeepPerSchedule: -1, EndedBefore: at(2)}), 2)
	wantEq(t, "left", runsLeft(t, b, "p"), "[-10 2]")
	wantEq(t, "pruned again", prune(t, b, store.PruneRunsParams{KeepPerSchedule: -1, EndedBefore: at(2)}), 0)
}

func testPruneKeep(t *testing.T, b *bundle) {
	finishedRuns(t, b, "a", 0, 5)
	running(t, b, "a", 10) // the newest, and not counted among the kept
	finishedRuns(t, b, "b", 0, 2)
	wantEq(t, "pruned", prune(t, b, store.PruneRunsParams{KeepPerSchedule: 3}), 2)
	wantEq(t, "a left", runsLeft(t, b, "a"), "[2 3 4 10]")
	wantEq(t, "b left", runsLeft(t, b, "b"), "[0 1]")

	// The default keeps 100 per schedule.
	finishedRuns(t, b, "c", 0, store.DefaultKeepPerSchedule+5)
	wantEq(t, "pruned by default", prune(t, b, store.PruneRunsParams{}), 5)
	rs, err := b.s.ListRuns(b.ctx, store.ListRunsParams{ScheduleID: "c", Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "c left", len(rs), store.DefaultKeepPerSchedule)
	wantTime(t, "c oldest left", rs[len(rs)-1].ScheduledAt, at(5))
}

// testPruneAgeAndCount: the maximum age applies to the newest runs too, and
// the count to recent ones.
func testPruneAgeAndCount(t *testing.T, b *bundle) {
	finishedRuns(t, b, "old", 0, 2)
	finishedRuns(t, b, "busy", 100, 5)
	wantEq(t, "pruned", prune(t, b, store.PruneRunsParams{KeepPerSchedule: 3, EndedBefore: at(50)}), 4)
	wantEq(t, "old left", runsLeft(t, b, "old"), "[]")
	wantEq(t, "busy left", runsLeft(t, b, "busy"), "[102 103 104]")
}

// testPruneLimit: one call deletes at most Limit rows; calling again until
// less than Limit comes back finishes the job.
func testPruneLimit(t *testing.T, b *bundle) {
	finishedRuns(t, b, "a", 0, 6)
	finishedRuns(t, b, "b", 0, 6)
	p := store.PruneRunsParams{KeepPerSchedule: 2, EndedBefore: at(1), Limit: 3}
	var got []int
	for {
		n := prune(t, b, p)
		got = append(got, n)
		if n < p.Limit {
			break
		}
	}
	wantEq(t, "deleted per call", fmt.Sprint(got), "[3 3 2]")
	wantEq(t, "a left", runsLeft(t, b, "a"), "[4 5]")
	wantEq(t, "b left", runsLeft(t, b, "b"), "[4 5]")
}

// testPruneConcurrent: nodes pruning at once delete each row once, and
// together exactly what one would.
func testPruneConcurrent(t *testing.T, b *bundle) {
	for i := range 10 {
		finishedRuns(t, b, fmt.Sprintf("s%d", i), 0, 8)
	}
	hs := b.handles(3)
	var deleted atomic.Int64
	parallel(t, len(hs), func(i int) error {
		for {
			n, err := hs[i].PruneRuns(b.ctx, store.PruneRunsParams{KeepPerSchedule: 3, Limit: 7})
			if err != nil {
				return err
			}
			deleted.Add(int64(n))
			if n < 7 {
				return nil
			}
		}
	})
	wantEq(t, "deleted", deleted.Load(), int64(10*5))
	wantEq(t, "left", len(allRuns(t, b)), 10*3)
}

// testPruneNoRefire: once a fire's run is pruned, the fire still cannot be
// claimed again: the trigger remembers it.
func testPruneNoRefire(t *testing.T, b *bundle) {
	upsert(t, b, def("a", at(10)), def("once", at(10)))
	for _, f := range []store.ClaimFire{claimFire("a", 10, 70), claimFire("once", 10, -1)} {
		r := claimOne(t, b, "n1", f)
		finish(t, b, "n1", store.FinishRun{ID: r.Run.ID, Status: store.RunSucceeded, EndedAt: at(11)})
	}
	wantEq(t, "pruned", prune(t, b, store.PruneRunsParams{KeepPerSchedule: -1, EndedBefore: at(1000)}), 2)
	for _, f := range []store.ClaimFire{claimFire("a", 10, 70), claimFire("once", 10, -1)} {
		wantErr(t, "claim of a pruned fire of "+f.ScheduleID, claim(t, b, "n2", f)[0].Err, store.ErrConflict)
	}
}
