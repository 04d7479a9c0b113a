package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"sundial/engine/store"
)

func init() {
	register("ClaimFires/RecordsAndAdvances", testClaimRecords)
	register("ClaimFires/DataAndUpsert", testClaimData)
	register("ClaimFires/Refusals", testClaimRefusals)
	register("ClaimFires/LateFireOfStaleTrigger", testClaimStale)
	register("ClaimFires/FanOutInOneBatch", testClaimFanOut)
	register("ClaimFires/BlockUntilFinished", testClaimBlock)
	register("ClaimFires/Invalid", testClaimInvalid)
	register("ClaimFires/ConcurrentNodesExactlyOnce", testClaimConcurrent)
	register("ClaimFires/ConcurrentMisfireNowOnce", testClaimConcurrentMisfire)
}

func claim(t *testing.T, b *bundle, node string, fs ...store.ClaimFire) []store.ClaimResult {
	t.Helper()
	res, err := b.s.ClaimFires(b.ctx, store.ClaimFiresParams{Node: node, Fires: fs})
	if err != nil {
		t.Fatalf("ClaimFires: %v", err)
	}
	if len(res) != len(fs) {
		t.Fatalf("ClaimFires returned %d results for %d fires", len(res), len(fs))
	}
	return res
}

func claimFire(id string, sched, next int) store.ClaimFire {
	f := store.ClaimFire{ScheduleID: id, ConfigHash: "h1-" + id, ScheduledAt: at(sched), StartedAt: at(sched), TimesTriggered: 1}
	if next >= 0 {
		f.NextFireAt = at(next)
	}
	return f
}

func testClaimRecords(t *testing.T, b *bundle) {
	upsert(t, b, def("a", at(10)))
	f := claimFire("a", 10, 70)
	f.Recoverable = true
	r := claim(t, b, "n1", f)[0]
	if r.Err != nil {
		t.Fatalf("claim: %v", r.Err)
	}
	wantEq(t, "run id", r.Run.ID, store.FireID("a", at(10)))
	wantEq(t, "run node", r.Run.Node, "n1")
	wantEq(t, "run status", r.Run.Status, store.RunRunning)
	wantEq(t, "run recoverable", r.Run.Recoverable, true)
	got := getRun(t, b, r.Run.ID)
	wantEq(t, "stored run node", got.Node, "n1")
	wantEq(t, "stored run status", got.Status, store.RunRunning)
	wantTime(t, "stored run scheduled", got.ScheduledAt, at(10))
	wantEq(t, "stored run recoverable", got.Recoverable, true)
	tr := getTrigger(t, b, "a")
	wantEq(t, "state", tr.State, store.TriggerWaiting)
	wantTime(t, "next", tr.NextFireAt, at(70))
	wantTime(t, "prev", tr.PrevFireAt, at(10))
	wantEq(t, "times", tr.TimesTriggered, 1)
	wantEq(t, "last node", tr.LastNodeID, "n1")
	wantEq(t, "revision", tr.Revision, 2)
	wantEq(t, "result trigger revision", r.Trigger.Revision, tr.Revision)

	// The same fire again: already fired, with the recorded run.
	r = claim(t, b, "n2", f)[0]
	wantErr(t, "second claim", r.Err, store.ErrAlreadyFired)
	wantEq(t, "already-fired run node", r.Run.Node, "n1")

	// A custom fire id; the last fire completes the trigger.
	f = claimFire("a", 70, -1)
	f.FireID = "a@custom"
	f.TimesTriggered = 2
	r = claim(t, b, "n2", f)[0]
	if r.Err != nil {
		t.Fatalf("last claim: %v", r.Err)
	}
	wantEq(t, "custom run id", getRun(t, b, "a@custom").Node, "n2")
	tr = getTrigger(t, b, "a")
	wantEq(t, "state after last", tr.State, store.TriggerComplete)
	wantTime(t, "next after last", tr.NextFireAt, timeZero)
	wantEq(t, "times after last", tr.TimesTriggered, 2)
}

