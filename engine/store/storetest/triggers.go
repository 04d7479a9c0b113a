package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"sundial/engine/store"
)

func init() {
	register("Ping", testPing)
	register("UpsertTriggers/Insert", testUpsertInsert)
	register("UpsertTriggers/UnchangedKeepsState", testUpsertUnchanged)
	register("UpsertTriggers/ChangedReplacesDefinition", testUpsertChanged)
	register("UpsertTriggers/ChangedWhileAcquired", testUpsertChangedWhileAcquired)
	register("UpsertTriggers/ChangedWhileBlocked", testUpsertChangedWhileBlocked)
	register("UpsertTriggers/Invalid", testUpsertInvalid)
	register("UpsertTriggers/ConcurrentNodes", testUpsertConcurrent)
	register("GetTrigger/NotFound", testGetTriggerNotFound)
	register("ListTriggers", testListTriggers)
	register("DeleteTriggers", testDeleteTriggers)
	register("PauseTriggers", testPauseTriggers)
	register("PauseTriggers/WhileAcquired", testPauseWhileAcquired)
	register("AcquireDue/OrderLimitHorizon", testAcquireOrder)
	register("AcquireDue/SkipsPausedCompleteAcquired", testAcquireSkips)
	register("AcquireDue/Invalid", testAcquireInvalid)
	register("AcquireDue/ConcurrentOneShotsExactlyOnce", testAcquireConcurrentOneShots)
	register("AcquireDue/ConcurrentRecurringExactlyOnce", testAcquireConcurrentRecurring)
	register("CompleteFires/RecordsAndAdvances", testCompleteRecords)
	register("CompleteFires/OneShotCompletes", testCompleteOneShot)
	register("CompleteFires/Conflicts", testCompleteConflicts)
	register("CompleteFires/AlreadyFired", testCompleteAlreadyFired)
	register("CompleteFires/BlockUntilFinished", testCompleteBlock)
	register("CompleteFires/TerminalStatus", testCompleteTerminal)
	register("CompleteFires/ScheduledAtOverride", testCompleteScheduledOverride)
	register("ReleaseTriggers", testRelease)
}

