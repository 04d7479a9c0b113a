package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	p := newProject(t)
	p.write(t, "conf/managed.json", `{"objects": [{"name": "user"}]}`)
	p.write(t, "scripts/count.js", `openidm.patch(objectID, null, [{"operation": "increment", "field": "/processed", "value": 1}]);
true;
`)
	var lines strings.Builder
	for i := range users {
		fmt.Fprintf(&lines, "{\"_id\": \"u%05d\", \"userName\": \"u%05d\", \"processed\": 0}\n", i, i)
	}
	p.write(t, "users.jsonl", lines.String())
	imp := exec.Command(bin, "import", "managed/user", filepath.Join(p.dir, "users.jsonl"), "--conf", p.conf, "--store", dsn)
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("sundial import: %v\n%s", err, out)
	}

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
