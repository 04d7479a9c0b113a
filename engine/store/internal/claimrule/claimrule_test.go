package claimrule

import (
	"errors"
	"testing"
	"time"

	"sundial/engine/store"
)

// TestDecide: which stored trigger gives a fire to the claiming node, and
// what the winner leaves behind.
func TestDecide(t *testing.T) {
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	waiting := store.Trigger{ScheduleID: "a", ConfigHash: "h", State: store.TriggerWaiting, NextFireAt: at(10), Revision: 3}
	with := func(change func(*store.Trigger)) *store.Trigger {
		tr := waiting
		change(&tr)
		return &tr
	}
	fire := store.ClaimFire{ScheduleID: "a", ConfigHash: "h", FireID: "a@10", ScheduledAt: at(10), StartedAt: at(11),
		NextFireAt: at(70), TimesTriggered: 1}
	for _, tc := range []struct {
		name      string
		trigger   *store.Trigger // nil: not stored
		recorded  bool           // a run has the fire id
		change    func(*store.ClaimFire)
		wantErr   error
		wantState store.TriggerState
	}{
		{name: "wins", trigger: with(func(*store.Trigger) {}), wantState: store.TriggerWaiting},
		{name: "wins late (misfire fired now)", trigger: with(func(*store.Trigger) {}),
			change: func(f *store.ClaimFire) { f.ScheduledAt, f.FireID = at(40), "a@40" }, wantState: store.TriggerWaiting},
		{name: "wins and blocks", trigger: with(func(*store.Trigger) {}), change: func(f *store.ClaimFire) { f.Block = true },
			wantState: store.TriggerBlocked},
		{name: "wins the last fire", trigger: with(func(*store.Trigger) {}), change: func(f *store.ClaimFire) { f.NextFireAt = time.Time{} },
			wantState: store.TriggerComplete},
		{name: "no trigger", wantErr: store.ErrNotFound},
		{name: "already fired", trigger: with(func(*store.Trigger) {}), recorded: true, wantErr: store.ErrAlreadyFired},
		{name: "other config version", trigger: with(func(tr *store.Trigger) { tr.ConfigHash = "h2" }), wantErr: store.ErrConflict},
		{name: "paused", trigger: with(func(tr *store.Trigger) { tr.Paused = true }), wantErr: store.ErrConflict},
		{name: "blocked", trigger: with(func(tr *store.Trigger) { tr.State = store.TriggerBlocked }), wantErr: store.ErrConflict},
		{name: "complete", trigger: with(func(tr *store.Trigger) { tr.State, tr.NextFireAt = store.TriggerComplete, time.Time{} }),
			wantErr: store.ErrConflict},
		{name: "fired past it", trigger: with(func(tr *store.Trigger) { tr.NextFireAt = at(70) }), wantErr: store.ErrConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := fire
			if tc.change != nil {
				tc.change(&f)
			}
			triggers := map[string]*store.Trigger{}
			if tc.trigger != nil {
				triggers["a"] = tc.trigger
			}
			existing := map[string]store.Run{}
			if tc.recorded {
				existing[f.FireID] = store.Run{ID: f.FireID, Node: "n0"}
			}
			res, runs, changed := Decide("n1", []store.ClaimFire{f}, triggers, existing)
			r := res[0]
			if tc.wantErr != nil {
				if !errors.Is(r.Err, tc.wantErr) || len(runs) != 0 || len(changed) != 0 {
					t.Fatalf("Decide = %v, %d runs, changed %v; want %v and nothing written", r.Err, len(runs), changed, tc.wantErr)
				}
				if tc.trigger != nil && r.Trigger.Revision != waiting.Revision {
					t.Fatalf("refusing trigger at revision %d, want the stored one untouched", r.Trigger.Revision)
				}
				return
			}
			if r.Err != nil || len(runs) != 1 || len(changed) != 1 {
				t.Fatalf("Decide = %v, %d runs, changed %v; want a win", r.Err, len(runs), changed)
			}
			tr := r.Trigger
			if tr.State != tc.wantState || !tr.PrevFireAt.Equal(f.ScheduledAt) || !tr.NextFireAt.Equal(f.NextFireAt) ||
				tr.TimesTriggered != 1 || tr.LastNodeID != "n1" || tr.Revision != waiting.Revision+1 {
				t.Fatalf("trigger after the win = %+v", tr)
			}
			if want := store.FireID("a", f.ScheduledAt); tc.wantState == store.TriggerBlocked && tr.BlockingRunID != want {
				t.Fatalf("BlockingRunID = %q, want %q", tr.BlockingRunID, want)
			}
			if run := runs[0]; run.ID != f.FireID || run.Node != "n1" || run.Status != store.RunRunning || run.Attempt != 1 {
				t.Fatalf("run = %+v", run)
			}
		})
	}
}

