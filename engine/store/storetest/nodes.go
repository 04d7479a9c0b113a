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
	register("CheckIn", testCheckIn)
	register("CheckIn/Skew", testCheckInSkew)
	register("DeadNodes", testDeadNodes)
	register("RecoverNode", testRecoverNode)
	register("RecoverNode/AliveRefused", testRecoverAlive)
	register("RecoverNode/OwnRestart", testRecoverOwnRestart)
	register("RecoverNode/ConcurrentRecoverersExactlyOnce", testRecoverConcurrent)
	register("CheckIn/InstanceInUse", testCheckInInstanceInUse)
	register("RecoverNode/HandsBackSchedulesItLacks", testRecoverHandsBack)
}

// near allows for the time a round trip to the database takes.
const near = 2 * time.Second

func wantNear(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if d := got.Sub(want); d < -near || d > near {
		t.Fatalf("%s = %s, want within %s of %s", what, got, near, want)
	}
}

func wantDurationNear(t *testing.T, what string, got, want time.Duration) {
	t.Helper()
	if d := got - want; d < -near || d > near {
		t.Fatalf("%s = %s, want within %s of %s", what, got, near, want)
	}
}

func testCheckIn(t *testing.T, b *bundle) {
	started := time.Now().Add(-time.Minute).UTC().Truncate(time.Microsecond)
	n, err := b.s.CheckIn(b.ctx, store.CheckInParams{Node: "n1", StartedAt: started, ConfigHash: "c1",
		Info: json.RawMessage(`{"version":"1.0"}`)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	wantEq(t, "ID", n.ID, "n1")
	wantEq(t, "State", n.State, store.NodeActive)
	wantTime(t, "StartedAt", n.StartedAt, started)
	wantNear(t, "CheckedInAt", n.CheckedInAt, now)
	wantNear(t, "ReportedAt", n.ReportedAt, now)
	wantTime(t, "FirstSeenAt", n.FirstSeenAt, n.CheckedInAt)
	wantEq(t, "ConfigHash", n.ConfigHash, "c1")
	wantEq(t, "Info", string(n.Info), `{"version":"1.0"}`)
	wantDurationNear(t, "Skew", n.Skew, 0)
	wantEq(t, "WasDeclaredDead", n.WasDeclaredDead, false)
	first := n.FirstSeenAt

	n, err = b.s.CheckIn(b.ctx, store.CheckInParams{Node: "n1", ConfigHash: "c2"})
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "ConfigHash after reload", n.ConfigHash, "c2")
	wantTime(t, "FirstSeenAt kept", n.FirstSeenAt, first)
	wantTime(t, "StartedAt kept", n.StartedAt, started)
	if n.CheckedInAt.Before(first) {
		t.Fatalf("CheckedInAt %s went back before %s", n.CheckedInAt, first)
	}
	if _, err := b.s.CheckIn(b.ctx, store.CheckInParams{Node: "n0"}); err != nil {
		t.Fatal(err)
	}
	ns, err := b.s.ListNodes(b.ctx, store.ListNodesParams{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 2 || ns[0].ID != "n0" || ns[1].ID != "n1" {
		t.Fatalf("ListNodes = %v, want n0, n1", ns)
	}
	wantEq(t, "listed ConfigHash", ns[1].ConfigHash, "c2")
	wantDurationNear(t, "SinceCheckIn", ns[1].SinceCheckIn, 0)
	if ns[1].SinceCheckIn < 0 {
		t.Fatalf("SinceCheckIn = %s, want >= 0", ns[1].SinceCheckIn)
	}

	_, err = b.s.CheckIn(b.ctx, store.CheckInParams{})
	wantErr(t, "no node", err, store.ErrInvalid)
	_, err = b.s.CheckIn(b.ctx, store.CheckInParams{Node: "n1", Info: json.RawMessage(`{`)})
	wantErr(t, "bad info", err, store.ErrInvalid)
}

// testCheckInSkew: a node whose clock is off shows the difference against
// the database's clock.
func testCheckInSkew(t *testing.T, b *bundle) {
	for node, skew := range map[string]time.Duration{"ahead": 5 * time.Second, "behind": -3 * time.Second, "exact": 0} {
		n, err := b.s.CheckIn(b.ctx, store.CheckInParams{Node: node, Now: time.Now().Add(skew)})
		if err != nil {
			t.Fatal(err)
		}
		wantDurationNear(t, node+" Skew", n.Skew, skew)
		if skew != 0 && (n.Skew > 0) != (skew > 0) {
			t.Fatalf("%s Skew = %s, want the sign of %s", node, n.Skew, skew)
		}
	}
	ns, err := b.s.ListNodes(b.ctx, store.ListNodesParams{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		if n.ID == "ahead" {
			wantDurationNear(t, "listed Skew", n.Skew, 5*time.Second)
		}
	}
}

func testDeadNodes(t *testing.T, b *bundle) {
	for _, id := range []string{"n1", "n2", "n3"} {
		if _, err := b.s.CheckIn(b.ctx, store.CheckInParams{Node: id}); err != nil {
			t.Fatal(err)
		}
	}
	dead, err := b.s.DeadNodes(b.ctx, store.DeadNodesParams{Timeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "dead within an hour", len(dead), 0)
	// Timeout 0: every node's check-in is in the past.
	dead, err = b.s.DeadNodes(b.ctx, store.DeadNodesParams{Timeout: 0, Exclude: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 2 || dead[0].ID != "n2" || dead[1].ID != "n3" {
		t.Fatalf("DeadNodes = %v, want n2, n3", dead)
	}
	if dead[0].SinceCheckIn < 0 {
		t.Fatalf("SinceCheckIn = %s, want >= 0", dead[0].SinceCheckIn)
	}
	// A recovered node is no longer reported, until it checks in again.
	if _, err := b.s.RecoverNode(b.ctx, store.RecoverNodeParams{Dead: "n2", Recoverer: "n1"}); err != nil {
		t.Fatal(err)
	}
	dead, err = b.s.DeadNodes(b.ctx, store.DeadNodesParams{Exclude: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || dead[0].ID != "n3" {
		t.Fatalf("DeadNodes after recovering n2 = %v, want n3", dead)
	}
}

// testRecoverNode: n1 dies during a recoverable run and a non-recoverable
// run, both blocking their triggers, after a finished run; n2 recovers it.
func testRecoverNode(t *testing.T, b *bundle) {
	for _, id := range []string{"n1", "n2"} {
		if _, err := b.s.CheckIn(b.ctx, store.CheckInParams{Node: id}); err != nil {
			t.Fatal(err)
		}
	}
	upsert(t, b, def("rec", at(1)), def("norec", at(1)), def("done", at(1)))
	recFire, norecFire, doneFire := claimFire("rec", 1, 61), claimFire("norec", 1, 61), claimFire("done", 1, 61)
	recFire.Block, recFire.Recoverable = true, true
	norecFire.Block = true
	doneFire.Recoverable = true
	frs := claim(t, b, "n1", recFire, norecFire, doneFire)
	for _, r := range frs {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	recRun, norecRun, doneRun := frs[0].Run, frs[1].Run, frs[2].Run
	finish(t, b, "n1", store.FinishRun{ID: doneRun.ID, Status: store.RunSucceeded})

	rec, err := b.s.RecoverNode(b.ctx, store.RecoverNodeParams{Dead: "n1", Recoverer: "n2", Now: at(100)})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "recovered", ids(rec.Recovered, runID), recRun.ID)
	wantIDs(t, "abandoned", ids(rec.Abandoned, runID), norecRun.ID)

	r := rec.Recovered[0]
	wantEq(t, "recovered Node", r.Node, "n2")
	wantEq(t, "recovered Status", r.Status, store.RunRunning)
	wantEq(t, "recovered Recovery", r.Recovery, true)
	wantEq(t, "recovered RecoveredFrom", r.RecoveredFrom, "n1")
	wantEq(t, "recovered Attempt", r.Attempt, 2)
	wantTime(t, "recovered StartedAt", r.StartedAt, at(100))
	wantRun(t, "stored recovered run", getRun(t, b, r.ID), r)

	a := getRun(t, b, norecRun.ID)
	wantEq(t, "abandoned Status", a.Status, store.RunAbandoned)
	wantTime(t, "abandoned EndedAt", a.EndedAt, at(100))
	if a.Error == "" {
		t.Fatal("abandoned run has no error text")
	}
	wantEq(t, "finished run untouched", getRun(t, b, doneRun.ID).Status, store.RunSucceeded)

	wantEq(t, "norec trigger unblocked", getTrigger(t, b, "norec").State, store.TriggerWaiting)
	wantEq(t, "rec trigger still blocked by its re-run", getTrigger(t, b, "rec").State, store.TriggerBlocked)

	// The dead node cannot finish what was handed on; the recoverer can.
	wantErr(t, "dead node finishes", finish(t, b, "n1", store.FinishRun{ID: recRun.ID, Status: store.RunSucceeded})[0].Err, store.ErrConflict)
	if res := finish(t, b, "n2", store.FinishRun{ID: recRun.ID, Status: store.RunSucceeded}); res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	wantEq(t, "rec trigger after the re-run", getTrigger(t, b, "rec").State, store.TriggerWaiting)

	nodes, err := b.s.ListNodes(b.ctx, store.ListNodesParams{})
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "n1 State", nodes[0].State, store.NodeDead)
	wantEq(t, "n1 RecoveredBy", nodes[0].RecoveredBy, "n2")
	wantTime(t, "n1 RecoveredAt", nodes[0].RecoveredAt, at(100))

	// Recovering again finds nothing: each run is handed out once.
	rec, err = b.s.RecoverNode(b.ctx, store.RecoverNodeParams{Dead: "n1", Recoverer: "n3"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Recovered)+len(rec.Abandoned) != 0 {
		t.Fatalf("second recovery = %+v, want nothing", rec)
	}

	// n1 comes back and learns it was declared dead.
	n, err := b.s.CheckIn(b.ctx, store.CheckInParams{Node: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "WasDeclaredDead", n.WasDeclaredDead, true)
	wantEq(t, "State", n.State, store.NodeActive)
	n, err = b.s.CheckIn(b.ctx, store.CheckInParams{Node: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "WasDeclaredDead on the next check-in", n.WasDeclaredDead, false)

	_, err = b.s.RecoverNode(b.ctx, store.RecoverNodeParams{Recoverer: "n2"})
	wantErr(t, "no dead node", err, store.ErrInvalid)
	_, err = b.s.RecoverNode(b.ctx, store.RecoverNodeParams{Dead: "n1"})
	wantErr(t, "no recoverer", err, store.ErrInvalid)
}

func testRecoverAlive(t *testing.T, b *bundle) {
	if _, err := b.s.CheckIn(b.ctx, store.CheckInParams{Node: "n1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.s.StartRun(b.ctx, store.StartRunParams{ScheduleID: "s", ScheduledAt: at(1), Node: "n1", Recoverable: true}); err != nil {
		t.Fatal(err)
	}
	_, err := b.s.RecoverNode(b.ctx, store.RecoverNodeParams{Dead: "n1", Recoverer: "n2", StaleAfter: time.Hour})
	wantErr(t, "recover a live node", err, store.ErrNodeAlive)
	wantEq(t, "run left alone", getRun(t, b, store.FireID("s", at(1))).Node, "n1")
	// Stale by a tiny limit: recovered.
	rec, err := b.s.RecoverNode(b.ctx, store.RecoverNodeParams{Dead: "n1", Recoverer: "n2", StaleAfter: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "recovered", len(rec.Recovered), 1)
}

// testRecoverOwnRestart: a node restarted after kill -9 recovers its own
// previous incarnation: recoverable runs re-run on itself, once.
func testRecoverOwnRestart(t *testing.T, b *bundle) {
	if _, err := b.s.CheckIn(b.ctx, store.CheckInParams{Node: "n1"}); err != nil {
		t.Fatal(err)
	}
	upsert(t, b, def("a", at(1)))
	f := claimFire("a", 1, 2)
	f.Recoverable = true
	fr := claimOne(t, b, "n1", f)
	if _, err := b.s.StartRun(b.ctx, store.StartRunParams{ScheduleID: "b", ScheduledAt: at(1), Node: "n1"}); err != nil {
		t.Fatal(err)
	}
	// Restart: check in (fresh), then recover self, even though alive.
	if _, err := b.s.CheckIn(b.ctx, store.CheckInParams{Node: "n1"}); err != nil {
		t.Fatal(err)
	}
	rec, err := b.s.RecoverNode(b.ctx, store.RecoverNodeParams{Dead: "n1", Recoverer: "n1", StaleAfter: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "recovered", ids(rec.Recovered, runID), fr.Run.ID)
	wantIDs(t, "abandoned", ids(rec.Abandoned, runID), store.FireID("b", at(1)))
	wantEq(t, "Recovery", rec.Recovered[0].Recovery, true)
	wantEq(t, "Node", rec.Recovered[0].Node, "n1")
	ns, err := b.s.ListNodes(b.ctx, store.ListNodesParams{})
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "State after own recovery", ns[0].State, store.NodeActive)
	if res := finish(t, b, "n1", store.FinishRun{ID: fr.Run.ID, Status: store.RunSucceeded}); res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	// A later restart finds nothing to re-run: a completed run never runs again.
	rec, err = b.s.RecoverNode(b.ctx, store.RecoverNodeParams{Dead: "n1", Recoverer: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "recovered after completion", len(rec.Recovered), 0)
}

// testRecoverConcurrent: several nodes notice the same dead node at once;
// each of its runs is handed to exactly one of them.
func testRecoverConcurrent(t *testing.T, b *bundle) {
	const runs, recoverers = 60, 5
	for i := range runs {
		if _, err := b.s.StartRun(b.ctx, store.StartRunParams{ScheduleID: fmt.Sprintf("s%02d", i), ScheduledAt: at(1),
			Node: "dead", Recoverable: i%3 != 0}); err != nil {
			t.Fatal(err)
		}
	}
	hs := b.handles(recoverers)
	var mu sync.Mutex
	recovered, abandoned := map[string]int{}, map[string]int{}
	parallel(t, recoverers, func(i int) error {
		rec, err := hs[i].RecoverNode(b.ctx, store.RecoverNodeParams{Dead: "dead", Recoverer: fmt.Sprintf("r%d", i)})
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for _, r := range rec.Recovered {
			recovered[r.ID]++
		}
		for _, r := range rec.Abandoned {
			abandoned[r.ID]++
		}
		return nil
	})
	wantEq(t, "recovered runs", len(recovered), runs-runs/3)
	wantEq(t, "abandoned runs", len(abandoned), runs/3)
	for _, m := range []map[string]int{recovered, abandoned} {
		for id, n := range m {
			if n != 1 {
				t.Fatalf("%s handed out %d times, want 1", id, n)
			}
		}
	}
}

// testCheckInInstanceInUse: a second process checking in under a live node
// id is refused (nothing written) until the first one is proved gone
// (Replace), leaves (empty Instance) or goes silent for LiveFor.
func testCheckInInstanceInUse(t *testing.T, b *bundle) {
	in := func(instance, replace string, liveFor time.Duration) (store.Node, error) {
		return b.s.CheckIn(b.ctx, store.CheckInParams{Node: "n1", Instance: instance, Replace: replace, LiveFor: liveFor,
			Info: json.RawMessage(`{"who":"` + instance + `"}`)})
	}
	n, err := in("a", "", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "Instance", n.Instance, "a")
	if _, err := in("a", "", time.Minute); err != nil {
		t.Fatalf("the same instance again: %v", err)
	}
	_, err = in("b", "", time.Minute)
	var inUse *store.NodeInUseError
	if !errors.As(err, &inUse) || !errors.Is(err, store.ErrNodeInUse) {
		t.Fatalf("second live instance: err = %v, want a NodeInUseError", err)
	}
	wantEq(t, "refusal's Instance", inUse.Node.Instance, "a")
	wantEq(t, "refusal's Info", string(inUse.Node.Info), `{"who":"a"}`)
	if inUse.Node.SinceCheckIn >= time.Minute {
		t.Fatalf("refusal's SinceCheckIn = %s", inUse.Node.SinceCheckIn)
	}
	if !strings.Contains(err.Error(), `node id "n1" is in use by a live process (last check-in`) {
		t.Fatalf("refusal reads %q", err)
	}
	ns, err := b.s.ListNodes(b.ctx, store.ListNodesParams{})
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "stored Instance after a refusal", ns[0].Instance, "a")
	if _, err := in("b", "", 0); err != nil {
		t.Fatalf("without LiveFor: %v", err)
	}
	if _, err := in("a", "", time.Minute); !errors.Is(err, store.ErrNodeInUse) {
		t.Fatalf("a after b took over: err = %v, want ErrNodeInUse", err)
	}
	if _, err := in("a", "b", time.Minute); err != nil {
		t.Fatalf("replacing b, proved gone: %v", err)
	}
	if n, err = in("", "a", time.Minute); err != nil || n.Instance != "" {
		t.Fatalf("a leaves: %v, %+v", err, n)
	}
	if _, err := in("c", "", time.Minute); err != nil {
		t.Fatalf("after a left: %v", err)
	}
	if _, err := in("d", "", time.Nanosecond); err != nil {
		t.Fatalf("c silent for longer than LiveFor: %v", err)
	}
}

// testRecoverHandsBack: a recoverer lacking a run's schedule hands the run
// back unclaimed; a node that has the schedule claims it; a run whose
// schedule no node has, or that waited past AbandonAfter, is abandoned.
func testRecoverHandsBack(t *testing.T, b *bundle) {
	if _, err := b.s.CheckIn(b.ctx, store.CheckInParams{Node: "dead"}); err != nil {
		t.Fatal(err)
	}
	upsert(t, b, def("has", at(1)), def("lacks", at(1)), def("late", at(1)))
	run := map[string]string{}
	for _, sc := range []string{"has", "lacks", "late", "gone"} {
		r, err := b.s.StartRun(b.ctx, store.StartRunParams{ID: sc + "-run", ScheduleID: sc, ScheduledAt: at(1),
			StartedAt: at(1), Node: "dead", Recoverable: true})
		if err != nil {
			t.Fatal(err)
		}
		run[sc] = r.ID
	}
	only := func(ids ...string) func(string) bool {
		return func(s string) bool {
			for _, id := range ids {
				if s == id {
					return true
				}
			}
			return false
		}
	}
	rec, err := b.s.RecoverNode(b.ctx, store.RecoverNodeParams{Dead: "dead", Recoverer: "n2", Now: at(100), Has: only("has")})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "recovered", ids(rec.Recovered, runID), run["has"])
	wantIDs(t, "handed back", ids(rec.Unclaimed, runID), run["lacks"], run["late"], run["gone"])
	u := getRun(t, b, run["lacks"])
	wantEq(t, "handed back Node", u.Node, store.Unclaimed)
	wantEq(t, "handed back Status", u.Status, store.RunRunning)
	wantEq(t, "handed back RecoveredFrom", u.RecoveredFrom, "dead")
	wantEq(t, "handed back Attempt", u.Attempt, 1)

	// n3 has none of them: only the run of the schedule no node has (no
	// trigger) is abandoned.
	rec, err = b.s.ClaimUnclaimed(b.ctx, store.ClaimUnclaimedParams{Node: "n3", Has: only(), Now: at(100), AbandonAfter: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "n3 claimed", ids(rec.Recovered, runID))
	wantIDs(t, "n3 abandoned", ids(rec.Abandoned, runID), run["gone"])
	g := getRun(t, b, run["gone"])
	wantEq(t, "gone Status", g.Status, store.RunAbandoned)
	if !strings.Contains(g.Error, "gone is in no node's configuration") {
		t.Fatalf("gone Error = %q", g.Error)
	}

	// n4 has "lacks"; "late" waited past AbandonAfter.
	rec, err = b.s.ClaimUnclaimed(b.ctx, store.ClaimUnclaimedParams{Node: "n4", Has: only("lacks"), Now: at(200), AbandonAfter: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "n4 claimed", ids(rec.Recovered, runID), run["lacks"])
	wantIDs(t, "n4 abandoned", ids(rec.Abandoned, runID), run["late"])
	c := getRun(t, b, run["lacks"])
	wantEq(t, "claimed Node", c.Node, "n4")
	wantEq(t, "claimed Recovery", c.Recovery, true)
	wantEq(t, "claimed RecoveredFrom", c.RecoveredFrom, "dead")
	wantEq(t, "claimed Attempt", c.Attempt, 2)
	if l := getRun(t, b, run["late"]); !strings.Contains(l.Error, "no node with schedule late in its configuration") {
		t.Fatalf("late Error = %q", l.Error)
	}
	rec, err = b.s.ClaimUnclaimed(b.ctx, store.ClaimUnclaimedParams{Node: "n5", Now: at(300)})
	if err != nil || len(rec.Recovered)+len(rec.Abandoned) != 0 {
		t.Fatalf("nothing left to claim: %+v, %v", rec, err)
	}
}
