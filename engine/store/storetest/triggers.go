package storetest

import (
	"encoding/json"
	"fmt"
	"testing"

	"sundial/engine/store"
)

func init() {
	register("UpsertTriggers/Insert", testUpsertInsert)
	register("UpsertTriggers/UnchangedKeepsState", testUpsertUnchanged)
	register("UpsertTriggers/ChangedReplacesDefinition", testUpsertChanged)
	register("UpsertTriggers/ChangedWhileBlocked", testUpsertChangedWhileBlocked)
	register("UpsertTriggers/Invalid", testUpsertInvalid)
	register("UpsertTriggers/ConcurrentNodes", testUpsertConcurrent)
	register("ListTriggers", testListTriggers)
	register("DeleteTriggers", testDeleteTriggers)
	register("PauseTriggers", testPauseTriggers)
}

// claimOne claims one fire that must win.
func claimOne(t *testing.T, b *bundle, node string, f store.ClaimFire) store.ClaimResult {
	t.Helper()
	r := claim(t, b, node, f)[0]
	if r.Err != nil {
		t.Fatalf("claim %s: %v", f.ScheduleID, r.Err)
	}
	return r
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
	claimOne(t, b, "n1", claimFire("a", 10, 70))
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
	claimOne(t, b, "n1", claimFire("a", 10, 70))
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

func testUpsertChangedWhileBlocked(t *testing.T, b *bundle) {
	upsert(t, b, def("a", at(10)))
	f := claimFire("a", 10, 70)
	f.Block = true
	fr := claimOne(t, b, "n1", f)
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

func testListTriggers(t *testing.T, b *bundle) {
	upsert(t, b, def("c", at(1)), def("a", at(2)), def("b", at(30)), def("done", timeZero))
	all, err := b.s.ListTriggers(b.ctx, store.ListTriggersParams{})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(ids(all, triggerID)); got != "[a b c done]" || all[0].ScheduleID != "a" || all[3].ScheduleID != "done" {
		t.Fatalf("ListTriggers = %v, want [a b c done] in that order", got)
	}
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
	res := claim(t, b, "n1", claimFire("a", 1, 60), claimFire("c", 3, 60))
	wantErr(t, "claim of a paused trigger", res[0].Err, store.ErrConflict)
	if res[1].Err != nil {
		t.Fatalf("claim of an unpaused trigger: %v", res[1].Err)
	}

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
	// Resumed, it is due for the same fire.
	claimOne(t, b, "n2", claimFire("a", 1, 60))

	changed, err = b.s.PauseTriggers(b.ctx, store.PauseTriggersParams{All: true, Paused: true})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "pause all", ids(changed, triggerID), "a", "b", "c")
}
