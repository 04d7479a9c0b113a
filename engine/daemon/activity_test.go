package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sundial/engine/daemon"
	"sundial/engine/store"
	"sundial/engine/sync"
)

// activityCall is a request by a web client with headers, and its JSON
// answer.
func activityCall(t *testing.T, b *testBundle, client, method, path, body string, header map[string]string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r, err := http.NewRequest(method, b.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	r.SetBasicAuth(client, webSecret(client))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		r.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: waitTimeout}).Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, m
}

// storedActivity are the audit/activity entries in the store, in write
// order.
func storedActivity(t *testing.T, objs store.Objects) []map[string]any {
	t.Helper()
	page, err := objs.QueryObjects(context.Background(), store.QueryObjectsParams{Type: sync.AuditActivityType})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]map[string]any, len(page.Objects))
	for i, o := range page.Objects {
		out[i] = o.Content
	}
	return out
}

// TestDaemon_ActivityREST: a named client's create, update, patch and
// delete of a managed object are four audit/activity entries, read back
// by objectId over REST, saying who changed what; the implicit sync's
// write they cause is the same client's; a recon's creates are the
// recon's.
func TestDaemon_ActivityREST(t *testing.T) {
	conf, scripts := newDirs(t, auditFiles(t, map[string]string{
		"managed.json": `{"objects": [{"name": "src"}, {"name": "tgt"}, {"name": "user"}]}`,
	}))
	db := openSQLite(t)
	objs, _ := store.ObjectsOf(db)
	// Written underneath the daemon: no activity of their own.
	var news []store.NewObject
	for i := range 3 {
		news = append(news, store.NewObject{ID: fmt.Sprintf("s%d", i), Content: map[string]any{"name": fmt.Sprintf("user%d", i)}})
	}
	if _, err := objs.CreateObjects(context.Background(), store.CreateObjectsParams{Type: "src", Objects: news}); err != nil {
		t.Fatal(err)
	}
	b := start(t, conf, scripts, func(o *daemon.Options) { o.DB = db })

	code, out := activityCall(t, b, "admin", "POST", "/openidm/recon?_action=recon&mapping=srcTgt&waitForCompletion=true", "", nil)
	if code != 200 || out["state"] != "SUCCESS" {
		t.Fatalf("recon: %d %v", code, out)
	}
	reconID := out["_id"].(string)
	code, env := activityCall(t, b, "viewer", "GET", filterPath("/openidm/audit/activity", `userId eq "recon/`+reconID+`"`), "", nil)
	if entries := results(t, env); code != 200 || len(entries) != 3 {
		t.Fatalf("the recon's activity: %d %v", code, env)
	} else {
		for _, e := range entries {
			if e["operation"] != "CREATE" || !strings.HasPrefix(e["objectId"].(string), "managed/tgt/") || e["transactionId"] != reconID || e["before"] != nil {
				t.Errorf("a recon's activity entry: %v", e)
			}
		}
	}

	const path = "/openidm/managed/user/bjensen"
	for _, step := range []struct {
		method, body string
		header       map[string]string
		want         int
	}{
		{"PUT", `{"name": "b", "mail": "b@example.com", "password": "p1"}`, map[string]string{"If-None-Match": "*"}, 201},
		{"PUT", `{"name": "b", "mail": "b2@example.com", "password": "p1"}`, map[string]string{"If-Match": "*"}, 200},
		{"PATCH", `[{"operation": "replace", "field": "/password", "value": "p2"}]`, nil, 200},
		{"DELETE", "", nil, 200},
	} {
		if code, out := activityCall(t, b, "admin", step.method, path, step.body, step.header); code != step.want {
			t.Fatalf("%s %s: %d %v", step.method, path, code, out)
		}
	}
	code, env = activityCall(t, b, "viewer", "GET", filterPath("/openidm/audit/activity", `objectId eq "managed/user/bjensen"`, "&_sortKeys=_id"), "", nil)
	entries := results(t, env)
	if code != 200 || len(entries) != 4 {
		t.Fatalf("audit/activity of bjensen: %d %v", code, env)
	}
	for i, want := range []struct {
		operation, revision string
		changed             []string
		before, after       bool
		mail, password      string // of after (before for the delete)
		passwordChanged     bool
	}{
		{"CREATE", "1", []string{"/mail", "/name", "/password"}, false, true, "b@example.com", "p1", true},
		{"UPDATE", "2", []string{"/mail"}, true, true, "b2@example.com", "p1", false},
		{"PATCH", "3", []string{"/password"}, true, true, "b2@example.com", "p2", true},
		{"DELETE", "3", []string{"/mail", "/name", "/password"}, true, false, "b2@example.com", "p2", true},
	} {
		e := entries[i]
		var changed []string
		for _, f := range e["changedFields"].([]any) {
			changed = append(changed, f.(string))
		}
		side, _ := e["after"].(map[string]any)
		if !want.after {
			side, _ = e["before"].(map[string]any)
		}
		if e["eventName"] != "activity" || e["operation"] != want.operation || e["userId"] != "admin" || e["runAs"] != "admin" ||
			e["objectId"] != "managed/user/bjensen" || e["revision"] != want.revision || e["status"] != "SUCCESS" || e["message"] != "" ||
			e["passwordChanged"] != want.passwordChanged || !slices.Equal(changed, want.changed) ||
			(e["before"] != nil) != want.before || (e["after"] != nil) != want.after ||
			side["mail"] != want.mail || side["password"] != want.password || side["_id"] != "bjensen" {
			t.Errorf("entry %d: %v, want %+v", i, e, want)
		}
		if _, err := time.Parse(time.RFC3339Nano, e["timestamp"].(string)); err != nil || !strings.HasSuffix(e["timestamp"].(string), "Z") {
			t.Errorf("entry %d: timestamp %v", i, e["timestamp"])
		}
	}
	id := entries[0]["_id"].(string)
	if code, one := activityCall(t, b, "viewer", "GET", "/openidm/audit/activity/"+id, "", nil); code != 200 || one["objectId"] != "managed/user/bjensen" || one["operation"] != "CREATE" {
		t.Errorf("audit/activity/%s: %d %v", id, code, one)
	}
	if code, one := activityCall(t, b, "viewer", "GET", "/openidm/audit/activity/nope", "", nil); code != 404 {
		t.Errorf("audit/activity/nope: %d %v, want a 404", code, one)
	}
	// The implicit sync's create of the target is the client's too.
	if code, out := activityCall(t, b, "admin", "PUT", "/openidm/managed/src/s9", `{"name": "user9"}`, map[string]string{"If-None-Match": "*"}); code != 201 {
		t.Fatalf("create src/s9: %d %v", code, out)
	}
	code, env = activityCall(t, b, "viewer", "GET", filterPath("/openidm/audit/activity", `userId eq "admin" and objectId sw "managed/tgt/"`), "", nil)
	if entries := results(t, env); code != 200 || len(entries) == 0 || entries[0]["operation"] != "CREATE" {
		t.Errorf("the implicit sync's activity: %d %v", code, env)
	}
}

