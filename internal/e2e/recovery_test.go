package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"sundial/engine/store"
)

// holdScript prints START and blocks, unless the run is a recovery run,
// which prints START and DONE at once.
const holdScript = `console.log("START " + context.fireId + " recovery=" + context.recovery);
if (!context.recovery) { java.lang.Thread.sleep(600000); }
console.log("DONE " + context.fireId + " recovery=" + context.recovery);
`

// TestKill9DuringRuns: kill -9 a node while a recoverable and a
// non-recoverable run are in progress, then restart it. The recoverable run
// runs again exactly once, as a recovery run; the other is recorded
// abandoned and never runs again; a second restart changes nothing.
func TestKill9DuringRuns(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	p.write(t, "scripts/hold.js", holdScript)
	p.write(t, "conf/schedule-rec.json", scheduleJSON(`"type": "simple", "recoverable": true`, "hold.js"))
	p.write(t, "conf/schedule-norec.json", scheduleJSON(`"type": "simple", "recoverable": false`, "hold.js"))

	n1 := startNode(t, p, "n1", "")
	db := openStore(t, p.sqliteDSN())
	var recID, norecID string
	waitFor(t, 20*time.Second, "both runs to be running", func() bool {
		rec, norec := runsOf(t, db, "rec"), runsOf(t, db, "norec")
		if len(rec) != 1 || len(norec) != 1 || rec[0].Status != store.RunRunning || norec[0].Status != store.RunRunning {
			return false
		}
		recID, norecID = rec[0].ID, norec[0].ID
		return n1.count(regexp.MustCompile(`(?m)^START `)) == 2
	})
	n1.kill(t)
	if got := getRun(t, db, recID); got.Status != store.RunRunning || got.Node != "n1" {
		t.Fatalf("after kill -9: %+v, want running on n1", got)
	}

	n2 := startNode(t, p, "n1", "")
	waitFor(t, 20*time.Second, "the recoverable run to be re-run and recorded", func() bool {
		return getRun(t, db, recID).Status == store.RunSucceeded
	})
	rec := getRun(t, db, recID)
	if !rec.Recovery || rec.Attempt != 2 || rec.RecoveredFrom != "n1" || rec.Node != "n1" {
		t.Errorf("recovered run = %+v, want a recovery run, attempt 2, from n1", rec)
	}
	norec := getRun(t, db, norecID)
	if norec.Status != store.RunAbandoned || norec.Recovery || !strings.Contains(norec.Error, "not recoverable") {
		t.Errorf("non-recoverable run = %+v, want abandoned", norec)
	}
	recStarts := regexp.MustCompile(`(?m)^START ` + regexp.QuoteMeta(recID) + ` recovery=true$`)
	if n := n2.count(recStarts); n != 1 {
		t.Errorf("recovery run started %d times, want 1:\n%s", n, n2.stdout.String())
	}
	if n := n2.count(regexp.MustCompile(`(?m)^(START|DONE) ` + regexp.QuoteMeta(norecID))); n != 0 {
		t.Errorf("the non-recoverable run ran again:\n%s", n2.stdout.String())
	}

	// A clean restart recovers nothing more.
	n2.stop(t)
	n3 := startNode(t, p, "n1", "")
	n3.stop(t)
	if got := getRun(t, db, recID); got.Attempt != 2 || got.Status != store.RunSucceeded {
		t.Errorf("after another restart: %+v, want it unchanged", got)
	}
	if n := n3.count(regexp.MustCompile(`(?m)^START `)); n != 0 {
		t.Errorf("a run ran again after a clean restart:\n%s", n3.stdout.String())
	}
	if len(runsOf(t, db, "rec")) != 1 || len(runsOf(t, db, "norec")) != 1 {
		t.Errorf("runs: %+v", runs(t, db))
	}
}
