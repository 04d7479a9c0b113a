package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
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
		"managed.json": `{"objects": [{"name": "src"}, {"name": "tgt"}, {"name": "copy"}]}`,
		"sync.json": `{"mappings": [{"name": "srcTgt", "source": "managed/src", "target": "managed/tgt",
			"properties": [{"source": "name", "target": "userName"}], "policies": [{"situation": "ABSENT", "action": "CREATE"}]}]}`,
		"schedule-recon.json": `{"enabled": true, "type": "simple", "repeatCount": 0, "invokeService": "sync",
			"invokeContext": {"action": "reconcile", "mapping": "srcTgt"}}`,
		// A reconById of an id without an object: ALL_GONE, nothing to do.
		"schedule-byid.json": `{"enabled": true, "type": "simple", "repeatCount": 0, "invokeService": "sync",
			"invokeContext": {"action": "reconById", "mapping": "srcTgt", "ids": "gone"}}`,
		// A mapping written whole in the schedule, as IDM allows.
		"schedule-inline.json": `{"enabled": true, "type": "simple", "repeatCount": 0, "invokeService": "sync",
			"invokeContext": {"action": "reconcile", "mapping": {"name": "srcCopy", "source": "managed/src", "target": "managed/copy",
				"properties": [{"source": "name", "target": "copyOf"}]}}}`,
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
	call := func(method, path string, reqBody ...string) (int, map[string]any) {
		t.Helper()
		r, _ := http.NewRequest(method, b.base+path, strings.NewReader(strings.Join(reqBody, "")))
		if len(reqBody) > 0 {
			r.Header.Set("Content-Type", "application/json")
		}
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

	// The schedules' recons run to their end in their fires.
	waitFor(t, "the scheduled recons to finish", 20*time.Second, func() bool {
		_, list := call("GET", "/openidm/recon")
		runs, _ := list["reconciliations"].([]any)
		for _, r := range runs {
			if r.(map[string]any)["state"] != "SUCCESS" {
				return false
			}
		}
		return len(runs) == 3
	})
	_, list := call("GET", "/openidm/recon")
	var mappings []string
	for _, r := range list["reconciliations"].([]any) {
		mappings = append(mappings, r.(map[string]any)["mapping"].(string))
	}
	if sort.Strings(mappings); strings.Join(mappings, " ") != "srcCopy srcTgt srcTgt" {
		t.Errorf("the scheduled runs' mappings: %v", mappings)
	}
	if page, err := objs.QueryObjects(context.Background(), store.QueryObjectsParams{Type: "copy"}); err != nil || len(page.Objects) != 20 ||
		page.Objects[0].Content["copyOf"] == nil {
		t.Errorf("the inline mapping's targets: %v, %v", page.Objects, err)
	}
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
	// reconById: one new source object, and no target phase.
	if _, err := objs.CreateObjects(context.Background(), store.CreateObjectsParams{Type: "src",
		Objects: []store.NewObject{{ID: "s20", Content: map[string]any{"name": "user20"}}}}); err != nil {
		t.Fatal(err)
	}
	code, out = call("POST", "/openidm/recon?_action=reconById&mapping=srcTgt&ids=s20&waitForCompletion=true")
	if code != 200 || out["state"] != "SUCCESS" {
		t.Fatalf("reconById: %d %v", code, out)
	}
	code, sum = call("GET", "/openidm/recon/"+out["_id"].(string))
	if sits := sum["situationSummary"].(map[string]any); code != 200 || sits["ABSENT"] != float64(1) || sits["CONFIRMED"] != float64(0) ||
		sum["progress"].(map[string]any)["target"].(map[string]any)["existing"].(map[string]any)["processed"] != float64(0) {
		t.Errorf("reconById's summary: %d %v", code, sum)
	}
	if page, err := objs.QueryObjects(context.Background(), store.QueryObjectsParams{Type: "tgt"}); err != nil || len(page.Objects) != 21 {
		t.Errorf("targets after reconById: %d, %v", len(page.Objects), err)
	}
	// The body's runTargetPhase overrides reconById's default.
	code, out = call("POST", "/openidm/recon?_action=reconById&mapping=srcTgt&ids=s20&waitForCompletion=true", `{"runTargetPhase": true}`)
	if code != 200 || out["state"] != "SUCCESS" {
		t.Fatalf("reconById with the target phase: %d %v", code, out)
	}
	code, sum = call("GET", "/openidm/recon/"+out["_id"].(string))
	if code != 200 || sum["progress"].(map[string]any)["target"].(map[string]any)["existing"].(map[string]any)["total"] != float64(21) {
		t.Errorf("reconById with the target phase: %d %v", code, sum)
	}
	code, list = call("GET", "/openidm/recon")
	if runs, _ := list["reconciliations"].([]any); code != 200 || len(runs) != 7 {
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
		{"POST", "/openidm/recon?_action=reconById&mapping=srcTgt", 400},
		{"POST", "/openidm/recon?_action=reconByQuery&mapping=srcTgt", 400},
	} {
		if code, out := call(tc.method, tc.path); code != tc.code {
			t.Errorf("%s %s: %d %v, want %d", tc.method, tc.path, code, out, tc.code)
		}
	}
}