// TestDaemon_ActivityOff: with openidm.audit.activity.enabled=false the
// writes record no audit/activity entry.
func TestDaemon_ActivityOff(t *testing.T) {
	conf, scripts := newDirs(t, auditFiles(t, map[string]string{"boot.properties": "openidm.audit.activity.enabled=false\n"}))
	db := openSQLite(t)
	objs, _ := store.ObjectsOf(db)
	b := start(t, conf, scripts, func(o *daemon.Options) { o.DB = db })
	if code, out := auditCall(t, b, "admin", "PUT", "/openidm/managed/src/u1", `{"name": "x"}`); code != 201 {
		t.Fatalf("create: %d %v", code, out)
	}
	if got := storedActivity(t, objs); len(got) != 0 {
		t.Errorf("audit/activity entries with the property off: %v", got)
	}
}

// TestDaemon_TaskScanActivity: a task scan's claims and its script's
// patches are written by the scan's schedule, schedule/<id>.
func TestDaemon_TaskScanActivity(t *testing.T) {
	conf, scripts := newDirs(t, map[string]string{
		"boot.properties": "openidm.audit.activity.enabled=true\n",
		"managed.json":    `{"objects": [{"name": "user"}]}`,
		"schedule-taskscan_sunset.json": `{
			"enabled": false, "type": "simple", "repeatInterval": 3600000,
			"invokeService": "taskscanner",
			"invokeContext": {
				"waitForCompletion": true, "numberOfThreads": 1,
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
	if _, err := objs.CreateObjects(context.Background(), store.CreateObjectsParams{Type: "user", Objects: []store.NewObject{
		{ID: "gone", Content: map[string]any{"accountStatus": "active", "sunset": map[string]any{"date": "2019-12-20T12:00:00.000Z"}}},
		{ID: "stays", Content: map[string]any{"accountStatus": "active", "sunset": map[string]any{"date": "2099-01-01T00:00:00.000Z"}}},
	}}); err != nil {
		t.Fatal(err)
	}
	b := start(t, conf, scripts, func(o *daemon.Options) { o.DB = db; o.DataDir = dataDir })
	code, _, body := adminRequest(t, b, dataDir, "POST", "/openidm/taskscanner?_action=execute&name=schedule/taskscan_sunset", "")
	var started struct {
		ID string `json:"_id"`
	}
	if err := json.Unmarshal(body, &started); code != 200 || err != nil {
		t.Fatalf("execute: %d %s", code, body)
	}
	entries := storedActivity(t, objs)
	if len(entries) == 0 {
		t.Fatal("no audit/activity entry of the scan")
	}
	// The claim, then the completion unit with the script's patch.
	if len(entries) != 2 {
		t.Fatalf("the scan's activity: %v, want its claim and its completion", entries)
	}
	for i, want := range [][]any{{"/sunset"}, {"/accountStatus", "/sunset"}} {
		e := entries[i]
		if e["userId"] != "schedule/taskscan_sunset" || e["objectId"] != "managed/user/gone" || e["operation"] != "UPDATE" ||
			e["transactionId"] != started.ID || !slices.Equal(e["changedFields"].([]any), want) {
			t.Errorf("the scan's activity entry %d: %v, want changedFields %v", i, e, want)
		}
	}
}
