package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"sundial/engine/store"
	"sundial/internal/pgtest"
)

// workScript prints START, works for 300 ms (a recovery run: at once), and
// prints DONE.
const workScript = `console.log("START " + context.fireId + " recovery=" + context.recovery);
if (!context.recovery) { java.lang.Thread.sleep(300); }
console.log("DONE " + context.fireId);
`

// TestClusterOneShotsKill9: three nodes on one PostgreSQL database,
// 2,000 persisted recoverable one-shot schedules due within three seconds,
// and one node killed with SIGKILL half-way. Every schedule fires exactly
// once across the cluster (counted in the run history), the runs the dead
// node had in progress run again on the others as recovery runs within the
// node timeout plus a few seconds, and no run that a node finished and
// recorded runs a second time (counted from the scripts' output).
func TestClusterOneShotsKill9(t *testing.T) {
	t.Parallel()
	const (
		schedules = 2000
		timeout   = 2 * time.Second // serveArgs' --node-timeout
	)
	dsn := pgtest.DSN(t)
	p := newProject(t)
	p.write(t, "scripts/work.js", workScript)
	p.write(t, "conf/scheduler.json", `{"threadPool": {"threadCount": 40}}`)

	nodes := make([]*proc, 3)
	for i := range nodes {
		nodes[i] = startNode(t, p, fmt.Sprintf("n%d", i+1), dsn)
	}
	db := openStore(t, dsn)

	// The schedules arrive as a config change that every node's watcher
	// picks up on its own: while they load, the nodes briefly disagree.
	// Due between 4 and 6 s from now, in whole seconds (startTime has no
	// fraction).
	first := time.Now().UTC().Truncate(time.Second).Add(4 * time.Second)
	staging := filepath.Join(p.dir, "staging")
	if err := os.Mkdir(staging, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range schedules {
		at := first.Add(time.Duration(i%3) * time.Second).Format("2006-01-02T15:04:05")
		body := scheduleJSON(fmt.Sprintf(`"type": "simple", "recoverable": true, "startTime": %q, "timeZone": "UTC"`, at), "work.js")
		if err := os.WriteFile(filepath.Join(staging, fmt.Sprintf("schedule-one-%04d.json", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := range schedules {
		name := fmt.Sprintf("schedule-one-%04d.json", i)
		if err := os.Rename(filepath.Join(staging, name), filepath.Join(p.conf, name)); err != nil {
			t.Fatal(err)
		}
	}

	// Half-way, kill the node with the most runs in progress.
	var victim *proc
	var killed time.Time
	waitFor(t, 60*time.Second, "half of the schedules to have fired", func() bool {
		rs := runs(t, db)
		if len(rs) < schedules/2 {
			return false
		}
		running := map[string]int{}
		for _, r := range rs {
			if r.Status == store.RunRunning {
				running[r.Node]++
			}
		}
		for _, n := range nodes {
			if victim == nil || running[n.node] > running[victim.node] {
				victim = n
			}
		}
		return running[victim.node] > 0
	})
	victim.kill(t)
	killed = time.Now()

	waitFor(t, 90*time.Second, "every schedule to have fired and ended", func() bool {
		done := 0
		for _, r := range runs(t, db) {
			if r.Status == store.RunSucceeded {
				done++
			}
		}
		return done == schedules
	})

	// Exactly once, from the run history.
	all := runs(t, db)
	bySchedule := map[string]int{}
	var recovered []store.Run
	for _, r := range all {
		if r.Status == store.RunSkipped {
			t.Errorf("skipped fire recorded: %+v", r)
			continue
		}
		bySchedule[r.ScheduleID]++
		if r.Recovery {
			recovered = append(recovered, r)
			if r.RecoveredFrom != victim.node || r.Node == victim.node || r.Attempt != 2 {
				t.Errorf("recovery run %+v: want from %s, on a survivor, attempt 2", r, victim.node)
			}
		}
	}
	if len(bySchedule) != schedules {
		t.Errorf("%d schedules have runs, want %d", len(bySchedule), schedules)
	}
	for id, n := range bySchedule {
		if n != 1 {
			t.Errorf("schedule %s has %d runs", id, n)
		}
	}
	if len(recovered) == 0 {
		t.Errorf("no run was recovered from %s", victim.node)
	}

	// Executions, from the scripts' output on every node (the dead one's
	// up to its death).
	starts, dones := map[string]int{}, map[string]int{}
	startRE := regexp.MustCompile(`(?m)^START (\S+) recovery=(true|false)$`)
	doneRE := regexp.MustCompile(`(?m)^DONE (\S+)$`)
	for _, n := range nodes {
		for _, m := range startRE.FindAllStringSubmatch(n.stdout.String(), -1) {
			starts[m[1]]++
		}
		for _, m := range doneRE.FindAllStringSubmatch(n.stdout.String(), -1) {
			dones[m[1]]++
		}
	}
	isRecovered := map[string]bool{}
	var lastRecovery time.Time
	for _, r := range recovered {
		isRecovered[r.ID] = true
		if r.StartedAt.After(lastRecovery) {
			lastRecovery = r.StartedAt
		}
	}
	finishedTwice := 0
	for _, r := range all {
		if r.Status == store.RunSkipped {
			continue
		}
		if isRecovered[r.ID] {
			// Interrupted on the dead node, then the recovery run; or claimed
			// there and still waiting for a worker, then only the recovery run.
			if dones[r.ID] == 2 {
				finishedTwice++ // ended on the dead node before its end was recorded
			}
			if starts[r.ID] != 1 && starts[r.ID] != 2 {
				t.Errorf("recovered run %s started %d times, want 1 or 2", r.ID, starts[r.ID])
			}
			continue
		}
		if dones[r.ID] != 1 {
			t.Errorf("run %s finished %d times, want 1", r.ID, dones[r.ID])
		}
		if starts[r.ID] != 1 {
			t.Errorf("run %s started %d times, want 1", r.ID, starts[r.ID])
		}
	}
	recoveredAfter := lastRecovery.Sub(killed)
	t.Logf("%d runs; node %s killed with runs in progress; %d recovered on the others, the last %s after the kill (node timeout %s); %d of them had ended on the dead node before their end was recorded",
		len(all), victim.node, len(recovered), recoveredAfter.Round(time.Millisecond), timeout, finishedTwice)
	if recoveredAfter > timeout+3*time.Second {
		t.Errorf("recovery %s after the kill, want within the node timeout %s + 3s", recoveredAfter, timeout)
	}
}