func testPing(t *testing.T, b *bundle) {
	if err := b.s.Ping(b.ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	v, err := b.s.SchemaVersion(b.ctx)
	if err != nil {
		t.Fatalf("SchemaVersion: %v", err)
	}
	if v < 1 {
		t.Fatalf("SchemaVersion = %d, want >= 1", v)
	}
}

func testUpsertInsert(t *testing.T, b *bundle) {
	paused := def("c", at(30))
	paused.Paused = true
	res := upsert(t, b, def("b", at(20)), def("a", at(10)), def("none", timeZero), paused)
	for i, want := range []string{"b", "a", "none", "c"} {
		wantEq(t, fmt.Sprintf("result %d id", i), res[i].Trigger.ScheduleID, want)
		wantEq(t, "action "+want, res[i].Action, store.UpsertInserted)
	}
	a := getTrigger(t, b, "a")
	wantEq(t, "a.State", a.State, store.TriggerWaiting)
	wantTime(t, "a.NextFireAt", a.NextFireAt, at(10))
	wantEq(t, "a.Revision", a.Revision, 1)
	wantEq(t, "a.ConfigHash", a.ConfigHash, "h1-a")
	wantEq(t, "a.Definition", string(a.Definition), string(def("a", at(10)).Definition))
	wantEq(t, "a.Paused", a.Paused, false)
	wantEq(t, "a.TimesTriggered", a.TimesTriggered, 0)
	wantTime(t, "a.PrevFireAt", a.PrevFireAt, timeZero)
	wantTime(t, "a.CreatedAt", a.CreatedAt, t0)
	wantTime(t, "a.UpdatedAt", a.UpdatedAt, t0)
	wantEq(t, "none.State", getTrigger(t, b, "none").State, store.TriggerComplete)
	wantEq(t, "c.Paused", getTrigger(t, b, "c").Paused, true)
	if res[1].Trigger.Revision != 1 || !res[1].Trigger.NextFireAt.Equal(at(10)) {
		t.Fatalf("result trigger = %+v, want the stored trigger", res[1].Trigger)
	}
	// Definitions default to JSON null.
	upsert(t, b, store.TriggerDef{ScheduleID: "nodef", ConfigHash: "x", NextFireAt: at(1)})
	wantEq(t, "nodef.Definition", string(getTrigger(t, b, "nodef").Definition), "null")
}

func testUpsertUnchanged(t *testing.T, b *bundle) {
	upsert(t, b, def("a", at(10)))
	acq := acquireOne(t, b, "n1", at(10))
	mustFire(t, b, "n1", store.CompleteFire{ScheduleID: "a", Revision: acq.Revision, StartedAt: at(10), NextFireAt: at(70)})
	before := getTrigger(t, b, "a")

	// A restart (or a second node) upserts the same config with a freshly
	// computed first fire time: the stored fire state wins.
	res := upsert(t, b, def("a", at(100)))
	wantEq(t, "action", res[0].Action, store.UpsertUnchanged)
	after := getTrigger(t, b, "a")
	wantTime(t, "NextFireAt", after.NextFireAt, at(70))
	wantTime(t, "PrevFireAt", after.PrevFireAt, at(10))
	wantEq(t, "TimesTriggered", after.TimesTriggered, 1)
	wantEq(t, "Revision", after.Revision, before.Revision)
	wantEq(t, "result revision", res[0].Trigger.Revision, before.Revision)
	wantTime(t, "result NextFireAt", res[0].Trigger.NextFireAt, at(70))
}

func testUpsertChanged(t *testing.T, b *bundle) {
	upsert(t, b, def("a", at(10)))
	acq := acquireOne(t, b, "n1", at(10))
	mustFire(t, b, "n1", store.CompleteFire{ScheduleID: "a", Revision: acq.Revision, StartedAt: at(10), NextFireAt: at(70)})
	if _, err := b.s.PauseTriggers(b.ctx, store.PauseTriggersParams{ScheduleIDs: []string{"a"}, Paused: true, Now: at(11)}); err != nil {
		t.Fatal(err)
	}
	before := getTrigger(t, b, "a")

	d := def("a", at(40))
	d.ConfigHash = "h2"
	d.Definition = json.RawMessage(`{"schedule":"30 * * * * ?"}`)
	res := upsert(t, b, d)
	wantEq(t, "action", res[0].Action, store.UpsertUpdated)
	after := getTrigger(t, b, "a")
	wantEq(t, "ConfigHash", after.ConfigHash, "h2")
	wantEq(t, "Definition", string(after.Definition), `{"schedule":"30 * * * * ?"}`)
	wantTime(t, "NextFireAt", after.NextFireAt, at(40))
	wantTime(t, "PrevFireAt (kept)", after.PrevFireAt, at(10))
	wantEq(t, "TimesTriggered (kept)", after.TimesTriggered, 1)
	wantEq(t, "Paused (kept)", after.Paused, true)
	wantEq(t, "Revision", after.Revision, before.Revision+1)
	wantEq(t, "State", after.State, store.TriggerWaiting)

	// A changed definition without a next fire time completes the trigger,
	// and a later one with a next fire time revives it.
	d.ConfigHash, d.NextFireAt = "h3", timeZero
	upsert(t, b, d)
	wantEq(t, "State", getTrigger(t, b, "a").State, store.TriggerComplete)
	d.ConfigHash, d.NextFireAt = "h4", at(50)
	upsert(t, b, d)
	wantEq(t, "State", getTrigger(t, b, "a").State, store.TriggerWaiting)
}

func testUpsertChangedWhileAcquired(t *testing.T, b *bundle) {
	upsert(t, b, def("a", at(10)))
	acq := acquireOne(t, b, "n1", at(10))
	d := def("a", at(40))
	d.ConfigHash = "h2"
	res := upsert(t, b, d)
	wantEq(t, "action", res[0].Action, store.UpsertUpdated)
	tr := getTrigger(t, b, "a")
	wantEq(t, "State", tr.State, store.TriggerWaiting)
	wantEq(t, "NodeID", tr.NodeID, "")
	// The node holding the old definition cannot fire it any more.
	r := fire(t, b, "n1", store.CompleteFire{ScheduleID: "a", Revision: acq.Revision, NextFireAt: at(70)})
	wantErr(t, "CompleteFires after a definition change", r.Err, store.ErrConflict)
	if _, err := b.s.GetRun(b.ctx, store.GetRunParams{ID: acq.FireID}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetRun(%s) = %v, want ErrNotFound (nothing recorded)", acq.FireID, err)
	}
}

func testUpsertChangedWhileBlocked(t *testing.T, b *bundle) {
	upsert(t, b, def("a", at(10)))
	acq := acquireOne(t, b, "n1", at(10))
	fr := mustFire(t, b, "n1", store.CompleteFire{ScheduleID: "a", Revision: acq.Revision, NextFireAt: at(70), Block: true})
	d := def("a", at(40))
	d.ConfigHash = "h2"
	upsert(t, b, d)
	tr := getTrigger(t, b, "a")
	wantEq(t, "State", tr.State, store.TriggerBlocked)
	wantEq(t, "BlockingRunID", tr.BlockingRunID, fr.Run.ID)
	finish(t, b, "n1", store.FinishRun{ID: fr.Run.ID, Status: store.RunSucceeded})
	tr = getTrigger(t, b, "a")
	wantEq(t, "State after finish", tr.State, store.TriggerWaiting)
	wantTime(t, "NextFireAt", tr.NextFireAt, at(40))
}

func testUpsertInvalid(t *testing.T, b *bundle) {
	for name, defs := range map[string][]store.TriggerDef{
		"empty id":     {{ScheduleID: "", ConfigHash: "x"}},
		"duplicate id": {def("a", at(1)), def("a", at(2))},
		"invalid JSON": {{ScheduleID: "a", Definition: json.RawMessage(`{"x":`)}},
	} {
		_, err := b.s.UpsertTriggers(b.ctx, store.UpsertTriggersParams{Triggers: defs})
		wantErr(t, name, err, store.ErrInvalid)
	}
	ts, err := b.s.ListTriggers(b.ctx, store.ListTriggersParams{})
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "triggers after invalid upserts", len(ts), 0)
}