func testClaimData(t *testing.T, b *bundle) {
	d := def("a", at(10))
	d.Data = json.RawMessage(`{"start":1}`)
	upsert(t, b, d)
	wantEq(t, "data after insert", string(getTrigger(t, b, "a").Data), `{"start":1}`)
	f := claimFire("a", 10, 20)
	f.Data = json.RawMessage(`{"start":2}`)
	if r := claim(t, b, "n1", f)[0]; r.Err != nil || string(r.Trigger.Data) != `{"start":2}` {
		t.Fatalf("claim = %+v, want data {\"start\":2}", r)
	}
	wantEq(t, "data after claim", string(getTrigger(t, b, "a").Data), `{"start":2}`)
	// No data: the stored one stays.
	if r := claim(t, b, "n1", claimFire("a", 20, 30))[0]; r.Err != nil {
		t.Fatal(r.Err)
	}
	wantEq(t, "data kept", string(getTrigger(t, b, "a").Data), `{"start":2}`)
	// Same hash: the stored data (and state) stays; another hash replaces it.
	d.Data = json.RawMessage(`{"start":3}`)
	upsert(t, b, d)
	wantEq(t, "data after unchanged upsert", string(getTrigger(t, b, "a").Data), `{"start":2}`)
	d.ConfigHash = "h2"
	upsert(t, b, d)
	wantEq(t, "data after changed upsert", string(getTrigger(t, b, "a").Data), `{"start":3}`)
	wantEq(t, "no data", string(upsert(t, b, def("b", at(10)))[0].Trigger.Data), "null")
}

func testClaimRefusals(t *testing.T, b *bundle) {
	paused := def("paused", at(10))
	paused.Paused = true
	upsert(t, b, def("a", at(10)), paused, def("done", timeZero))
	// Another config version.
	f := claimFire("a", 10, 20)
	f.ConfigHash = "other"
	r := claim(t, b, "n1", f, claimFire("paused", 10, 20), claimFire("done", 10, 20), claimFire("missing", 10, 20))
	wantErr(t, "other hash", r[0].Err, store.ErrConflict)
	wantEq(t, "refusing trigger", r[0].Trigger.ConfigHash, "h1-a")
	wantErr(t, "paused", r[1].Err, store.ErrConflict)
	wantEq(t, "paused trigger", r[1].Trigger.Paused, true)
	wantErr(t, "complete", r[2].Err, store.ErrConflict)
	wantErr(t, "missing", r[3].Err, store.ErrNotFound)
	// A fire before the stored next fire time: another node fired past it.
	if r := claim(t, b, "n1", claimFire("a", 10, 20))[0]; r.Err != nil {
		t.Fatal(r.Err)
	}
	r = claim(t, b, "n2", claimFire("a", 15, 20))
	wantErr(t, "behind", r[0].Err, store.ErrConflict)
	wantTime(t, "refusing trigger next", r[0].Trigger.NextFireAt, at(20))
	if _, ok := findRun(t, b, store.FireID("a", at(15))); ok {
		t.Fatal("a refused fire was recorded")
	}
	wantEq(t, "revision after refusals", getTrigger(t, b, "a").Revision, 2)
}

// testClaimStale: a trigger whose stored next fire time lags (every node
// skipped a misfired fire without writing) is fired at its next time.
func testClaimStale(t *testing.T, b *bundle) {
	upsert(t, b, def("a", at(10)))
	r := claim(t, b, "n1", claimFire("a", 130, 190))[0]
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	wantTime(t, "prev", r.Trigger.PrevFireAt, at(130))
	wantTime(t, "next", r.Trigger.NextFireAt, at(190))
}

// testClaimFanOut: fires sharing a scheduled time (a simple trigger with
// repeat interval 0) are told apart by their fire ids and apply in order.
func testClaimFanOut(t *testing.T, b *bundle) {
	upsert(t, b, def("a", at(10)))
	var fs []store.ClaimFire
	for i := 1; i <= 3; i++ {
		f := claimFire("a", 10, 10)
		f.FireID = fmt.Sprintf("a@10#%d", i)
		f.TimesTriggered = int64(i)
		if i == 3 {
			f.NextFireAt = timeZero
		}
		fs = append(fs, f)
	}
	for i, r := range claim(t, b, "n1", fs...) {
		if r.Err != nil {
			t.Fatalf("fire %d: %v", i, r.Err)
		}
	}
	tr := getTrigger(t, b, "a")
	wantEq(t, "state", tr.State, store.TriggerComplete)
	wantEq(t, "times", tr.TimesTriggered, 3)
	wantEq(t, "revision", tr.Revision, 4)
	wantErr(t, "again", claim(t, b, "n2", fs[0])[0].Err, store.ErrAlreadyFired)
}

