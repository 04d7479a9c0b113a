package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"sundial/engine/daemon"
	"sundial/engine/store"
	"sundial/engine/sync"
)

// auditFiles are a conf directory whose mapping copies managed/src onto
// managed/tgt, with the web clients (admin, ops, viewer).
func auditFiles(t *testing.T, extra map[string]string) map[string]string {
	files := map[string]string{
		"access.json":     accessJSON(t),
		"boot.properties": "openidm.audit.activity.enabled=true\n",
		"managed.json":    `{"objects": [{"name": "src"}, {"name": "tgt"}]}`,
		"sync.json": `{"mappings": [{"name": "srcTgt", "source": "managed/src", "target": "managed/tgt",
			"properties": [{"source": "name", "target": "userName"}]}]}`,
	}
	for k, v := range extra {
		files[k] = v
	}
	return files
}

// auditCall is a request by a web client ("" for none) and its JSON
// answer.
func auditCall(t *testing.T, b *testBundle, client, method, path, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r, err := http.NewRequest(method, b.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if client != "" {
		r.SetBasicAuth(client, webSecret(client))
	}
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("If-None-Match", "*")
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

// results are a query envelope's results.
func results(t *testing.T, env map[string]any) []map[string]any {
	t.Helper()
	rs, ok := env["result"].([]any)
	if !ok {
		t.Fatalf("not a query envelope: %v", env)
	}
	out := make([]map[string]any, len(rs))
	for i, r := range rs {
		out[i] = r.(map[string]any)
	}
	return out
}

func filterPath(path, filter string, more ...string) string {
	return path + "?_queryFilter=" + url.QueryEscape(filter) + strings.Join(more, "")
}

// TestDaemon_AuditREST: a recon's start, entries and summary are read
// back from /openidm/audit/recon by its id, filtered, paged and one by
// one; an implicit sync's entry from /openidm/audit/sync; a reader may
// read them, no one else without credentials.
func TestDaemon_AuditREST(t *testing.T) {
	conf, scripts := newDirs(t, auditFiles(t, nil))
	db := openSQLite(t)
	objs, _ := store.ObjectsOf(db)
	var news []store.NewObject
	for i := range 5 {
		news = append(news, store.NewObject{ID: fmt.Sprintf("s%d", i), Content: map[string]any{"name": fmt.Sprintf("user%d", i)}})
	}
	if _, err := objs.CreateObjects(context.Background(), store.CreateObjectsParams{Type: "src", Objects: news}); err != nil {
		t.Fatal(err)
	}
	b := start(t, conf, scripts, func(o *daemon.Options) { o.DB = db })

	code, out := auditCall(t, b, "admin", "POST", "/openidm/recon?_action=recon&mapping=srcTgt&waitForCompletion=true", "")
	if code != 200 || out["state"] != "SUCCESS" {
		t.Fatalf("recon: %d %v", code, out)
	}
	first := out["_id"].(string)
	code, env := auditCall(t, b, "viewer", "GET", filterPath("/openidm/audit/recon", `reconId eq "`+first+`"`), "")
	entries := results(t, env)
	if code != 200 || len(entries) != 7 {
		t.Fatalf("audit/recon of %s: %d %v", first, code, env)
	}
	if entries[0]["entryType"] != "start" || entries[6]["entryType"] != "summary" {
		t.Errorf("audit/recon: want the start first and the summary last: %v", entries)
	}
	for _, e := range entries[1:6] {
		if e["entryType"] != "entry" || e["situation"] != "ABSENT" || e["action"] != "CREATE" || e["reconId"] != first ||
			e["mapping"] != "srcTgt" || e["status"] != "SUCCESS" || !strings.HasPrefix(e["sourceObjectId"].(string), "managed/src/") {
			t.Errorf("audit/recon entry: %v", e)
		}
	}

	code, out = auditCall(t, b, "admin", "POST", "/openidm/recon?_action=recon&mapping=srcTgt&waitForCompletion=true", "")
	if code != 200 || out["state"] != "SUCCESS" {
		t.Fatalf("second recon: %d %v", code, out)
	}
	second := out["_id"].(string)
	for _, tc := range []struct {
		filter string
		want   int
	}{
		{`reconId eq "` + first + `" and situation eq "ABSENT"`, 5},
		{`reconId eq "` + second + `" and situation eq "ABSENT"`, 0},
		{`situation eq "CONFIRMED"`, 5}, // every kept run's
		{`entryType eq "summary"`, 2},
		{`reconId eq "nope"`, 0},
		{`true`, 14},
	} {
		code, env := auditCall(t, b, "viewer", "GET", filterPath("/openidm/audit/recon", tc.filter), "")
		if got := results(t, env); code != 200 || len(got) != tc.want {
			t.Errorf("audit/recon?_queryFilter=%s: %d, %d results, want %d", tc.filter, code, len(got), tc.want)
		}
	}

	// Pages of three over every run's entries, sorted by a field, then
	// each entry by its id.
	var paged []map[string]any
	cookie := ""
	for range 10 {
		path := filterPath("/openidm/audit/recon", "true", "&_pageSize=3&_sortKeys=-timestamp&_fields=timestamp,reconId&_totalPagedResultsPolicy=EXACT")
		if cookie != "" {
			path += "&_pagedResultsCookie=" + url.QueryEscape(cookie)
		}
		code, env := auditCall(t, b, "viewer", "GET", path, "")
		page := results(t, env)
		if code != 200 || len(page) > 3 || env["totalPagedResults"] != float64(14) {
			t.Fatalf("page: %d %v", code, env)
		}
		paged = append(paged, page...)
		c, _ := env["pagedResultsCookie"].(string)
		if cookie = c; cookie == "" {
			break
		}
	}
	if len(paged) != 14 {
		t.Fatalf("paged: %d entries, want 14", len(paged))
	}
	for i, e := range paged {
		if _, ok := e["situation"]; ok {
			t.Errorf("_fields: %v", e)
		}
		if i > 0 && e["timestamp"].(string) > paged[i-1]["timestamp"].(string) {
			t.Errorf("_sortKeys=-timestamp: %v after %v", e, paged[i-1])
		}
		if i < 7 && e["reconId"] != second {
			t.Errorf("the newest run's entries first: %v", e)
		}
	}
	id := paged[0]["_id"].(string)
	if code, e := auditCall(t, b, "viewer", "GET", "/openidm/audit/recon/"+url.PathEscape(id), ""); code != 200 || e["_id"] != id || e["reconId"] != second {
		t.Errorf("audit/recon/%s: %d %v", id, code, e)
	}

	// An implicit sync: a source written over REST.
	if code, out := auditCall(t, b, "admin", "PUT", "/openidm/managed/src/extra", `{"name": "extra"}`); code != 201 {
		t.Fatalf("create managed/src/extra: %d %v", code, out)
	}
	code, env = auditCall(t, b, "viewer", "GET", filterPath("/openidm/audit/sync", `sourceObjectId eq "managed/src/extra"`), "")
	synced := results(t, env)
	if code != 200 || len(synced) != 1 || synced[0]["mapping"] != "srcTgt" || synced[0]["situation"] != "ABSENT" ||
		synced[0]["action"] != "CREATE" || synced[0]["status"] != "SUCCESS" || synced[0]["eventName"] != "sync" {
		t.Fatalf("audit/sync: %d %v", code, env)
	}
	sid := synced[0]["_id"].(string)
	if code, e := auditCall(t, b, "viewer", "GET", "/openidm/audit/sync/"+sid, ""); code != 200 || e["_id"] != sid || e["targetObjectId"] == nil {
		t.Errorf("audit/sync/%s: %d %v", sid, code, e)
	}

	for _, tc := range []struct {
		client, method, path string
		code                 int
	}{
		{"viewer", "GET", "/openidm/audit/recon/nope", 404},
		{"viewer", "GET", "/openidm/audit/recon/" + first + "-0000009999", 404},
		{"viewer", "GET", "/openidm/audit/recon/nope-0000000000", 404},
		{"viewer", "GET", "/openidm/audit/sync/nope", 404},
		{"viewer", "GET", "/openidm/audit/recon", 400},
		{"viewer", "GET", filterPath("/openidm/audit/recon", "situation eq"), 400},
		{"viewer", "GET", "/openidm/audit/nope", 404},
		{"viewer", "DELETE", "/openidm/audit/sync/" + sid, 405},
		{"", "GET", filterPath("/openidm/audit/recon", "true"), 401},
		{"", "GET", filterPath("/openidm/audit/sync", "true"), 401},
		{"admin", "GET", filterPath("/openidm/audit/sync", "true"), 200},
	} {
		if code, out := auditCall(t, b, tc.client, tc.method, tc.path, ""); code != tc.code {
			t.Errorf("%s %s %s: %d %v, want %d", tc.client, tc.method, tc.path, code, out, tc.code)
		}
	}
}

// TestDaemon_AuditIsPruned: the audit/sync and audit/activity entries
// beyond openidm.audit.<name>.maxentries go, oldest first, and those
// older than openidm.audit.<name>.maxage whatever their rank.
func TestDaemon_AuditIsPruned(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		typ   string
		// field names an entry's object: the same for both audits here,
		// since src has no mapping in the activity's case.
		field string
	}{
		{"sync", auditFiles(t, map[string]string{
			"boot.properties": "openidm.audit.sync.maxentries=2\nopenidm.audit.sync.maxage=24h\n",
		}), sync.AuditSyncType, "sourceObjectId"},
		{"activity", map[string]string{
			"access.json":     accessJSON(t),
			"managed.json":    `{"objects": [{"name": "src"}]}`,
			"boot.properties": "openidm.audit.activity.enabled=true\nopenidm.audit.activity.maxentries=2\nopenidm.audit.activity.maxage=24h\n",
		}, sync.AuditActivityType, "objectId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf, scripts := newDirs(t, tc.files)
			db := openSQLite(t)
			objs, _ := store.ObjectsOf(db)
			// An old entry whose id sorts last: only its age prunes it.
			if _, err := objs.CreateObjects(context.Background(), store.CreateObjectsParams{Type: tc.typ, Objects: []store.NewObject{
				{ID: "ffffffff-old", Content: map[string]any{"timestamp": "2020-01-01T00:00:00Z", tc.field: "managed/src/old"}},
			}}); err != nil {
				t.Fatal(err)
			}
			b := start(t, conf, scripts, func(o *daemon.Options) {
				o.DB = db
				o.Retention = daemon.Retention{Interval: 10 * time.Millisecond}
			})
			for i := range 4 {
				if code, out := auditCall(t, b, "admin", "PUT", fmt.Sprintf("/openidm/managed/src/u%d", i), `{"name": "x"}`); code != 201 {
					t.Fatalf("create u%d: %d %v", i, code, out)
				}
			}
			kept := func() string {
				page, err := objs.QueryObjects(context.Background(), store.QueryObjectsParams{Type: tc.typ})
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, o := range page.Objects {
					ids = append(ids, o.Content[tc.field].(string))
				}
				return strings.Join(ids, ",")
			}
			waitFor(t, "the entries pruned to the newest two", 10*time.Second, func() bool {
				return kept() == "managed/src/u2,managed/src/u3"
			})
		})
	}
}