// testUpsertConcurrent starts several nodes with the same config at once:
// each trigger exists once, inserted by exactly one of them.
func testUpsertConcurrent(t *testing.T, b *bundle) {
	const nodes, n = 6, 120
	var defs []store.TriggerDef
	for i := range n {
		defs = append(defs, def(fmt.Sprintf("s%03d", i), at(i)))
	}
	hs := b.handles(nodes)
	results := make([][]store.UpsertTriggerResult, nodes)
	parallel(t, nodes, func(i int) error {
		// Each node lists the schedules in its own order.
		mine := append([]store.TriggerDef(nil), defs...)
		if i%2 == 1 {
			for l, r := 0, len(mine)-1; l < r; l, r = l+1, r-1 {
				mine[l], mine[r] = mine[r], mine[l]
			}
		}
		var err error
		results[i], err = hs[i].UpsertTriggers(b.ctx, store.UpsertTriggersParams{Triggers: mine, Now: t0})
		return err
	})
	inserted := map[string]int{}
	for _, rs := range results {
		for _, r := range rs {
			if r.Action == store.UpsertInserted {
				inserted[r.Trigger.ScheduleID]++
			} else if r.Action != store.UpsertUnchanged {
				t.Fatalf("%s: action %s, want inserted or unchanged", r.Trigger.ScheduleID, r.Action)
			}
		}
	}
	for _, d := range defs {
		if inserted[d.ScheduleID] != 1 {
			t.Fatalf("%s inserted %d times, want 1", d.ScheduleID, inserted[d.ScheduleID])
		}
	}
	ts, err := b.s.ListTriggers(b.ctx, store.ListTriggersParams{})
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "triggers", len(ts), n)
	for _, tr := range ts {
		wantEq(t, tr.ScheduleID+" revision", tr.Revision, 1)
	}
}

func testGetTriggerNotFound(t *testing.T, b *bundle) {
	_, err := b.s.GetTrigger(b.ctx, store.GetTriggerParams{ScheduleID: "nope"})
	wantErr(t, "GetTrigger(nope)", err, store.ErrNotFound)
	if !strings.Contains(err.Error(), "nope") {
		t.Fatalf("error %q does not name the trigger", err)
	}
}

func testListTriggers(t *testing.T, b *bundle) {
	upsert(t, b, def("c", at(1)), def("a", at(2)), def("b", at(30)), def("done", timeZero))
	acquire(t, b, "n1", at(5), 10) // c and a
	all, err := b.s.ListTriggers(b.ctx, store.ListTriggersParams{})
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "order", fmt.Sprint(ids(all, triggerID)), "[a b c done]")
	if all[0].ScheduleID != "a" || all[3].ScheduleID != "done" {
		t.Fatalf("ListTriggers not ordered by id: %v", all)
	}
	acquired, err := b.s.ListTriggers(b.ctx, store.ListTriggersParams{State: store.TriggerAcquired})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "acquired", ids(acquired, triggerID), "a", "c")
	byNode, err := b.s.ListTriggers(b.ctx, store.ListTriggersParams{NodeID: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "acquired by n1", ids(byNode, triggerID), "a", "c")
	none, err := b.s.ListTriggers(b.ctx, store.ListTriggersParams{NodeID: "n2"})
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "acquired by n2", len(none), 0)
}

