package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sundial/engine/query"
	"sundial/engine/store"
	"sundial/internal/pgtest"
)

// TestTwoNodesScanEachObjectOnce: two `sundial serve` nodes on one
// PostgreSQL database run the same task scan at the same second (a
// schedule that is not persisted fires on each node) over 10,000 users
// imported with `sundial import`. The scanners race for every object and
// each is processed exactly once: the script increments a counter on its
// object, and at the end every counter is 1 and every object is marked
// completed.
func TestTwoNodesScanEachObjectOnce(t *testing.T) {
	t.Parallel()
	const users = 10_000
	dsn := pgtest.DSN(t)
	p := countingProject(t, dsn, users)

	nodes := []*proc{startNode(t, p, "n1", dsn), startNode(t, p, "n2", dsn)}
	// Both nodes have loaded managed.json; the scan schedule arrives as a
	// change each picks up, due at a whole second a few seconds away.
	at := time.Now().UTC().Truncate(time.Second).Add(4 * time.Second)
	staging := filepath.Join(p.dir, "schedule-scan.json")
	if err := os.WriteFile(staging, []byte(fmt.Sprintf(`{
    "type": "simple", "startTime": %q, "timeZone": "UTC", "persisted": false,
    "invokeService": "taskscanner",
    "invokeContext": {
        "numberOfThreads": 5,
        "scan": {
            "_queryFilter": "!(/taskState/completed pr)",
            "object": "managed/user",
            "taskState": {"started": "/taskState/started", "completed": "/taskState/completed"},
            "recovery": {"timeout": "10m"}
        },
        "task": {"script": {"type": "text/javascript", "file": "count.js"}}
    }
}`, at.Format("2006-01-02T15:04:05"))), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(staging, filepath.Join(p.conf, "schedule-scan.json")); err != nil {
		t.Fatal(err)
	}

	db := openStore(t, dsn)
	objs, err := store.ObjectsOf(db)
	if err != nil {
		t.Fatal(err)
	}
	done := func() (completed int, counts map[string]int) {
		counts = map[string]int{}
		res, err := objs.QueryObjects(context.Background(), store.QueryObjectsParams{Type: "user"})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Objects {
			counts[fmt.Sprint(o.Content["processed"])]++
			if ts, ok := o.Content["taskState"].(map[string]any); ok && ts["completed"] != nil {
				completed++
			}
		}
		return completed, counts
	}
	waitFor(t, 120*time.Second, "every user to be completed", func() bool {
		n, _ := done()
		return n == users
	})
	// The scans have claimed everything; let any run still in flight end
	// before counting.
	for _, n := range nodes {
		n.stop(t)
	}
	completed, counts := done()
	if completed != users || counts["1"] != users {
		t.Fatalf("%d of %d users completed; processed counters: %v (want all 1)", completed, users, counts)
	}
	for _, n := range nodes {
		if !strings.Contains(n.stderr.String(), "run started") {
			t.Errorf("node %s never started the scan:\n%s", n.node, tail(n.stderr.String(), 2048))
		}
	}
}

// countingProject is a project whose count.js increments /processed on
// its object, with n users imported into dsn by `sundial import`, each
// with processed 0.
func countingProject(t *testing.T, dsn string, n int) *project {
	t.Helper()
	p := newProject(t)
	p.write(t, "conf/managed.json", `{"objects": [{"name": "user"}]}`)
	p.write(t, "scripts/count.js", `openidm.patch(objectID, null, [{"operation": "increment", "field": "/processed", "value": 1}]);
true;
`)
	var lines strings.Builder
	for i := range n {
		fmt.Fprintf(&lines, "{\"_id\": \"u%05d\", \"userName\": \"u%05d\", \"processed\": 0}\n", i, i)
	}
	p.write(t, "users.jsonl", lines.String())
	args := []string{"import", "managed/user", filepath.Join(p.dir, "users.jsonl"), "--conf", p.conf}
	if dsn != "" {
		args = append(args, "--store", dsn)
	}
	imp := exec.Command(bin, args...)
	imp.Dir = p.dir
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("sundial import: %v\n%s", err, out)
	}
	return p
}