func testClaimBlock(t *testing.T, b *bundle) {
	upsert(t, b, def("a", at(10)))
	f := claimFire("a", 10, 20)
	f.Block = true
	r := claim(t, b, "n1", f)[0]
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	wantEq(t, "state", r.Trigger.State, store.TriggerBlocked)
	wantEq(t, "blocking run", r.Trigger.BlockingRunID, r.Run.ID)
	wantErr(t, "next while blocked", claim(t, b, "n2", claimFire("a", 20, 30))[0].Err, store.ErrConflict)
	finish(t, b, "n1", store.FinishRun{ID: r.Run.ID, Status: store.RunSucceeded, EndedAt: at(15)})
	wantEq(t, "state after run", getTrigger(t, b, "a").State, store.TriggerWaiting)
	if r := claim(t, b, "n2", claimFire("a", 20, 30))[0]; r.Err != nil {
		t.Fatalf("next after run: %v", r.Err)
	}
}

func testClaimInvalid(t *testing.T, b *bundle) {
	for name, p := range map[string]store.ClaimFiresParams{
		"no node":      {Fires: []store.ClaimFire{claimFire("a", 1, 2)}},
		"no id":        {Node: "n", Fires: []store.ClaimFire{{ScheduledAt: at(1)}}},
		"no scheduled": {Node: "n", Fires: []store.ClaimFire{{ScheduleID: "a"}}},
		"twice":        {Node: "n", Fires: []store.ClaimFire{claimFire("a", 1, 2), claimFire("a", 1, 2)}},
		"bad data":     {Node: "n", Fires: []store.ClaimFire{{ScheduleID: "a", ScheduledAt: at(1), Data: json.RawMessage("{")}}},
	} {
		if _, err := b.s.ClaimFires(b.ctx, p); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: error %v, want ErrInvalid", name, err)
		}
	}
	res, err := b.s.ClaimFires(b.ctx, store.ClaimFiresParams{Node: "n"})
	if err != nil || len(res) != 0 {
		t.Fatalf("empty claim = %v, %v", res, err)
	}
}

// testClaimConcurrent: nodes racing with the same fires, in batches, record
// each exactly once.
func testClaimConcurrent(t *testing.T, b *bundle) {
	const triggers, nodes, batch = 120, 4, 10
	var defs []store.TriggerDef
	for i := range triggers {
		defs = append(defs, def(fmt.Sprintf("t%03d", i), at(10)))
	}
	upsert(t, b, defs...)
	hs := b.handles(nodes)
	var won atomic.Int64
	parallel(t, nodes, func(n int) error {
		node := fmt.Sprintf("n%d", n)
		for start := 0; start < triggers; start += batch {
			var fs []store.ClaimFire
			for i := start; i < start+batch; i++ {
				// Each node walks the batch in another order.
				j := start + (i-start+n*3)%batch
				fs = append(fs, claimFire(fmt.Sprintf("t%03d", j), 10, -1))
			}
			res, err := hs[n].ClaimFires(b.ctx, store.ClaimFiresParams{Node: node, Fires: fs})
			if err != nil {
				return err
			}
			for _, r := range res {
				switch {
				case r.Err == nil:
					won.Add(1)
				case !errors.Is(r.Err, store.ErrAlreadyFired) && !errors.Is(r.Err, store.ErrConflict):
					return r.Err
				}
			}
		}
		return nil
	})
	wantEq(t, "fires won", won.Load(), int64(triggers))
	runs, err := b.s.ListRuns(b.ctx, store.ListRunsParams{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "runs recorded", len(runs), triggers)
}

// testClaimConcurrentMisfire: nodes that each decided to fire a misfired
// trigger "now", at slightly different instants (so under different fire
// ids), fire it once between them.
func testClaimConcurrentMisfire(t *testing.T, b *bundle) {
	upsert(t, b, def("a", at(10)))
	hs := b.handles(3)
	var won atomic.Int64
	parallel(t, 3, func(n int) error {
		f := claimFire("a", 100+n, 160)
		res, err := hs[n].ClaimFires(b.ctx, store.ClaimFiresParams{Node: fmt.Sprintf("n%d", n), Fires: []store.ClaimFire{f}})
		if err != nil {
			return err
		}
		if res[0].Err == nil {
			won.Add(1)
		} else if !errors.Is(res[0].Err, store.ErrConflict) {
			return res[0].Err
		}
		return nil
	})
	wantEq(t, "misfire fires won", won.Load(), int64(1))
}