func testDeleteTriggers(t *testing.T, b *bundle) {
	upsert(t, b, def("a", at(1)), def("b", at(2)), def("c", at(3)))
	n, err := b.s.DeleteTriggers(b.ctx, store.DeleteTriggersParams{ScheduleIDs: []string{"a", "c", "missing"}})
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "deleted", n, 2)
	ts, err := b.s.ListTriggers(b.ctx, store.ListTriggersParams{})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "left", ids(ts, triggerID), "b")
	n, err = b.s.DeleteTriggers(b.ctx, store.DeleteTriggersParams{})
	if err != nil || n != 0 {
		t.Fatalf("DeleteTriggers(none) = %d, %v; want 0, nil", n, err)
	}
}

func testPauseTriggers(t *testing.T, b *bundle) {
	upsert(t, b, def("a", at(1)), def("b", at(2)), def("c", at(3)))
	changed, err := b.s.PauseTriggers(b.ctx, store.PauseTriggersParams{ScheduleIDs: []string{"a", "b"}, Paused: true, Now: at(0)})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "paused", ids(changed, triggerID), "a", "b")
	if !changed[0].Paused || changed[0].Revision != 2 {
		t.Fatalf("paused trigger = %+v, want paused at revision 2", changed[0])
	}
	acq := acquire(t, b, "n1", at(100), 10)
	wantIDs(t, "acquired while a, b paused", ids(triggersOf(acq), triggerID), "c")

	// Pausing again changes nothing.
	changed, err = b.s.PauseTriggers(b.ctx, store.PauseTriggersParams{ScheduleIDs: []string{"a"}, Paused: true})
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "changed by a second pause", len(changed), 0)

	changed, err = b.s.PauseTriggers(b.ctx, store.PauseTriggersParams{All: true, Paused: false})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "resumed", ids(changed, triggerID), "a", "b")
	acq = acquire(t, b, "n1", at(100), 10)
	wantIDs(t, "acquired after resume", ids(triggersOf(acq), triggerID), "a", "b")

	changed, err = b.s.PauseTriggers(b.ctx, store.PauseTriggersParams{All: true, Paused: true})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "pause all", ids(changed, triggerID), "a", "b", "c")
}

