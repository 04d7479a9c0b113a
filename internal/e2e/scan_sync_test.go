package e2e

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sundial/engine/query"
	"sundial/engine/store"
	"sundial/engine/sync"
)

// TestKillBetweenScanCommitAndSync: a task scan deactivates users that a
// mapping carries to a CSV file. The node is killed (SIGKILL) after the
// tasks' units committed and before their implicit syncs ran (the sync of
// an inactive user is made to take a minute). Started again, the node
// runs those syncs from the record the commit left, before it serves:
// the CSV file ends as the store (the users whose units committed
// inactive, the others active; a user the scan never wrote is not in
// it), and no record is left.
func TestKillBetweenScanCommitAndSync(t *testing.T) {
	t.Parallel()
	const users = 10
	p := newProject(t)
	if err := os.Mkdir(filepath.Join(p.dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	accounts := filepath.Join(p.dir, "data", "accounts.csv")
	p.write(t, "data/accounts.csv", "uid,status\n")
	p.write(t, "conf/managed.json", `{"objects": [{"name": "user"}]}`)
	p.write(t, "conf/provisioner.openicf-csv.json", `{"connectorRef": {"connectorName": "org.forgerock.openicf.csvfile.CSVFileConnector"},
  "configurationProperties": {"csvFile": "&{idm.instance.dir}/data/accounts.csv"}}`)
	mapping := func(slow string) string {
		return `{"mappings": [{"name": "user_csv", "source": "managed/user", "target": "system/csv/account",
  "properties": [{"source": "_id", "target": "uid"},
    {"source": "status", "target": "status", "transform": {"type": "text/javascript",
     "source": "if (source == 'inactive') { var until = Date.now() + ` + slow + `; while (Date.now() < until) {} } source"}}]}]}`
	}
	p.write(t, "conf/sync.json", mapping("60000"))
	p.write(t, "conf/schedule-deactivate.json", `{"enabled": false, "type": "simple", "invokeService": "taskscanner",
  "invokeContext": {"waitForCompletion": false, "numberOfThreads": 2,
    "scan": {"_queryFilter": "!(/taskState/completed pr)", "object": "managed/user",
      "taskState": {"started": "/taskState/started", "completed": "/taskState/completed"}, "recovery": {"timeout": "10m"}},
    "task": {"script": {"type": "text/javascript", "file": "deactivate.js"}}}}`)
	p.write(t, "scripts/deactivate.js", `openidm.patch(objectID, null, [{"operation": "replace", "field": "/status", "value": "inactive"}]); true;`)
	var lines strings.Builder
	for i := range users {
		fmt.Fprintf(&lines, "{\"_id\": \"u%02d\", \"status\": \"active\"}\n", i)
	}
	p.write(t, "users.jsonl", lines.String())
	imp := exec.Command(bin, "import", "managed/user", filepath.Join(p.dir, "users.jsonl"), "--conf", p.conf)
	imp.Dir = p.dir
	out, err := imp.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "sundial recon user_csv") {
		t.Fatalf("sundial import: %v\n%s", err, out)
	}

	n1 := startNode(t, p, "n1", "")
	db := openStore(t, p.sqliteDSN())
	objs, err := store.ObjectsOf(db)
	if err != nil {
		t.Fatal(err)
	}
	count := func(typ, filter string) int {
		f, err := query.Parse(filter)
		if err != nil {
			t.Fatal(err)
		}
		res, err := objs.QueryObjects(context.Background(), store.QueryObjectsParams{Type: typ, Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		return len(res.Objects)
	}
	c := newAPIClient(t, n1, p)
	if code, body := c.do(t, "POST", "/openidm/taskscanner?_action=execute&name=schedule/deactivate", ""); code != 200 {
		t.Fatalf("execute: %d %s", code, body)
	}
	// The first batch of units committed: its first sync takes a minute,
	// and the completer waits for it.
	waitFor(t, 60*time.Second, "units committed, their syncs pending", func() bool {
		return count("user", `status eq "inactive" and /taskState/completed pr`) > 0 && count(sync.PendingSyncType, "true") > 0
	})
	n1.kill(t)
	inactive := count("user", `status eq "inactive"`)
	statuses := csvStatuses(t, accounts)
	t.Logf("killed with %d users inactive in the store, the CSV at %v", inactive, statuses)
	for id, st := range statuses {
		if st != "active" {
			t.Fatalf("before the restart: %s is %s in the CSV: the slow sync did not hold", id, st)
		}
	}

	p.write(t, "conf/sync.json", mapping("0"))
	again := startNode(t, p, "n1", "")
	statuses = csvStatuses(t, accounts)
	res, err := objs.QueryObjects(context.Background(), store.QueryObjectsParams{Type: "user"})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range res.Objects {
		st, ok := statuses[u.ID]
		switch {
		case !ok && u.Content["taskState"] != nil:
			t.Errorf("after the restart, %s is not in the CSV, though the scan wrote it: %v", u.ID, u.Content)
		case ok && st != u.Content["status"]:
			t.Errorf("after the restart, %s is %q in the CSV and %v in the store", u.ID, st, u.Content["status"])
		}
	}
	if n := count(sync.PendingSyncType, "true"); n != 0 {
		t.Errorf("%d records of pending syncs left after the restart", n)
	}
	if !strings.Contains(again.stderr.String(), "ran the implicit syncs the node's previous process left pending") {
		t.Errorf("the restart did not say it ran the pending syncs:\n%s", tail(again.stderr.String(), 2048))
	}
	again.stop(t)
}

// csvStatuses reads a CSV of uid and status columns.
func csvStatuses(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range recs[1:] {
		out[r[0]] = r[1]
	}
	return out
}