// addRepeatingScan writes a schedule (not persisted, so it fires on every
// node) that scans the uncompleted users with count.js every 2 s from a
// whole second a few seconds away, each run waiting for its scan, with a
// recovery timeout of recovery.
func addRepeatingScan(t *testing.T, p *project, recovery time.Duration) {
	t.Helper()
	at := time.Now().UTC().Truncate(time.Second).Add(3 * time.Second)
	staging := filepath.Join(p.dir, "schedule-scan.json")
	if err := os.WriteFile(staging, []byte(fmt.Sprintf(`{
    "type": "simple", "startTime": %q, "timeZone": "UTC", "persisted": false,
    "repeatInterval": 2000, "concurrentExecution": false,
    "invokeService": "taskscanner",
    "invokeContext": {
        "waitForCompletion": true,
        "numberOfThreads": 5,
        "scan": {
            "_queryFilter": "!(/taskState/completed pr)",
            "object": "managed/user",
            "taskState": {"started": "/taskState/started", "completed": "/taskState/completed"},
            "recovery": {"timeout": %q}
        },
        "task": {"script": {"type": "text/javascript", "file": "count.js"}}
    }
}`, at.Format("2006-01-02T15:04:05"), recovery.String())), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(staging, filepath.Join(p.conf, "schedule-scan.json")); err != nil {
		t.Fatal(err)
	}
}

// scanState counts the users: completed, and by their processed counter.
type scanState struct {
	objs store.Objects
}

func (s scanState) completed(t *testing.T) int {
	t.Helper()
	res, err := s.objs.QueryObjects(context.Background(), store.QueryObjectsParams{Type: "user",
		Filter: mustParse(t, "/taskState/completed pr"), PageSize: 1, CountTotal: true})
	if err != nil {
		t.Fatal(err)
	}
	return res.Total
}

func (s scanState) counters(t *testing.T) map[string]int {
	t.Helper()
	res, err := s.objs.QueryObjects(context.Background(), store.QueryObjectsParams{Type: "user"})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, o := range res.Objects {
		counts[fmt.Sprint(o.Content["processed"])]++
	}
	return counts
}

func mustParse(t *testing.T, filter string) query.Filter {
	t.Helper()
	f, err := query.Parse(filter)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// killMidScan waits until between a tenth and nine tenths of the users
// are completed and kills victim with SIGKILL, reporting how many were
// completed then.
func killMidScan(t *testing.T, st scanState, users int, victim *proc) int {
	t.Helper()
	n := 0
	waitFor(t, 120*time.Second, "the scan to be under way", func() bool {
		n = st.completed(t)
		return n >= users/10
	})
	victim.kill(t)
	if n > users*9/10 {
		t.Fatalf("%d of %d users were completed before the kill: the scan was not mid-way", n, users)
	}
	return n
}

// TestKillNodeMidScanEachObjectOnce: two `sundial serve` nodes on one
// PostgreSQL database scan 10,000 imported users; one is killed with
// SIGKILL mid-scan, holding claimed objects whose tasks may have run but
// not committed. After the recovery timeout the survivor's next scan
// claims them again and finishes: every user is completed, and processed
// exactly once by the script's own increment (a task's writes commit with
// its completion, so the dead node's uncommitted tasks left nothing).
func TestKillNodeMidScanEachObjectOnce(t *testing.T) {
	t.Parallel()
	const users = 10_000
	dsn := pgtest.DSN(t)
	p := countingProject(t, dsn, users)
	n1, n2 := startNode(t, p, "n1", dsn), startNode(t, p, "n2", dsn)
	addRepeatingScan(t, p, 3*time.Second)
	objs, err := store.ObjectsOf(openStore(t, dsn))
	if err != nil {
		t.Fatal(err)
	}
	st := scanState{objs}
	killed := killMidScan(t, st, users, n1)
	t.Logf("n1 killed with %d of %d users completed", killed, users)
	waitFor(t, 180*time.Second, "every user to be completed", func() bool { return st.completed(t) == users })
	n2.stop(t)
	if counts := st.counters(t); counts["1"] != users {
		t.Fatalf("processed counters: %v, want all %d at 1", counts, users)
	}
}

// TestKillRestartMidScanEachObjectOnce is the same on SQLite with one
// node: killed mid-scan and started again on the same file, its scans
// after the recovery timeout finish the users it held, each processed
// exactly once.
func TestKillRestartMidScanEachObjectOnce(t *testing.T) {
	t.Parallel()
	const users = 10_000
	p := countingProject(t, "", users)
	n1 := startNode(t, p, "n1", "")
	addRepeatingScan(t, p, 3*time.Second)
	objs, err := store.ObjectsOf(openStore(t, p.sqliteDSN()))
	if err != nil {
		t.Fatal(err)
	}
	st := scanState{objs}
	killed := killMidScan(t, st, users, n1)
	t.Logf("n1 killed with %d of %d users completed", killed, users)
	again := startNode(t, p, "n1", "")
	waitFor(t, 180*time.Second, "every user to be completed", func() bool { return st.completed(t) == users })
	// The restarted node lists the runs from the store: the killed one,
	// marked ERROR when its node started again, and the ones after it.
	code, body := newAPIClient(t, again, p).do(t, "GET", "/openidm/taskscanner?_queryFilter=true", "")
	var listed struct {
		Result []struct {
			Node     string `json:"node"`
			Progress struct {
				State string `json:"state"`
			} `json:"progress"`
		} `json:"result"`
	}
	if err := json.Unmarshal(body, &listed); code != 200 || err != nil {
		t.Fatalf("GET /openidm/taskscanner: %d %s", code, body)
	}
	states := map[string]int{}
	for _, r := range listed.Result {
		states[r.Node+" "+r.Progress.State]++
	}
	if states["n1 ERROR"] != 1 || states["n1 COMPLETED"] == 0 {
		t.Errorf("runs after the restart: %s, want the killed run ERROR on n1, and COMPLETED ones", body)
	}
	again.stop(t)
	if counts := st.counters(t); counts["1"] != users {
		t.Fatalf("processed counters: %v, want all %d at 1", counts, users)
	}
}