func testPauseWhileAcquired(t *testing.T, b *bundle) {
	upsert(t, b, def("a", at(1)))
	acq := acquireOne(t, b, "n1", at(1))
	if _, err := b.s.PauseTriggers(b.ctx, store.PauseTriggersParams{ScheduleIDs: []string{"a"}, Paused: true}); err != nil {
		t.Fatal(err)
	}
	tr := getTrigger(t, b, "a")
	wantEq(t, "State", tr.State, store.TriggerWaiting)
	wantEq(t, "Paused", tr.Paused, true)
	r := fire(t, b, "n1", store.CompleteFire{ScheduleID: "a", Revision: acq.Revision, NextFireAt: at(60)})
	wantErr(t, "CompleteFires of a trigger paused meanwhile", r.Err, store.ErrConflict)
	// Resumed, it is due again for the same scheduled time.
	if _, err := b.s.PauseTriggers(b.ctx, store.PauseTriggersParams{ScheduleIDs: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	again := acquireOne(t, b, "n2", at(5))
	wantEq(t, "FireID", again.FireID, acq.FireID)
}

func triggersOf(acq []store.Acquired) []store.Trigger {
	out := make([]store.Trigger, len(acq))
	for i, a := range acq {
		out[i] = a.Trigger
	}
	return out
}

func testAcquireOrder(t *testing.T, b *bundle) {
	upsert(t, b, def("e", at(5)), def("d", at(4)), def("c", at(3)), def("b", at(2)), def("a", at(2)), def("later", at(100)))
	acq := acquire(t, b, "n1", at(3), 2)
	if len(acq) != 2 || acq[0].ScheduleID != "a" || acq[1].ScheduleID != "b" {
		t.Fatalf("first batch = %v, want [a b] (earliest first, then by id)", ids(triggersOf(acq), triggerID))
	}
	a := acq[0]
	wantEq(t, "State", a.State, store.TriggerAcquired)
	wantEq(t, "NodeID", a.NodeID, "n1")
	wantTime(t, "AcquiredAt", a.AcquiredAt, at(3))
	wantTime(t, "ScheduledAt", a.ScheduledAt, at(2))
	wantEq(t, "Revision", a.Revision, 2)
	wantEq(t, "FireID", a.FireID, "a@2030-01-02T03:04:07Z")
	wantEq(t, "FireID", a.FireID, store.FireID("a", at(2)))
	stored := getTrigger(t, b, "a")
	wantEq(t, "stored NodeID", stored.NodeID, "n1")
	wantEq(t, "stored Revision", stored.Revision, a.Revision)

	acq = acquire(t, b, "n2", at(3), 10)
	wantIDs(t, "second batch", ids(triggersOf(acq), triggerID), "c")
	acq = acquire(t, b, "n2", at(3), 10)
	wantEq(t, "third batch", len(acq), 0)

	// NoLaterThan acquires ahead of time.
	acq, err := b.s.AcquireDue(b.ctx, store.AcquireParams{Node: "n2", Now: at(3), NoLaterThan: at(4)})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "ahead", ids(triggersOf(acq), triggerID), "d")
	wantTime(t, "AcquiredAt", acq[0].AcquiredAt, at(3))
}

func testAcquireSkips(t *testing.T, b *bundle) {
	paused := def("paused", at(1))
	paused.Paused = true
	upsert(t, b, paused, def("complete", timeZero), def("held", at(1)), def("due", at(1)))
	acquireOne(t, b, "n1", at(1)) // "due" sorts before "held"
	acq := acquire(t, b, "n2", at(50), 10)
	wantIDs(t, "acquired", ids(triggersOf(acq), triggerID), "held")
	acq = acquire(t, b, "n3", at(50), 10)
	wantEq(t, "acquired", len(acq), 0)
}

func testAcquireInvalid(t *testing.T, b *bundle) {
	_, err := b.s.AcquireDue(b.ctx, store.AcquireParams{Now: at(1)})
	wantErr(t, "AcquireDue without a node", err, store.ErrInvalid)
}

// testAcquireConcurrentOneShots: several nodes race for one-shot triggers;
// each fires exactly once.
func testAcquireConcurrentOneShots(t *testing.T, b *bundle) {
	const nodes, perNode, n = 4, 2, 300
	var defs []store.TriggerDef
	for i := range n {
		defs = append(defs, def(fmt.Sprintf("o%03d", i), at(i%7)))
	}
	upsert(t, b, defs...)
	hs := b.handles(nodes)
	fired := make([][]string, nodes*perNode)
	parallel(t, nodes*perNode, func(w int) error {
		s, node := hs[w%nodes], fmt.Sprintf("node%d", w%nodes)
		for {
			acq, err := s.AcquireDue(b.ctx, store.AcquireParams{Node: node, Now: at(10), Limit: 7})
			if err != nil {
				return err
			}
			if len(acq) == 0 {
				return nil
			}
			fires := make([]store.CompleteFire, len(acq))
			for i, a := range acq {
				fires[i] = store.CompleteFire{ScheduleID: a.ScheduleID, Revision: a.Revision, StartedAt: at(10)}
			}
			res, err := s.CompleteFires(b.ctx, store.CompleteFiresParams{Node: node, Fires: fires})
			if err != nil {
				return err
			}
			var fin []store.FinishRun
			for i, r := range res {
				if r.Err != nil {
					return fmt.Errorf("%s: CompleteFires(%s): %w", node, acq[i].ScheduleID, r.Err)
				}
				fired[w] = append(fired[w], r.Run.ID)
				fin = append(fin, store.FinishRun{ID: r.Run.ID, Status: store.RunSucceeded})
			}
			fr, err := s.FinishRuns(b.ctx, store.FinishRunsParams{Node: node, Runs: fin})
			if err != nil {
				return err
			}
			for _, r := range fr {
				if r.Err != nil {
					return r.Err
				}
			}
		}
	})
	count := map[string]int{}
	for _, f := range fired {
		for _, id := range f {
			count[id]++
		}
	}
	wantEq(t, "distinct fires", len(count), n)
	for id, c := range count {
		if c != 1 {
			t.Fatalf("%s fired %d times", id, c)
		}
	}
	runs, err := b.s.ListRuns(b.ctx, store.ListRunsParams{Status: store.RunSucceeded, Limit: 2 * n})
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "succeeded runs", len(runs), n)
	ts, err := b.s.ListTriggers(b.ctx, store.ListTriggersParams{State: store.TriggerComplete})
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "complete triggers", len(ts), n)
}

