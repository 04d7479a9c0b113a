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
	"time"

	"sundial/engine/daemon"
	"sundial/engine/store"
	_ "sundial/engine/store/sqlite"
)

// TestDaemon_ReconREST reconciles managed/src onto managed/tgt over
// REST, and by a schedule: a dry run that writes nothing, a real run,
// the list and one run, and IDM's errors.
func TestDaemon_ReconREST(t *testing.T) {
	conf, scripts := newDirs(t, map[string]string{
		"managed.json": `{"objects": [{"name": "src"}, {"name": "tgt"}]}`,
		"sync.json": `{"mappings": [{"name": "srcTgt", "source": "managed/src", "target": "managed/tgt",
			"properties": [{"source": "name", "target": "userName"}], "policies": [{"situation": "ABSENT", "action": "CREATE"}]}]}`,
		"schedule-recon.json": `{"enabled": true, "type": "simple", "repeatCount": 0, "invokeService": "sync",
			"invokeContext": {"action": "reconcile", "mapping": "srcTgt"}}`,
	})
	dataDir := t.TempDir()
	db, err := store.Open(context.Background(), filepath.Join(dataDir, "sundial.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	objs, _ := store.ObjectsOf(db)
	var news []store.NewObject
	for i := range 20 {
		news = append(news, store.NewObject{ID: fmt.Sprintf("s%02d", i), Content: map[string]any{"name": fmt.Sprintf("user%d", i)}})
	}
	if _, err := objs.CreateObjects(context.Background(), store.CreateObjectsParams{Type: "src", Objects: news}); err != nil {
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

	// The schedule's recon runs to its end in its fire.
	waitFor(t, "the scheduled recon to finish", 20*time.Second, func() bool {
		_, list := call("GET", "/openidm/recon")
		runs, _ := list["reconciliations"].([]any)
		return len(runs) > 0 && runs[0].(map[string]any)["state"] == "SUCCESS"
	})
	page, err := objs.QueryObjects(context.Background(), store.QueryObjectsParams{Type: "tgt"})
	if err != nil || len(page.Objects) != 20 {
		t.Fatalf("targets after the scheduled recon: %d, %v", len(page.Objects), err)
	}

	code, out := call("POST", "/openidm/recon?_action=recon&mapping=srcTgt&waitForCompletion=true&dryRun=true")
	if code != 200 || out["state"] != "SUCCESS" {
		t.Fatalf("dry run: %d %v", code, out)
	}
	id := out["_id"].(string)
	code, sum := call("GET", "/openidm/recon/"+id)
	if code != 200 || sum["mapping"] != "srcTgt" || sum["dryRun"] != true || sum["situationSummary"].(map[string]any)["CONFIRMED"] != float64(20) {
		t.Errorf("GET /recon/%s: %d %v", id, code, sum)
	}
	code, out = call("POST", "/openidm/recon?_action=recon&mapping=srcTgt&waitForCompletion=true")
	if code != 200 || out["state"] != "SUCCESS" {
		t.Fatalf("recon: %d %v", code, out)
	}
	code, list := call("GET", "/openidm/recon")
	if runs, _ := list["reconciliations"].([]any); code != 200 || len(runs) != 3 {
		t.Errorf("GET /recon: %d %v", code, list)
	}
	for _, tc := range []struct {
		method, path string
		code         int
	}{
		{"POST", "/openidm/recon?_action=recon&mapping=nope", 409},
		{"POST", "/openidm/recon?_action=recon", 400},
		{"POST", "/openidm/recon/nope?_action=cancel", 404},
		{"GET", "/openidm/recon/nope", 404},
		{"POST", "/openidm/recon?_action=frobnicate&mapping=srcTgt", 400},
	} {
		if code, out := call(tc.method, tc.path); code != tc.code {
			t.Errorf("%s %s: %d %v, want %d", tc.method, tc.path, code, out, tc.code)
		}
	}
}
