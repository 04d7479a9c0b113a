package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sundial/engine/daemon"
	"sundial/engine/query"
	"sundial/engine/store"
	_ "sundial/engine/store/sqlite"
)

// TestDaemon_TaskScannerREST runs the guide's sunset scan over REST on a
// daemon with a SQLite store: execute (waitForCompletion, so the answer
// comes at the end), read, query, cancel of a completed run, and the
// errors for an unknown schedule and an unknown run.
func TestDaemon_TaskScannerREST(t *testing.T) {
	conf, scripts := newDirs(t, map[string]string{
		"managed.json": `{"objects": [{"name": "user"}]}`,
		"schedule-taskscan_sunset.json": `{
			"enabled": false, "type": "simple", "repeatInterval": 3600000,
			"invokeService": "taskscanner",
			"invokeContext": {
				"waitForCompletion": "true", "numberOfThreads": "4",
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
	dataDir := t.TempDir()
	db, err := store.Open(context.Background(), filepath.Join(dataDir, "sundial.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	objs, _ := store.ObjectsOf(db)
	var news []store.NewObject
	for i := range 50 {
		date := "2099-01-01T00:00:00.000Z"
		if i%5 == 0 {
			date = "2019-12-20T12:00:00.000Z"
		}
		news = append(news, store.NewObject{ID: fmt.Sprintf("u%02d", i), Content: map[string]any{"accountStatus": "active", "sunset": map[string]any{"date": date}}})
	}
	if _, err := objs.CreateObjects(context.Background(), store.CreateObjectsParams{Type: "user", Objects: news}); err != nil {
		t.Fatal(err)
	}
	b := start(t, conf, scripts, func(o *daemon.Options) { o.DB = db; o.DataDir = dataDir })
	secret, err := os.ReadFile(filepath.Join(dataDir, "admin.secret"))
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path string) (int, map[string]any) {
		t.Helper()
		r, _ := http.NewRequest(method, b.base+path, nil)
		r.SetBasicAuth("openidm-admin", strings.TrimSpace(string(secret)))
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("%s %s: %s", method, path, body)
		}
		return resp.StatusCode, m
	}

	code, out := call("POST", "/openidm/taskscanner?_action=execute&name=schedule/taskscan_sunset")
	id, _ := out["_id"].(string)
	if code != 200 || id == "" {
		t.Fatalf("execute: %d %v", code, out)
	}
	code, run := call("GET", "/openidm/taskscanner/"+id)
	progress, _ := run["progress"].(map[string]any)
	if code != 200 || run["name"] != "schedule/taskscan_sunset" || progress["state"] != "COMPLETED" ||
		progress["successes"] != float64(10) || progress["total"] != float64(10) {
		t.Fatalf("read: %d %v", code, run)
	}
	f, _ := query.Parse(`accountStatus eq "inactive" and /sunset/task-completed pr`)
	res, err := objs.QueryObjects(context.Background(), store.QueryObjectsParams{Type: "user", Filter: f})
	if err != nil || len(res.Objects) != 10 {
		t.Fatalf("%d users deactivated (%v), want 10", len(res.Objects), err)
	}
	code, list := call("GET", "/openidm/taskscanner?_queryFilter=true")
	if results, _ := list["result"].([]any); code != 200 || len(results) != 1 {
		t.Fatalf("query: %d %v", code, list)
	}
	code, out = call("POST", "/openidm/taskscanner/"+id+"?_action=cancel")
	if code != 200 || out["status"] != "FAILURE" || out["_id"] != id {
		t.Fatalf("cancel of a completed run: %d %v", code, out)
	}
	if code, out = call("GET", "/openidm/taskscanner/nope"); code != 404 {
		t.Fatalf("unknown run: %d %v", code, out)
	}
	if code, out = call("POST", "/openidm/taskscanner?_action=execute&name=nope"); code != 400 {
		t.Fatalf("unknown schedule: %d %v", code, out)
	}
	if code, out = call("POST", "/openidm/taskscanner?_action=frobnicate"); code != 400 {
		t.Fatalf("unknown action: %d %v", code, out)
	}
}