// testAcquireConcurrentRecurring: repeating triggers, all overdue, raced by
// several nodes through ten fires each: every scheduled time fires exactly
// once, in order, whichever node takes it.
func testAcquireConcurrentRecurring(t *testing.T, b *bundle) {
	const nodes, n, fires = 4, 40, 10
	var defs []store.TriggerDef
	for i := range n {
		defs = append(defs, def(fmt.Sprintf("r%02d", i), at(0)))
	}
	upsert(t, b, defs...)
	hs := b.handles(nodes)
	var mu sync.Mutex
	count := map[string]int{}
	parallel(t, nodes*2, func(w int) error {
		s, node := hs[w%nodes], fmt.Sprintf("node%d", w%nodes)
		for {
			acq, err := s.AcquireDue(b.ctx, store.AcquireParams{Node: node, Now: at(3600), Limit: 5})
			if err != nil {
				return err
			}
			if len(acq) == 0 {
				return nil
			}
			var fs []store.CompleteFire
			for _, a := range acq {
				next := a.ScheduledAt.Add(time.Second)
				if !next.Before(at(fires)) {
					next = time.Time{}
				}
				fs = append(fs, store.CompleteFire{ScheduleID: a.ScheduleID, Revision: a.Revision, NextFireAt: next})
			}
			res, err := s.CompleteFires(b.ctx, store.CompleteFiresParams{Node: node, Fires: fs})
			if err != nil {
				return err
			}
			for i, r := range res {
				if r.Err != nil {
					return fmt.Errorf("%s: CompleteFires(%s): %w", node, acq[i].FireID, r.Err)
				}
				if r.Run.ID != acq[i].FireID {
					return fmt.Errorf("run id %s, want %s", r.Run.ID, acq[i].FireID)
				}
				mu.Lock()
				count[r.Run.ID]++
				mu.Unlock()
			}
		}
	})
	wantEq(t, "distinct fires", len(count), n*fires)
	for _, d := range defs {
		for k := range fires {
			if id := store.FireID(d.ScheduleID, at(k)); count[id] != 1 {
				t.Fatalf("%s fired %d times, want 1", id, count[id])
			}
		}
		tr := getTrigger(t, b, d.ScheduleID)
		wantEq(t, d.ScheduleID+" TimesTriggered", tr.TimesTriggered, fires)
		wantEq(t, d.ScheduleID+" State", tr.State, store.TriggerComplete)
		wantTime(t, d.ScheduleID+" PrevFireAt", tr.PrevFireAt, at(fires-1))
	}
}

func testCompleteRecords(t *testing.T, b *bundle) {
	upsert(t, b, def("a", at(10)))
	acq := acquireOne(t, b, "n1", at(11))
	fr := mustFire(t, b, "n1", store.CompleteFire{
		ScheduleID: "a", Revision: acq.Revision, StartedAt: at(11), NextFireAt: at(70), Recoverable: true,
	})
	want := store.Run{
		ID: "a@2030-01-02T03:04:15Z", ScheduleID: "a", ScheduledAt: at(10), StartedAt: at(11),
		Node: "n1", Status: store.RunRunning, Recoverable: true, Attempt: 1,
	}
	wantRun(t, "result run", fr.Run, want)
	wantRun(t, "stored run", getRun(t, b, want.ID), want)
	tr := getTrigger(t, b, "a")
	wantEq(t, "State", tr.State, store.TriggerWaiting)
	wantTime(t, "NextFireAt", tr.NextFireAt, at(70))
	wantTime(t, "PrevFireAt", tr.PrevFireAt, at(10))
	wantEq(t, "TimesTriggered", tr.TimesTriggered, 1)
	wantEq(t, "NodeID", tr.NodeID, "")
	wantEq(t, "LastNodeID", tr.LastNodeID, "n1")
	wantEq(t, "Revision", tr.Revision, acq.Revision+1)
	wantTime(t, "AcquiredAt", tr.AcquiredAt, timeZero)
	wantEq(t, "result trigger revision", fr.Trigger.Revision, tr.Revision)

	// The same acquisition cannot fire twice.
	r := fire(t, b, "n1", store.CompleteFire{ScheduleID: "a", Revision: acq.Revision, NextFireAt: at(70)})
	wantErr(t, "second CompleteFires", r.Err, store.ErrConflict)
	// Not due before 70 s.
	wantEq(t, "acquired early", len(acquire(t, b, "n2", at(69), 10)), 0)
	next := acquireOne(t, b, "n2", at(70))
	wantEq(t, "next FireID", next.FireID, store.FireID("a", at(70)))
}

func wantRun(t *testing.T, what string, got, want store.Run) {
	t.Helper()
	g, w := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want)
	if g != w || !got.ScheduledAt.Equal(want.ScheduledAt) || !got.StartedAt.Equal(want.StartedAt) || !got.EndedAt.Equal(want.EndedAt) {
		t.Fatalf("%s =\n  %s\nwant\n  %s", what, g, w)
	}
}

