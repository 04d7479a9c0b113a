package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"sundial/engine/auth"
	"sundial/engine/store"
	"sundial/engine/store/sqlite"
)

// typeSet declares the managed types it holds.
type typeSet map[string]bool

func (s typeSet) Declared(name string) bool { return s[name] }

// newManagedHarness serves managed/user and managed/role from a real
// SQLite store in a temporary directory.
func newManagedHarness(t testing.TB) (*harness, store.Objects) {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "sundial.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var buf bytes.Buffer
	mem := newMem()
	h := New(Options{Schedules: mem, Auth: fixedAuth{}, Logger: slog.New(slog.NewTextHandler(&buf, nil)),
		Objects: db, ManagedTypes: typeSet{"user": true, "role": true}})
	return &harness{h: h, mem: mem, log: &buf}, db
}

func decode(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	return m
}

// expect checks a response's status (and that its body is JSON).
func expect(t *testing.T, what string, h *harness, c call, code int) map[string]any {
	t.Helper()
	rec := h.do("admin", c)
	if rec.Code != code {
		t.Fatalf("%s: %s %s: %d %s, want %d", what, c.method, c.target, rec.Code, rec.Body, code)
	}
	if rec.Body.Len() == 0 || rec.Body.Bytes()[0] != '{' {
		return nil
	}
	return decode(t, rec.Body.Bytes())
}

