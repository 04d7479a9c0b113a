package storetest

import (
	"encoding/json"
	"fmt"
	"testing"

	"sundial/engine/store"
)

func init() {
	register("StartRun", testStartRun)
	register("StartRun/Invalid", testStartRunInvalid)
	register("FinishRuns", testFinishRuns)
	register("GetRun/NotFound", testGetRunNotFound)
	register("ListRuns", testListRuns)
	register("AbandonRuns", testAbandonRuns)
	register("PruneRuns", testPruneRuns)
	register("Schedules/CRUD", testSchedulesCRUD)
	register("Schedules/Invalid", testSchedulesInvalid)
	register("Schedules/DeleteRemovesTrigger", testScheduleDeleteTrigger)
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

func testGetRunNotFound(t *testing.T, b *bundle) {
	_, err := b.s.GetRun(b.ctx, store.GetRunParams{ID: "x@y"})
	wantErr(t, "GetRun", err, store.ErrNotFound)
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
	finish(t, b, "n1", store.FinishRun{ID: store.FireID("a", at(0)), Status: store.RunSucceeded})
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
	wantIDs(t, "running on n1", ids(list(store.ListRunsParams{Node: "n1", Status: store.RunRunning}), runID),
		store.FireID("a", at(2)), store.FireID("a", at(4)))
	wantIDs(t, "succeeded", ids(list(store.ListRunsParams{Status: store.RunSucceeded}), runID), store.FireID("a", at(0)))
	page := list(store.ListRunsParams{Limit: 2})
	wantIDs(t, "first page", ids(page, runID), store.FireID("b", at(5)), store.FireID("a", at(4)))
	page = list(store.ListRunsParams{Limit: 2, Before: page[1].ScheduledAt})
	wantIDs(t, "second page", ids(page, runID), store.FireID("b", at(3)), store.FireID("a", at(2)))
}

func testAbandonRuns(t *testing.T, b *bundle) {
	upsert(t, b, def("blk", at(1)))
	acq := acquireOne(t, b, "n1", at(1))
	fr := mustFire(t, b, "n1", store.CompleteFire{ScheduleID: "blk", Revision: acq.Revision, NextFireAt: at(2), Block: true})
	for i := range 3 {
		if _, err := b.s.StartRun(b.ctx, store.StartRunParams{ScheduleID: "x", ScheduledAt: at(i), Node: "n1"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.s.StartRun(b.ctx, store.StartRunParams{ScheduleID: "x", ScheduledAt: at(9), Node: "n2"}); err != nil {
		t.Fatal(err)
	}
	finish(t, b, "n1", store.FinishRun{ID: store.FireID("x", at(2)), Status: store.RunSucceeded})

	rs, err := b.s.AbandonRuns(b.ctx, store.AbandonRunsParams{Node: "n1", IDs: []string{store.FireID("x", at(0)), store.FireID("x", at(2))}, At: at(20), Reason: "operator"})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "abandoned by id (finished runs stay)", ids(rs, runID), store.FireID("x", at(0)))
	r := getRun(t, b, store.FireID("x", at(0)))
	wantEq(t, "Status", r.Status, store.RunAbandoned)
	wantEq(t, "Error", r.Error, "operator")
	wantTime(t, "EndedAt", r.EndedAt, at(20))

	rs, err = b.s.AbandonRuns(b.ctx, store.AbandonRunsParams{Node: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "abandoned (all of n1)", ids(rs, runID), fr.Run.ID, store.FireID("x", at(1)))
	if rs[0].Error == "" {
		t.Fatal("abandoned without a reason: want a default error text")
	}
	wantEq(t, "blocked trigger released", getTrigger(t, b, "blk").State, store.TriggerWaiting)
	wantEq(t, "n2's run", getRun(t, b, store.FireID("x", at(9))).Status, store.RunRunning)
}

func testPruneRuns(t *testing.T, b *bundle) {
	for i := range 4 {
		if _, err := b.s.StartRun(b.ctx, store.StartRunParams{ScheduleID: "p", ScheduledAt: at(i), Node: "n1"}); err != nil {
			t.Fatal(err)
		}
	}
	finish(t, b, "n1",
		store.FinishRun{ID: store.FireID("p", at(0)), Status: store.RunSucceeded, EndedAt: at(10)},
		store.FinishRun{ID: store.FireID("p", at(1)), Status: store.RunFailed, EndedAt: at(20)},
		store.FinishRun{ID: store.FireID("p", at(2)), Status: store.RunSucceeded, EndedAt: at(30)},
	)
	n, err := b.s.PruneRuns(b.ctx, store.PruneRunsParams{EndedBefore: at(25)})
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "pruned", n, 2)
	rs, err := b.s.ListRuns(b.ctx, store.ListRunsParams{})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "left", ids(rs, runID), store.FireID("p", at(2)), store.FireID("p", at(3)))
	_, err = b.s.PruneRuns(b.ctx, store.PruneRunsParams{})
	wantErr(t, "no time", err, store.ErrInvalid)
}

func testSchedulesCRUD(t *testing.T, b *bundle) {
	cfg := json.RawMessage(`{"enabled":true,"type":"cron","schedule":"0 0 * * * ?","invokeService":"script"}`)
	sc, err := b.s.CreateSchedule(b.ctx, store.CreateScheduleParams{ID: "api-1", Config: cfg, Now: at(1)})
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "Revision", sc.Revision, 1)
	wantTime(t, "CreatedAt", sc.CreatedAt, at(1))
	_, err = b.s.CreateSchedule(b.ctx, store.CreateScheduleParams{ID: "api-1", Config: cfg})
	wantErr(t, "create twice", err, store.ErrAlreadyExists)

	got, err := b.s.GetSchedule(b.ctx, store.GetScheduleParams{ID: "api-1"})
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "Config", string(got.Config), string(cfg))
	wantTime(t, "UpdatedAt", got.UpdatedAt, at(1))
	_, err = b.s.GetSchedule(b.ctx, store.GetScheduleParams{ID: "nope"})
	wantErr(t, "get unknown", err, store.ErrNotFound)

	for _, id := range []string{"api-3", "api-2"} {
		if _, err := b.s.CreateSchedule(b.ctx, store.CreateScheduleParams{ID: id, Config: cfg}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := b.s.ListSchedules(b.ctx, store.ListSchedulesParams{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || all[0].ID != "api-1" || all[2].ID != "api-3" {
		t.Fatalf("ListSchedules = %v, want api-1..3 in order", all)
	}
	page, err := b.s.ListSchedules(b.ctx, store.ListSchedulesParams{AfterID: "api-1", Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 1 || page[0].ID != "api-2" {
		t.Fatalf("page after api-1 = %v, want [api-2]", page)
	}

	cfg2 := json.RawMessage(`{"enabled":false}`)
	up, err := b.s.UpdateSchedule(b.ctx, store.UpdateScheduleParams{ID: "api-1", Config: cfg2, Revision: 1, Now: at(2)})
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "updated Revision", up.Revision, 2)
	wantEq(t, "updated Config", string(up.Config), string(cfg2))
	wantTime(t, "updated UpdatedAt", up.UpdatedAt, at(2))
	wantTime(t, "updated CreatedAt", up.CreatedAt, at(1))
	_, err = b.s.UpdateSchedule(b.ctx, store.UpdateScheduleParams{ID: "api-1", Config: cfg, Revision: 1})
	wantErr(t, "update stale revision", err, store.ErrConflict)
	up, err = b.s.UpdateSchedule(b.ctx, store.UpdateScheduleParams{ID: "api-1", Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "unconditional update Revision", up.Revision, 3)
	_, err = b.s.UpdateSchedule(b.ctx, store.UpdateScheduleParams{ID: "nope", Config: cfg})
	wantErr(t, "update unknown", err, store.ErrNotFound)

	err = b.s.DeleteSchedule(b.ctx, store.DeleteScheduleParams{ID: "api-1", Revision: 2})
	wantErr(t, "delete stale revision", err, store.ErrConflict)
	if err := b.s.DeleteSchedule(b.ctx, store.DeleteScheduleParams{ID: "api-1", Revision: 3}); err != nil {
		t.Fatal(err)
	}
	err = b.s.DeleteSchedule(b.ctx, store.DeleteScheduleParams{ID: "api-1"})
	wantErr(t, "delete twice", err, store.ErrNotFound)
}

func testSchedulesInvalid(t *testing.T, b *bundle) {
	_, err := b.s.CreateSchedule(b.ctx, store.CreateScheduleParams{ID: "", Config: json.RawMessage(`{}`)})
	wantErr(t, "no id", err, store.ErrInvalid)
	_, err = b.s.CreateSchedule(b.ctx, store.CreateScheduleParams{ID: "x", Config: json.RawMessage(`{`)})
	wantErr(t, "bad JSON", err, store.ErrInvalid)
	_, err = b.s.UpdateSchedule(b.ctx, store.UpdateScheduleParams{ID: "x", Config: json.RawMessage(`nope`)})
	wantErr(t, "update bad JSON", err, store.ErrInvalid)
}

func testScheduleDeleteTrigger(t *testing.T, b *bundle) {
	if _, err := b.s.CreateSchedule(b.ctx, store.CreateScheduleParams{ID: "api-x", Config: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	upsert(t, b, def("api-x", at(1)), def("other", at(1)))
	if err := b.s.DeleteSchedule(b.ctx, store.DeleteScheduleParams{ID: "api-x"}); err != nil {
		t.Fatal(err)
	}
	_, err := b.s.GetTrigger(b.ctx, store.GetTriggerParams{ScheduleID: "api-x"})
	wantErr(t, "trigger of a deleted schedule", err, store.ErrNotFound)
	getTrigger(t, b, "other")
}