func testCompleteOneShot(t *testing.T, b *bundle) {
	upsert(t, b, def("once", at(10)))
	acq := acquireOne(t, b, "n1", at(10))
	fr := mustFire(t, b, "n1", store.CompleteFire{ScheduleID: "once", Revision: acq.Revision})
	wantEq(t, "State", fr.Trigger.State, store.TriggerComplete)
	wantTime(t, "NextFireAt", fr.Trigger.NextFireAt, timeZero)
	wantEq(t, "acquired after completion", len(acquire(t, b, "n1", at(1000), 10)), 0)
	if fr.Run.StartedAt.IsZero() {
		t.Fatal("StartedAt defaulted to zero, want now")
	}
}

func testCompleteConflicts(t *testing.T, b *bundle) {
	upsert(t, b, def("a", at(1)), def("b", at(1)), def("c", at(1)), def("d", at(1)))
	acq := acquire(t, b, "n1", at(1), 10)
	rev := map[string]int64{}
	for _, a := range acq {
		rev[a.ScheduleID] = a.Revision
	}
	res, err := b.s.ReleaseTriggers(b.ctx, store.ReleaseTriggersParams{Node: "n1", Triggers: []store.ReleaseTrigger{{ScheduleID: "c", Revision: rev["c"]}}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("ReleaseTriggers(c) = %v, %v", res, err)
	}
	frs, err := b.s.CompleteFires(b.ctx, store.CompleteFiresParams{Node: "n1", Fires: []store.CompleteFire{
		{ScheduleID: "a", Revision: rev["a"] + 1, NextFireAt: at(2)}, // wrong revision
		{ScheduleID: "b", Revision: rev["b"], NextFireAt: at(2)},     // fine
		{ScheduleID: "c", Revision: rev["c"], NextFireAt: at(2)},     // released
		{ScheduleID: "zz", Revision: 1, NextFireAt: at(2)},           // unknown
		{ScheduleID: "d", Revision: rev["d"], NextFireAt: at(2)},     // fine
	}})
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "wrong revision", frs[0].Err, store.ErrConflict)
	if frs[1].Err != nil || frs[4].Err != nil {
		t.Fatalf("valid fires failed: %v, %v", frs[1].Err, frs[4].Err)
	}
	wantErr(t, "released", frs[2].Err, store.ErrConflict)
	wantErr(t, "unknown", frs[3].Err, store.ErrNotFound)
	wantEq(t, "a untouched", getTrigger(t, b, "a").State, store.TriggerAcquired)
	// Another node cannot fire what n1 holds.
	r := fire(t, b, "n2", store.CompleteFire{ScheduleID: "a", Revision: rev["a"], NextFireAt: at(2)})
	wantErr(t, "other node", r.Err, store.ErrConflict)
	runs, err := b.s.ListRuns(b.ctx, store.ListRunsParams{})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "recorded runs", ids(runs, runID), store.FireID("b", at(1)), store.FireID("d", at(1)))

	_, err = b.s.CompleteFires(b.ctx, store.CompleteFiresParams{Fires: []store.CompleteFire{{ScheduleID: "a"}}})
	wantErr(t, "no node", err, store.ErrInvalid)
	_, err = b.s.CompleteFires(b.ctx, store.CompleteFiresParams{Node: "n1", Fires: []store.CompleteFire{{ScheduleID: "a", Status: "bogus"}}})
	wantErr(t, "bogus status", err, store.ErrInvalid)
}

func testCompleteAlreadyFired(t *testing.T, b *bundle) {
	upsert(t, b, def("a", at(10)))
	// A run for the same fire id exists already (say, a fire recorded by a
	// previous definition with the same schedule).
	if _, err := b.s.StartRun(b.ctx, store.StartRunParams{ScheduleID: "a", ScheduledAt: at(10), Node: "n0"}); err != nil {
		t.Fatal(err)
	}
	acq := acquireOne(t, b, "n1", at(10))
	r := fire(t, b, "n1", store.CompleteFire{ScheduleID: "a", Revision: acq.Revision, NextFireAt: at(70), Block: true})
	wantErr(t, "CompleteFires of a recorded fire", r.Err, store.ErrAlreadyFired)
	// The trigger moved on, and is not blocked by a run that is not its own.
	tr := getTrigger(t, b, "a")
	wantEq(t, "State", tr.State, store.TriggerWaiting)
	wantTime(t, "NextFireAt", tr.NextFireAt, at(70))
	wantEq(t, "run node", getRun(t, b, acq.FireID).Node, "n0")
}

