package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sundial/engine/daemon"
	"sundial/engine/store"
	"sundial/engine/sync"
)

// TestDaemon_TaskScanImplicitSyncToCSV: a task scan's script deactivates
// managed users, and the mapping managed/user → CSV carries the changes
// into the file: the scan's claims and its units are synced as every
// other write is. A sync the node's previous process committed and did
// not run (its record of pending syncs left in the store, as a kill
// between the commit and the sync leaves it) runs when the node starts.
func TestDaemon_TaskScanImplicitSyncToCSV(t *testing.T) {
	conf, scripts := newDirs(t, map[string]string{
		"managed.json": `{"objects": [{"name": "user"}]}`,
		"provisioner.openicf-csv.json": `{"connectorRef": {"connectorName": "org.forgerock.openicf.csvfile.CSVFileConnector"},
			"configurationProperties": {"csvFile": "&{idm.instance.dir}/data/accounts.csv"}}`,
		"sync.json": `{"mappings": [
			{"name": "managedUser_csv", "source": "managed/user", "target": "system/csv/account",
			 "properties": [{"source": "_id", "target": "uid"}, {"source": "accountStatus", "target": "status"}]}]}`,
		"schedule-taskscan_sunset.json": `{
			"enabled": false, "type": "simple", "repeatInterval": 3600000,
			"invokeService": "taskscanner",
			"invokeContext": {
				"waitForCompletion": true, "numberOfThreads": 2,
				"scan": {
					"_queryFilter": "((/sunset/date lt \"${Time.now}\") AND !(${taskState.completed} pr))",
					"object": "managed/user",
					"taskState": {"started": "/sunset/task-started", "completed": "/sunset/task-completed"},
					"recovery": {"timeout": "10m"}
				},
				"task": {"script": {"type": "text/javascript", "file": "script/sunset.js"}}
			}
		}`,
		"scripts/sunset.js": `openidm.patch(objectID, null, [{"operation": "replace", "field": "/accountStatus", "value": "inactive"}]); true;`,
	})
	data := filepath.Join(filepath.Dir(conf), "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	csvFile := filepath.Join(data, "accounts.csv")
	writeFile(t, csvFile, "uid,status\n")
	dataDir := t.TempDir()
	db, err := store.Open(context.Background(), filepath.Join(dataDir, "sundial.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	objs, _ := store.ObjectsOf(db)
	ctx := context.Background()
	var news []store.NewObject
	for i := range 20 {
		date := "2099-01-01T00:00:00.000Z"
		if i%5 == 0 {
			date = "2019-12-20T12:00:00.000Z"
		}
		news = append(news, store.NewObject{ID: fmt.Sprintf("u%02d", i), Content: map[string]any{"accountStatus": "active", "sunset": map[string]any{"date": date}}})
	}
	if _, err := objs.CreateObjects(ctx, store.CreateObjectsParams{Type: "user", Objects: news}); err != nil {
		t.Fatal(err)
	}
	// What a process of node n1 killed after a unit's commit leaves: the
	// unit's write (pending, unsynced) and its record.
	if errs, err := objs.CommitObjectUnits(ctx, store.CommitObjectUnitsParams{Units: []store.ObjectUnit{{Writes: []store.ObjectWrite{
		{Type: "user", ID: "pending", Content: map[string]any{"accountStatus": "locked"}},
		{Type: sync.PendingSyncType, ID: "r1", Content: map[string]any{"node": "n1", "objects": []any{map[string]any{"type": "user", "id": "pending"}}}},
	}}}}); err != nil || errs[0] != nil {
		t.Fatal(err, errs)
	}

	b := start(t, conf, scripts, func(o *daemon.Options) { o.DB = db; o.DataDir = dataDir; o.NodeID = "n1" })
	if got := sortedCSV(readFile(t, csvFile)); got != "uid,status\npending,locked\n" {
		t.Fatalf("the CSV after the start: %q, want the pending sync run", got)
	}
	if _, err := objs.ReadObject(ctx, store.ReadObjectParams{Type: sync.PendingSyncType, ID: "r1"}); err == nil {
		t.Errorf("the record of pending syncs is left after the start")
	}

	code, _, body := adminRequest(t, b, dataDir, "POST", "/openidm/taskscanner?_action=execute&name=schedule/taskscan_sunset", "")
	var started struct {
		ID string `json:"_id"`
	}
	if err := json.Unmarshal(body, &started); code != 200 || err != nil {
		t.Fatalf("execute: %d %s", code, body)
	}
	code, _, body = adminRequest(t, b, dataDir, "GET", "/openidm/taskscanner/"+started.ID, "")
	var run struct {
		Progress struct{ Successes, Failures int }
	}
	if err := json.Unmarshal(body, &run); code != 200 || err != nil || run.Progress.Successes != 4 || run.Progress.Failures != 0 {
		t.Errorf("the run: %d %s", code, body)
	}
	want := "uid,status\npending,locked\nu00,inactive\nu05,inactive\nu10,inactive\nu15,inactive\n"
	if got := sortedCSV(readFile(t, csvFile)); got != want {
		t.Errorf("the CSV after the scan:\n%s\nwant\n%s", got, want)
	}
	page, err := objs.QueryObjects(ctx, store.QueryObjectsParams{Type: sync.PendingSyncType})
	if err != nil || len(page.Objects) != 0 {
		t.Errorf("records of pending syncs left after the scan: %d, %v", len(page.Objects), err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sortedCSV is a CSV file without its quotes, its records (not its
// header) sorted.
func sortedCSV(s string) string {
	lines := strings.Split(strings.TrimSuffix(strings.ReplaceAll(s, `"`, ""), "\n"), "\n")
	slices.Sort(lines[1:])
	return strings.Join(lines, "\n") + "\n"
}