// TestDecideInOrder: fires of one schedule in one call apply in order, each
// seeing the trigger as the previous one left it; a fire id given again
// after its win is already fired.
func TestDecideInOrder(t *testing.T) {
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tr := &store.Trigger{ScheduleID: "a", ConfigHash: "h", State: store.TriggerWaiting, NextFireAt: t0}
	first := store.ClaimFire{ScheduleID: "a", ConfigHash: "h", FireID: "a#1", ScheduledAt: t0, NextFireAt: t0.Add(time.Minute)}
	second := first
	second.FireID, second.ScheduledAt, second.NextFireAt = "a#2", t0.Add(time.Minute), time.Time{}
	stale := first
	stale.FireID = "a#0"
	res, runs, changed := Decide("n", []store.ClaimFire{first, second, stale}, map[string]*store.Trigger{"a": tr}, map[string]store.Run{})
	if res[0].Err != nil || res[1].Err != nil || !errors.Is(res[2].Err, store.ErrConflict) {
		t.Fatalf("results %v, %v, %v; want two wins and a conflict", res[0].Err, res[1].Err, res[2].Err)
	}
	if len(runs) != 2 || len(changed) != 1 || tr.State != store.TriggerComplete || tr.Revision != 2 {
		t.Fatalf("%d runs, changed %v, trigger %+v", len(runs), changed, tr)
	}
	res, _, _ = Decide("n", []store.ClaimFire{first}, map[string]*store.Trigger{"a": tr}, map[string]store.Run{"a#1": runs[0]})
	if !errors.Is(res[0].Err, store.ErrAlreadyFired) || res[0].Run.ID != "a#1" {
		t.Fatalf("again = %+v, want already fired with the recorded run", res[0])
	}
}

// TestCheck: invalid claims are refused before any store work.
func TestCheck(t *testing.T) {
	ok := store.ClaimFire{ScheduleID: "a", ScheduledAt: time.Unix(1, 0)}
	for name, p := range map[string]store.ClaimFiresParams{
		"no node":      {Fires: []store.ClaimFire{ok}},
		"no schedule":  {Node: "n", Fires: []store.ClaimFire{{ScheduledAt: time.Unix(1, 0)}}},
		"no scheduled": {Node: "n", Fires: []store.ClaimFire{{ScheduleID: "a"}}},
		"twice":        {Node: "n", Fires: []store.ClaimFire{ok, ok}},
		"bad data":     {Node: "n", Fires: []store.ClaimFire{{ScheduleID: "a", ScheduledAt: time.Unix(1, 0), Data: []byte("{")}}},
	} {
		if _, err := Check(p); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	fires, err := Check(store.ClaimFiresParams{Node: "n", Fires: []store.ClaimFire{ok}})
	if err != nil || fires[0].FireID != store.FireID("a", time.Unix(1, 0)) || fires[0].StartedAt.IsZero() {
		t.Fatalf("Check = %+v, %v; want the fire id and start filled in", fires, err)
	}
}