func testCompleteBlock(t *testing.T, b *bundle) {
	upsert(t, b, def("a", at(10)))
	acq := acquireOne(t, b, "n1", at(10))
	fr := mustFire(t, b, "n1", store.CompleteFire{ScheduleID: "a", Revision: acq.Revision, NextFireAt: at(20), Block: true})
	tr := getTrigger(t, b, "a")
	wantEq(t, "State", tr.State, store.TriggerBlocked)
	wantEq(t, "BlockingRunID", tr.BlockingRunID, fr.Run.ID)
	wantEq(t, "acquired while blocked", len(acquire(t, b, "n2", at(30), 10)), 0)
	finish(t, b, "n1", store.FinishRun{ID: fr.Run.ID, Status: store.RunSucceeded, EndedAt: at(31)})
	tr = getTrigger(t, b, "a")
	wantEq(t, "State", tr.State, store.TriggerWaiting)
	wantEq(t, "BlockingRunID", tr.BlockingRunID, "")
	// Overdue now; the acquirer applies the misfire policy.
	next := acquireOne(t, b, "n2", at(31))
	wantTime(t, "ScheduledAt", next.ScheduledAt, at(20))
}

func testCompleteTerminal(t *testing.T, b *bundle) {
	upsert(t, b, def("a", at(10)))
	acq := acquireOne(t, b, "n1", at(10))
	fr := mustFire(t, b, "n1", store.CompleteFire{
		ScheduleID: "a", Revision: acq.Revision, StartedAt: at(10), NextFireAt: at(20), Block: true,
		Status: store.RunSkipped, Error: "service not found",
	})
	wantEq(t, "Status", fr.Run.Status, store.RunSkipped)
	wantEq(t, "Error", fr.Run.Error, "service not found")
	wantTime(t, "EndedAt", fr.Run.EndedAt, at(10))
	wantRun(t, "stored", getRun(t, b, fr.Run.ID), fr.Run)
	wantEq(t, "trigger State (no block for a finished run)", getTrigger(t, b, "a").State, store.TriggerWaiting)
}

func testCompleteScheduledOverride(t *testing.T, b *bundle) {
	upsert(t, b, def("a", at(10)))
	acq := acquireOne(t, b, "n1", at(500))
	fr := mustFire(t, b, "n1", store.CompleteFire{ScheduleID: "a", Revision: acq.Revision, ScheduledAt: at(500), NextFireAt: at(560)})
	wantEq(t, "run id", fr.Run.ID, store.FireID("a", at(500)))
	wantTime(t, "PrevFireAt", fr.Trigger.PrevFireAt, at(500))
}

func testRelease(t *testing.T, b *bundle) {
	upsert(t, b, def("keep", at(1)), def("move", at(1)), def("end", at(1)), def("other", at(1)))
	acq := acquire(t, b, "n1", at(1), 10)
	rev := map[string]int64{}
	for _, a := range acq {
		rev[a.ScheduleID] = a.Revision
	}
	res, err := b.s.ReleaseTriggers(b.ctx, store.ReleaseTriggersParams{Node: "n1", Now: at(2), Triggers: []store.ReleaseTrigger{
		{ScheduleID: "keep", Revision: rev["keep"]},
		{ScheduleID: "move", Revision: rev["move"], Reschedule: true, NextFireAt: at(60)},
		{ScheduleID: "end", Revision: rev["end"], Reschedule: true},
		{ScheduleID: "other", Revision: rev["other"] - 1},
		{ScheduleID: "zz", Revision: 1},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if res[i].Err != nil {
			t.Fatalf("release %d: %v", i, res[i].Err)
		}
	}
	wantErr(t, "stale revision", res[3].Err, store.ErrConflict)
	wantErr(t, "unknown", res[4].Err, store.ErrNotFound)
	keep := getTrigger(t, b, "keep")
	wantEq(t, "keep.State", keep.State, store.TriggerWaiting)
	wantEq(t, "keep.NodeID", keep.NodeID, "")
	wantTime(t, "keep.NextFireAt", keep.NextFireAt, at(1))
	wantEq(t, "keep.TimesTriggered", keep.TimesTriggered, 0)
	wantEq(t, "keep result revision", res[0].Trigger.Revision, keep.Revision)
	wantTime(t, "move.NextFireAt", getTrigger(t, b, "move").NextFireAt, at(60))
	wantEq(t, "end.State", getTrigger(t, b, "end").State, store.TriggerComplete)
	// Released triggers are acquirable again, for the same fire.
	again := acquire(t, b, "n2", at(2), 10)
	wantIDs(t, "reacquired", ids(triggersOf(again), triggerID), "keep")
	// A release by a node that does not hold the trigger fails.
	res, err = b.s.ReleaseTriggers(b.ctx, store.ReleaseTriggersParams{Node: "n1", Triggers: []store.ReleaseTrigger{{ScheduleID: "keep", Revision: again[0].Revision}}})
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "release by another node", res[0].Err, store.ErrConflict)
}
