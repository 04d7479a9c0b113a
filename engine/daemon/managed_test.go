package daemon_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sundial/engine/daemon"
	"sundial/engine/store/sqlite"
)

// adminRequest sends a request to the daemon's API as the first-start
// admin client (Basic, with the secret in dataDir).
func adminRequest(t *testing.T, b *testBundle, dataDir, method, path, body string, headers ...string) (int, http.Header, []byte) {
	t.Helper()
	secret, err := os.ReadFile(filepath.Join(dataDir, "admin.secret"))
	if err != nil {
		t.Fatal(err)
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, b.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("openidm-admin", strings.TrimSpace(string(secret)))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := (&http.Client{Timeout: waitTimeout}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, out
}

// The guide's bjensen example over real HTTP, on a real daemon with a
// SQLite store: create, add sunset/date by a patch action over a query,
// read back; then a reload that drops the type from managed.json makes it
// a 404.
func TestManagedREST_Guide(t *testing.T) {
	t.Parallel()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "sundial.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dataDir := t.TempDir()
	conf, scripts := newDirs(t, map[string]string{"managed.json": `{"objects": [{"name": "user"}, {"name": "role"}]}`})
	b := start(t, conf, scripts, func(o *daemon.Options) { o.DB = db; o.DataDir = dataDir })

	code, h, body := adminRequest(t, b, dataDir, "PUT", "/openidm/managed/user/bjensen",
		`{"userName": "bjensen", "givenName": "Barbara", "sn": "Jensen", "mail": "bjensen@example.com"}`, "If-None-Match", "*")
	if code != 201 || h.Get("Location") != "/openidm/managed/user/bjensen" || h.Get("ETag") != `"1"` {
		t.Fatalf("create: %d %v %s", code, h, body)
	}
	adminRequest(t, b, dataDir, "PUT", "/openidm/managed/user/scarter", `{"userName": "scarter"}`, "If-None-Match", "*")

	// The guide's request, as written there.
	code, _, body = adminRequest(t, b, dataDir, "POST", "/openidm/managed/user?_action=patch&_queryFilter=userName+eq+'bjensen'",
		`[{
 "operation" : "add",
 "field" : "sunset/date",
 "value" : "2019-12-20T12:00:00Z"
}]`, "Accept-API-Version", "resource=1.0")
	var patched []map[string]any
	if code != 200 || json.Unmarshal(body, &patched) != nil || len(patched) != 1 || patched[0]["_id"] != "bjensen" || patched[0]["_rev"] != "2" {
		t.Fatalf("patch action: %d %s", code, body)
	}

	code, h, body = adminRequest(t, b, dataDir, "GET", "/openidm/managed/user/bjensen", "")
	var got map[string]any
	if code != 200 || json.Unmarshal(body, &got) != nil || h.Get("ETag") != `"2"` {
		t.Fatalf("read back: %d %s", code, body)
	}
	if sunset, _ := got["sunset"].(map[string]any); sunset["date"] != "2019-12-20T12:00:00Z" || got["mail"] != "bjensen@example.com" {
		t.Errorf("read back %v", got)
	}
	code, _, body = adminRequest(t, b, dataDir, "GET", `/openidm/managed/user?_queryFilter=/sunset/date+lt+"2020-01-01T00:00:00Z"&_fields=userName`, "")
	if code != 200 || !strings.Contains(string(body), `"result":[{"_id":"bjensen","_rev":"2","userName":"bjensen"}],"resultCount":1`) {
		t.Errorf("sunset query: %d %s", code, body)
	}

	mark := b.mark()
	writeFile(t, filepath.Join(conf, "managed.json"), `{"objects": [{"name": "role"}]}`)
	b.waitApplied(t, mark, "applied")
	if code, _, body = adminRequest(t, b, dataDir, "GET", "/openidm/managed/user/bjensen", ""); code != 404 || !strings.Contains(string(body), "declares no type") {
		t.Errorf("a type dropped from managed.json: %d %s", code, body)
	}
	if code, _, body = adminRequest(t, b, dataDir, "GET", "/openidm/managed/role/admins", ""); code != 404 || !strings.Contains(string(body), "Object managed/role/admins not found") {
		t.Errorf("a declared type, an unknown id: %d %s", code, body)
	}
}

// Without a database the managed endpoints are a 501 saying why.
func TestManagedREST_NoStore(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	conf, scripts := newDirs(t, map[string]string{"managed.json": `{"objects": [{"name": "user"}]}`})
	b := start(t, conf, scripts, func(o *daemon.Options) { o.DataDir = dataDir })
	code, _, body := adminRequest(t, b, dataDir, "GET", "/openidm/managed/user?_queryFilter=true", "")
	if code != 501 || !strings.Contains(string(body), "need a database") {
		t.Errorf("%d %s", code, body)
	}
}