func TestManagedLifecycle(t *testing.T) {
	h, _ := newManagedHarness(t)
	const user = "/openidm/managed/user/"
	body := `{"userName":"bjensen","givenName":"Barbara","age":41}`

	rec := h.do("admin", call{method: "PUT", target: user + "bjensen", body: body, headers: []string{"If-None-Match", "*"}})
	if rec.Code != 201 || rec.Header().Get("Location") != user+"bjensen" || rec.Header().Get("ETag") != `"1"` {
		t.Fatalf("create: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	if got := rec.Body.String(); got != `{"_id":"bjensen","_rev":"1","age":41,"givenName":"Barbara","userName":"bjensen"}`+"\n" {
		t.Errorf("created body %s", got)
	}
	if v := rec.Header().Get("Content-API-Version"); v != "protocol=2.1,resource=1.0" {
		t.Errorf("Content-API-Version %q", v)
	}
	m := expect(t, "create over an existing id", h, call{method: "PUT", target: user + "bjensen", body: body, headers: []string{"If-None-Match", "*"}}, 412)
	if !strings.Contains(m["message"].(string), "already exists: managed/user/bjensen") {
		t.Errorf("message %v", m)
	}

	rec = h.do("admin", call{method: "GET", target: user + "bjensen?_fields=userName"})
	if rec.Code != 200 || rec.Header().Get("ETag") != `"1"` || rec.Body.String() != `{"_id":"bjensen","_rev":"1","userName":"bjensen"}`+"\n" {
		t.Fatalf("read: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	expect(t, "read, not modified", h, call{method: "GET", target: user + "bjensen", headers: []string{"If-None-Match", `"1"`}}, 304)
	expect(t, "read, If-Match mismatch", h, call{method: "GET", target: user + "bjensen", headers: []string{"If-Match", `"2"`}}, 412)

	expect(t, "update at a stale revision", h, call{method: "PUT", target: user + "bjensen", body: body, headers: []string{"If-Match", `"7"`}}, 412)
	m = expect(t, "update", h, call{method: "PUT", target: user + "bjensen", body: `{"userName":"bjensen","mail":"b@example.com"}`, headers: []string{"If-Match", `"1"`}}, 200)
	if m["_rev"] != "2" || m["mail"] != "b@example.com" || m["givenName"] != nil {
		t.Errorf("updated %v", m)
	}
	expect(t, "upsert: update", h, call{method: "PUT", target: user + "bjensen", body: `{"userName":"bjensen","mail":"b@example.com"}`}, 200)
	rec = h.do("admin", call{method: "PUT", target: user + "scarter", body: `{"userName":"scarter"}`})
	if rec.Code != 201 || rec.Header().Get("Location") != user+"scarter" {
		t.Errorf("upsert: create: %d %s", rec.Code, rec.Body)
	}
	expect(t, "PUT without headers at protocol 2.0 only updates", h,
		call{method: "PUT", target: user + "nobody", body: `{}`, headers: []string{"Accept-API-Version", "protocol=2.0"}}, 404)
	expect(t, "update of a missing object", h, call{method: "PUT", target: user + "nobody", body: `{}`, headers: []string{"If-Match", `"1"`}}, 404)

	// Patch: IDM's operations, with and without If-Match.
	expect(t, "patch at a stale revision", h, call{method: "PATCH", target: user + "bjensen", body: `[{"operation":"replace","field":"/active","value":false}]`, headers: []string{"If-Match", `"1"`}}, 412)
	m = expect(t, "patch", h, call{method: "PATCH", target: user + "bjensen", headers: []string{"If-Match", `"3"`}, body: `[
		{"operation":"replace","field":"/active","value":false},
		{"operation":"add","field":"/roles","value":["a"]},
		{"operation":"add","field":"/roles/-","value":"b"},
		{"operation":"add","field":"/logins","value":1},
		{"operation":"increment","field":"/logins","value":2},
		{"operation":"copy","from":"/mail","field":"/contact/mail"},
		{"operation":"move","from":"/userName","field":"/name"},
		{"operation":"remove","field":"/mail"}]`}, 200)
	want := map[string]any{"_id": "bjensen", "_rev": "4", "active": false, "roles": []any{"a", "b"}, "logins": 3.0,
		"contact": map[string]any{"mail": "b@example.com"}, "name": "bjensen"}
	if fmt.Sprint(m) != fmt.Sprint(want) {
		t.Errorf("patched %v\nwant %v", m, want)
	}
	m = expect(t, "a patch that does not apply", h, call{method: "PATCH", target: user + "bjensen", body: `[{"operation":"increment","field":"/active","value":1}]`}, 400)
	if html.UnescapeString(m["message"].(string)) != "The field '/active' is not a number" {
		t.Errorf("message %v", m)
	}
	expect(t, "patch of a missing object", h, call{method: "PATCH", target: user + "nobody", body: `[{"operation":"add","field":"/a","value":1}]`}, 404)
	expect(t, "patch action on one object", h, call{method: "POST", target: user + "bjensen?_action=patch", body: `[{"operation":"add","field":"/a","value":1}]`}, 200)

	// POST creates: with the body's _id, or a server id.
	rec = h.do("admin", call{method: "POST", target: "/openidm/managed/user?_action=create", body: `{"_id":"jdoe","userName":"jdoe"}`})
	if rec.Code != 201 || rec.Header().Get("Location") != user+"jdoe" {
		t.Errorf("create action: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	expect(t, "create action over an existing id", h, call{method: "POST", target: "/openidm/managed/user?_action=create", body: `{"_id":"jdoe"}`}, 412)
	rec = h.do("admin", call{method: "POST", target: "/openidm/managed/user", body: `{"userName":"anon"}`})
	id, _ := decode(t, rec.Body.Bytes())["_id"].(string)
	if rec.Code != 201 || len(id) != 36 || rec.Header().Get("Location") != user+id {
		t.Errorf("plain POST create: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	expect(t, "plain POST at protocol 2.0 needs an action", h,
		call{method: "POST", target: "/openidm/managed/user", body: `{}`, headers: []string{"Accept-API-Version", "protocol=2.0"}}, 400)

	// Delete returns the object as it was.
	expect(t, "delete at a stale revision", h, call{method: "DELETE", target: user + "jdoe", headers: []string{"If-Match", `"9"`}}, 412)
	m = expect(t, "delete", h, call{method: "DELETE", target: user + "jdoe", headers: []string{"If-Match", `"1"`}}, 200)
	if m["_id"] != "jdoe" || m["userName"] != "jdoe" {
		t.Errorf("deleted %v", m)
	}
	expect(t, "read after delete", h, call{method: "GET", target: user + "jdoe"}, 404)
	expect(t, "delete again", h, call{method: "DELETE", target: user + "jdoe"}, 404)
	if !strings.Contains(h.log.String(), `msg="api write" client=admin method=DELETE path=/openidm/managed/user/jdoe status=200`) {
		t.Errorf("no audit line for the delete:\n%s", h.log)
	}
}

func TestManagedQuery(t *testing.T) {
	h, db := newManagedHarness(t)
	var news []store.NewObject
	for i := range 25 {
		news = append(news, store.NewObject{ID: fmt.Sprintf("u%02d", i), Content: map[string]any{
			"userName": fmt.Sprintf("u%02d", i), "n": json.Number(fmt.Sprint(i % 5)), "active": i%2 == 0}})
	}
	if _, err := db.CreateObjects(t.Context(), store.CreateObjectsParams{Type: "user", Objects: news}); err != nil {
		t.Fatal(err)
	}
	ids := func(m map[string]any) string {
		var s []string
		for _, r := range m["result"].([]any) {
			s = append(s, r.(map[string]any)["_id"].(string))
		}
		return strings.Join(s, ",")
	}
	get := func(target string) map[string]any {
		t.Helper()
		return expect(t, "query", h, call{method: "GET", target: "/openidm/managed/user?" + target}, 200)
	}

	m := get(`_queryFilter=userName+eq+"U07"`)
	if ids(m) != "u07" || m["resultCount"] != 1.0 || m["pagedResultsCookie"] != nil || m["totalPagedResults"] != -1.0 {
		t.Errorf("eq: %v", m)
	}
	if got := ids(get(`_queryFilter=userName+eq+'u07'`)); got != "u07" {
		t.Errorf("single quotes, as the guide writes them: %s", got)
	}
	// Keyset pages by cookie, with an exact total.
	var all []string
	cookie := ""
	for page := 0; ; page++ {
		q := "_queryFilter=active+eq+true&_pageSize=5&_totalPagedResultsPolicy=EXACT&_fields=userName"
		if cookie != "" {
			q += "&_pagedResultsCookie=" + cookie
		}
		m := get(q)
		if m["totalPagedResults"] != 13.0 || m["totalPagedResultsPolicy"] != "EXACT" {
			t.Fatalf("page %d: %v", page, m)
		}
		for _, r := range m["result"].([]any) {
			if o := r.(map[string]any); len(o) != 3 || o["userName"] == nil {
				t.Errorf("projected %v", o)
			}
		}
		all = append(all, ids(m))
		c, ok := m["pagedResultsCookie"].(string)
		if !ok {
			break
		}
		cookie = c
		if page > 5 {
			t.Fatal("no last page")
		}
	}
	if got := strings.Join(all, ","); got != "u00,u02,u04,u06,u08,u10,u12,u14,u16,u18,u20,u22,u24" {
		t.Errorf("pages: %s", got)
	}
	if got := ids(get("_queryFilter=n+eq+0&_sortKeys=-userName")); got != "u20,u15,u10,u05,u00" {
		t.Errorf("sorted: %s", got)
	}
	if got := ids(get("_queryFilter=n+eq+0&_sortKeys=-userName&_pageSize=2&_pagedResultsOffset=1")); got != "u15,u10" {
		t.Errorf("offset: %s", got)
	}
	m = get("_queryId=query-all-ids&_pageSize=3")
	if ids(m) != "u00,u01,u02" || len(m["result"].([]any)[0].(map[string]any)) != 1 {
		t.Errorf("query-all-ids: %v", m)
	}
	expect(t, "another query id", h, call{method: "GET", target: "/openidm/managed/user?_queryId=other"}, 400)
	expect(t, "no query", h, call{method: "GET", target: "/openidm/managed/user"}, 400)
	expect(t, "a cookie of another query", h, call{method: "GET", target: "/openidm/managed/user?_queryFilter=true&_pagedResultsCookie=4"}, 400)
	expect(t, "a query with If-Match", h, call{method: "GET", target: "/openidm/managed/user?_queryFilter=true", headers: []string{"If-Match", "*"}}, 412)
}

// The guide's example: add sunset/date to bjensen's entry by a patch
// action over a query.
func TestManagedPatchByQuery(t *testing.T) {
	h, _ := newManagedHarness(t)
	for _, u := range []string{"bjensen", "scarter"} {
		expect(t, "create", h, call{method: "PUT", target: "/openidm/managed/user/" + u, body: `{"userName":"` + u + `"}`, headers: []string{"If-None-Match", "*"}}, 201)
	}
	rec := h.do("admin", call{method: "POST", target: "/openidm/managed/user?_action=patch&_queryFilter=userName+eq+'bjensen'",
		body:    `[{"operation" : "add", "field" : "sunset/date", "value" : "2019-12-20T12:00:00Z"}]`,
		headers: []string{"Accept-API-Version", "resource=1.0"}})
	want := `[{"_id":"bjensen","_rev":"2","sunset":{"date":"2019-12-20T12:00:00Z"},"userName":"bjensen"}]` + "\n"
	if rec.Code != 200 || rec.Body.String() != want {
		t.Fatalf("patch action: %d %s, want %s", rec.Code, rec.Body, want)
	}
	m := expect(t, "read back", h, call{method: "GET", target: "/openidm/managed/user/scarter"}, 200)
	if m["_rev"] != "1" || m["sunset"] != nil {
		t.Errorf("scarter was patched: %v", m)
	}
	rec = h.do("admin", call{method: "POST", target: "/openidm/managed/user?_action=patch&_queryFilter=false", body: `[{"operation":"add","field":"/a","value":1}]`})
	if rec.Code != 200 || rec.Body.String() != "[]\n" {
		t.Errorf("no match: %d %s", rec.Code, rec.Body)
	}
	expect(t, "patch action without a filter", h, call{method: "POST", target: "/openidm/managed/user?_action=patch", body: `[]`}, 400)
}

func TestManagedStatuses(t *testing.T) {
	big := `{"a":"` + strings.Repeat("x", 1<<20) + `"}`
	cases := []struct {
		name    string
		c       call
		code    int
		message string
	}{
		{"bad filter", call{method: "GET", target: "/openidm/managed/user?_queryFilter=userName+eq"}, 400, "at position 11"},
		{"unknown type", call{method: "GET", target: "/openidm/managed/device/x"}, 404, "managed.json declares no type 'device'"},
		{"unknown type query", call{method: "GET", target: "/openidm/managed/device?_queryFilter=true"}, 404, "managed.json declares no type 'device'"},
		{"unknown id", call{method: "GET", target: "/openidm/managed/user/nobody"}, 404, "Object managed/user/nobody not found"},
		{"no type", call{method: "GET", target: "/openidm/managed"}, 404, "Resource 'managed' not found"},
		{"too deep", call{method: "GET", target: "/openidm/managed/user/a/b"}, 404, "not found"},
		{"resource version", call{method: "GET", target: "/openidm/managed/user/x", headers: []string{"Accept-API-Version", "resource=2.0"}}, 404, "Resource 'managed/user/x' not found"},
		{"too large", call{method: "PUT", target: "/openidm/managed/user/x", body: big}, 413, "over"},
		{"too large patch", call{method: "PATCH", target: "/openidm/managed/user/x", body: "[" + big + "]"}, 413, "over"},
		{"not json", call{method: "PUT", target: "/openidm/managed/user/x", body: `{}`, headers: []string{"Content-Type", "text/plain"}}, 415, "text/plain"},
		{"patch not json", call{method: "PATCH", target: "/openidm/managed/user/x", body: `[]`, headers: []string{"Content-Type", "text/plain"}}, 415, "text/plain"},
		{"bad body", call{method: "PUT", target: "/openidm/managed/user/x", body: `{"a" 1}`}, 400, "offset"},
		{"patch not an array", call{method: "PATCH", target: "/openidm/managed/user/x", body: `{"operation":"add"}`}, 400, "not a JSON array of patch operations"},
		{"patch empty", call{method: "PATCH", target: "/openidm/managed/user/x"}, 400, "array of patch operations is required"},
		{"unknown action", call{method: "POST", target: "/openidm/managed/user?_action=frob", body: `{}`}, 400, "Unknown action given: frob"},
		{"unknown object action", call{method: "POST", target: "/openidm/managed/user/x?_action=frob"}, 400, "Unknown action given: frob"},
		{"method", call{method: "DELETE", target: "/openidm/managed/user"}, 405, "not allowed"},
		{"both conditions", call{method: "PUT", target: "/openidm/managed/user/x", body: `{}`, headers: []string{"If-Match", "1", "If-None-Match", "*"}}, 412, ""},
		{"If-None-Match on delete", call{method: "DELETE", target: "/openidm/managed/user/x", headers: []string{"If-None-Match", "1"}}, 412, ""},
		{"bad id", call{method: "PUT", target: "/openidm/managed/user/a%00b", body: `{}`}, 400, "NUL"},
	}
	h, _ := newManagedHarness(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := h.do("admin", c.c)
			if rec.Code != c.code {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, c.code)
			}
			if m := errorBody(t, rec); !strings.Contains(html.UnescapeString(fmt.Sprint(m["message"])), c.message) || m["code"] != float64(c.code) {
				t.Errorf("body %s, want a message with %q", rec.Body, c.message)
			}
		})
	}
}

// A node without a database answers a declared type 501, an undeclared
// one 404.
func TestManagedWithoutStore(t *testing.T) {
	h := New(Options{Schedules: newMem(), Auth: fixedAuth{}, Logger: slog.New(slog.DiscardHandler), ManagedTypes: typeSet{"user": true}})
	har := &harness{h: h}
	m := expect(t, "declared", har, call{method: "GET", target: "/openidm/managed/user/x"}, 501)
	if !strings.Contains(m["message"].(string), "need a database") {
		t.Errorf("message %v", m)
	}
	expect(t, "undeclared", har, call{method: "GET", target: "/openidm/managed/role/x"}, 404)
	har.h = New(Options{Schedules: newMem(), Auth: fixedAuth{}, Logger: slog.New(slog.DiscardHandler)})
	expect(t, "no types", har, call{method: "GET", target: "/openidm/managed/user/x"}, 404)
}

func TestManagedRoleMatrix(t *testing.T) {
	const patch = `[{"operation":"replace","field":"/active","value":false}]`
	endpoints := []struct {
		name string
		c    call
		perm auth.Perm
	}{
		{"read", call{method: "GET", target: "/openidm/managed/user/bjensen"}, auth.PermRead},
		{"query", call{method: "GET", target: "/openidm/managed/user?_queryFilter=true"}, auth.PermRead},
		{"query ids", call{method: "GET", target: "/openidm/managed/user?_queryId=query-all-ids"}, auth.PermRead},
		{"create", call{method: "PUT", target: "/openidm/managed/user/new", body: `{}`, headers: []string{"If-None-Match", "*"}}, auth.PermWrite},
		{"update", call{method: "PUT", target: "/openidm/managed/user/bjensen", body: `{}`, headers: []string{"If-Match", "1"}}, auth.PermWrite},
		{"create action", call{method: "POST", target: "/openidm/managed/user?_action=create", body: `{}`}, auth.PermWrite},
		{"plain POST", call{method: "POST", target: "/openidm/managed/user", body: `{}`}, auth.PermWrite},
		{"patch", call{method: "PATCH", target: "/openidm/managed/user/bjensen", body: patch}, auth.PermWrite},
		{"patch by query", call{method: "POST", target: "/openidm/managed/user?_action=patch&_queryFilter=true", body: patch}, auth.PermWrite},
		{"delete", call{method: "DELETE", target: "/openidm/managed/user/bjensen"}, auth.PermWrite},
	}
	roles := map[string]auth.Role{"admin": auth.RoleAdmin, "operator": auth.RoleOperator, "reader": auth.RoleReader}
	for _, e := range endpoints {
		for client, role := range roles {
			t.Run(e.name+"/"+client, func(t *testing.T) {
				h, db := newManagedHarness(t)
				if _, err := db.CreateObjects(t.Context(), store.CreateObjectsParams{Type: "user",
					Objects: []store.NewObject{{ID: "bjensen", Content: map[string]any{"userName": "bjensen"}}}}); err != nil {
					t.Fatal(err)
				}
				checkAccess(t, h, h.do(client, e.c), role, e.perm)
				if !role.Allows(e.perm) {
					if o, err := db.ReadObject(t.Context(), store.ReadObjectParams{Type: "user", ID: "bjensen"}); err != nil || o.Rev != "1" {
						t.Errorf("a refused request changed bjensen: %+v %v", o, err)
					}
				}
			})
		}
		t.Run(e.name+"/anonymous", func(t *testing.T) {
			h, _ := newManagedHarness(t)
			if rec := h.do("", e.c); rec.Code != 401 {
				t.Errorf("%d %s", rec.Code, rec.Body)
			}
		})
	}
}

// FuzzManagedPatch sends arbitrary patch bodies to one stored object: the
// answer is a 200 with the next revision, or a 4xx that left the object
// as it was; never a 500.
func FuzzManagedPatch(f *testing.F) {
	for _, s := range []string{
		`[{"operation":"replace","field":"/active","value":false}]`,
		`[{"operation":"add","field":"/roles/-","value":"x"},{"operation":"increment","field":"/n","value":1.5}]`,
		`[{"operation":"move","from":"/a/b","field":"/c/0"},{"operation":"copy","from":"/n","field":"/m/k"}]`,
		`[{"operation":"remove","field":"/roles","value":"r"},{"operation":"remove","field":"/a/b"}]`,
		`[{"operation":"increment","field":"/n","value":1e308},{"operation":"increment","field":"/n","value":1e308}]`,
		`[{"operation":"transform","field":"/a"}]`, `{}`, `[1]`, `[`, `null`,
	} {
		f.Add(s)
	}
	h, db := newManagedHarness(f)
	ctx := f.Context()
	f.Fuzz(func(t *testing.T, body string) {
		_, _ = db.DeleteObject(ctx, store.DeleteObjectParams{Type: "user", ID: "f"})
		if _, err := db.CreateObjects(ctx, store.CreateObjectsParams{Type: "user", Objects: []store.NewObject{{ID: "f", Content: map[string]any{
			"n": json.Number("1"), "roles": []any{"r", "s"}, "a": map[string]any{"b": "c"}, "active": true}}}}); err != nil {
			t.Fatal(err)
		}
		rec := h.do("admin", call{method: "PATCH", target: "/openidm/managed/user/f", body: body})
		o, err := db.ReadObject(ctx, store.ReadObjectParams{Type: "user", ID: "f"})
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case rec.Code == http.StatusOK:
			if o.Rev != "2" || decode(t, rec.Body.Bytes())["_rev"] != "2" {
				t.Fatalf("patched to rev %s: %s", o.Rev, rec.Body)
			}
		case rec.Code >= 400 && rec.Code < 500:
			if o.Rev != "1" {
				t.Fatalf("%d but the object changed to rev %s", rec.Code, o.Rev)
			}
		default:
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	})
}
