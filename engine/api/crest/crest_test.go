package crest

import (
	"bytes"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s:\ngot  %s\nwant %s", name, got, want)
	}
}

func code(err error) int {
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Code
	}
	if err != nil {
		return -1
	}
	return 0
}

func sampleJob() Resource {
	return Resource{ID: "testlog-schedule", Rev: "3", Fields: map[string]any{
		"enabled": true, "persisted": true, "schedule": "0/1 * * * * ?", "nextRunDate": nil,
		"invokeContext": map[string]any{"action": "reconcile", "script": map[string]any{"file": "a<b>.js"}},
		"triggers":      []any{map[string]any{"nodeId": "node1"}},
		"_id":           "ignored",
	}}
}

func TestWriteGolden(t *testing.T) {
	cases := []struct {
		name  string
		write func(w http.ResponseWriter)
	}{
		{"resource.json", func(w http.ResponseWriter) { Writer{}.Resource(w, 200, sampleJob(), nil) }},
		{"resource-pretty.json", func(w http.ResponseWriter) { Writer{Pretty: true}.Resource(w, 200, sampleJob(), nil) }},
		{"resource-fields.json", func(w http.ResponseWriter) {
			Writer{}.Resource(w, 200, sampleJob(), parseFields("enabled,invokeContext/action,missing,nextRunDate,triggers/0/nodeId/,_id"))
		}},
		{"error-400.json", func(w http.ResponseWriter) { Writer{}.Error(w, BadRequest("bad <value> & 'quote'")) }},
		{"error-500.json", func(w http.ResponseWriter) { Writer{}.Error(w, errors.New("secret db password")) }},
		{"error-304.json", func(w http.ResponseWriter) { Writer{}.Error(w, NotModified) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			c.write(rec)
			var b bytes.Buffer
			b.WriteString(rec.Result().Status + "\n")
			for _, h := range []string{"Content-Type", "ETag"} {
				if v := rec.Header().Get(h); v != "" {
					b.WriteString(h + ": " + v + "\n")
				}
			}
			b.Write(rec.Body.Bytes())
			golden(t, c.name, b.Bytes())
		})
	}
}

func TestProject(t *testing.T) {
	r := sampleJob()
	if got := Project(r, parseFields("")); len(got.Fields) != len(r.Fields) {
		t.Errorf(`_fields="" should keep every field, got %v`, got.Fields)
	}
	got := Project(r, parseFields("invokeContext/action,nextRunDate,nope"))
	if got.ID != r.ID || got.Rev != r.Rev {
		t.Errorf("_id/_rev dropped: %+v", got)
	}
	if len(got.Fields) != 2 || got.Fields["action"] != "reconcile" {
		t.Errorf("projection: %v", got.Fields)
	}
	if v, ok := got.Fields["nextRunDate"]; !ok || v != nil {
		t.Errorf("null should stay: %v", got.Fields)
	}
}

func req(target string, h ...string) *http.Request {
	r := httptest.NewRequest("GET", target, nil)
	for i := 0; i+1 < len(h); i += 2 {
		r.Header.Set(h[i], h[i+1])
	}
	return r
}

func TestParseParams(t *testing.T) {
	cases := []struct {
		target string
		code   int
		check  func(Params) bool
	}{
		{"/x?_queryFilter=true", 0, func(p Params) bool { return p.Query.Filter != nil }},
		{"/x?_QUERYFILTER=true&_PageSize=2", 0, func(p Params) bool { return p.Query.Filter != nil && p.Query.PageSize == 2 }},
		{"/x?_queryFilter=enabled+eq", 400, nil},
		{"/x?_queryFilter=true&_queryId=query-all-ids", 400, nil},
		{"/x?_queryId=a&_queryExpression=b", 400, nil},
		{"/x?_queryFilter=true&_QueryFilter=false", 0, func(p Params) bool { return p.Query.Filter != nil }},
		{"/x?_pageSize=x", 400, nil},
		{"/x?_pagedResultsOffset=x", 400, nil},
		{"/x?_pagedResultsCookie=abc", 0, func(p Params) bool { return p.Query.Cookie == "abc" && p.Query.Offset == 0 }},
		{"/x?_pagedResultsCookie=4&_pagedResultsOffset=2", 400, nil},
		{"/x?_pagedResultsCookie=4&_pagedResultsOffset=0", 0, func(p Params) bool { return p.Query.Offset == 4 }},
		{"/x?_pagedResultsOffset=3", 0, func(p Params) bool { return p.Query.Offset == 3 }},
		{"/x?_totalPagedResultsPolicy=exact", 0, func(p Params) bool { return p.Query.TotalPolicy == "EXACT" }},
		{"/x?_totalPagedResultsPolicy=all", 400, nil},
		{"/x?_sortKeys=-a/b,+c,d", 0, func(p Params) bool {
			k := p.Query.SortKeys
			return len(k) == 3 && k[0].Descending && k[0].Field.Leaf() == "b" && !k[1].Descending && k[2].Field.Leaf() == "d"
		}},
		{"/x?_prettyPrint=true", 0, func(p Params) bool { return p.Pretty }},
		{"/x?_Action=trigger&other=1", 0, func(p Params) bool { return p.Action == "trigger" && p.Extra["other"] == "1" }},
		{"/x?_fields=a,b/c/", 0, func(p Params) bool { return len(p.Fields) == 2 && p.Fields[1].Leaf() == "c" }},
	}
	for _, c := range cases {
		p, err := ParseParams(req(c.target))
		if code(err) != c.code {
			t.Errorf("%s: err %v, want code %d", c.target, err, c.code)
			continue
		}
		if c.check != nil && !c.check(p) {
			t.Errorf("%s: %+v", c.target, p)
		}
	}
	_, err := ParseParams(req("/x?_queryFilter=enabled+eq"))
	if !strings.Contains(err.Error(), "position") {
		t.Errorf("filter error without position: %v", err)
	}
}

func TestQuery(t *testing.T) {
	var rs []Resource
	for _, id := range []string{"c", "a", "d", "b", "e"} {
		rs = append(rs, Resource{ID: id, Rev: "1", Fields: map[string]any{"enabled": id != "b", "n": float64(len(id)), "g": map[string]any{"k": id}}})
	}
	q := func(target string) QueryResult {
		t.Helper()
		p, err := ParseParams(req(target))
		if err != nil {
			t.Fatal(err)
		}
		out, err := Query(rs, p.Query, p.Fields)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	ids := func(out QueryResult) string {
		var s []string
		for _, r := range out.Result {
			s = append(s, r.ID)
		}
		return strings.Join(s, ",")
	}
	if got := ids(q("/x?_queryFilter=enabled+eq+true")); got != "a,c,d,e" {
		t.Errorf("filter: %s", got)
	}
	if got := ids(q("/x?_queryFilter=_id+eq+%22d%22")); got != "d" {
		t.Errorf("filter on _id: %s", got)
	}
	if got := ids(q("/x?_queryFilter=true&_sortKeys=-g/k")); got != "e,d,c,b,a" {
		t.Errorf("sort: %s", got)
	}
	out := q("/x?_queryFilter=true&_pageSize=2&_pagedResultsCookie=2&_totalPagedResultsPolicy=EXACT")
	if ids(out) != "c,d" || out.PagedResultsCookie == nil || *out.PagedResultsCookie != "4" || out.TotalPagedResults != 5 || out.RemainingPagedResults != 1 {
		t.Errorf("paging: %+v", out)
	}
	if out := q("/x?_queryFilter=true&_pageSize=2&_pagedResultsOffset=4"); out.PagedResultsCookie != nil || ids(out) != "e" || out.TotalPagedResults != -1 {
		t.Errorf("last page: %+v", out)
	}
	var b bytes.Buffer
	rec := httptest.NewRecorder()
	Writer{}.JSON(rec, 200, q("/x?_queryFilter=true&_fields=g/k&_pageSize=2"))
	b.Write(rec.Body.Bytes())
	rec = httptest.NewRecorder()
	Writer{}.JSON(rec, 200, q("/x?_queryId=query-all-ids"))
	b.Write(rec.Body.Bytes())
	golden(t, "query.json", b.Bytes())
	p, _ := ParseParams(req("/x?_queryFilter=true&_pagedResultsCookie=abc"))
	if _, err := Query(rs, p.Query, nil); code(err) != 400 {
		t.Errorf("a cookie that is not an offset: %v", err)
	}
	p, _ = ParseParams(req("/x?_queryId=other"))
	if _, err := Query(rs, p.Query, nil); code(err) != 400 {
		t.Errorf("other query id: %v", err)
	}
}

func TestAcceptAPIVersion(t *testing.T) {
	cases := []struct {
		h        string
		code     int
		protocol Version
		resource Version
		hasRes   bool
	}{
		{"", 0, Version{2, 1}, Version{}, false},
		{"protocol=2.1,resource=2.0", 0, Version{2, 1}, Version{2, 0}, true},
		{"resource=2.0, protocol=1", 0, Version{1, 0}, Version{2, 0}, true},
		{"resource=1", 0, Version{2, 1}, Version{1, 0}, true},
		{"protocol=3.0", 400, Version{}, Version{}, false},
		{"protocol=2.2", 400, Version{}, Version{}, false},
		{"protocol=2.x", 400, Version{}, Version{}, false},
		{"resource=2.0,resource=2.0", 400, Version{}, Version{}, false},
		{"version=2", 400, Version{}, Version{}, false},
		{"resource", 400, Version{}, Version{}, false},
		{"resource=", 400, Version{}, Version{}, false},
		{"resource=-1", 400, Version{}, Version{}, false},
		{"resource=2.0.1", 400, Version{}, Version{}, false},
	}
	for _, c := range cases {
		v, err := ParseAcceptAPIVersion(req("/", "Accept-API-Version", c.h))
		if code(err) != c.code {
			t.Errorf("%q: %v", c.h, err)
			continue
		}
		if err == nil && (v.Protocol != c.protocol || v.Resource != c.resource || v.HasResource != c.hasRes) {
			t.Errorf("%q: %+v", c.h, v)
		}
	}
	if _, err := ParseAcceptAPIVersion(req("/", "Accept-API-Version", "protocol=3.0")); !strings.Contains(err.Error(), "Unsupported major version") {
		t.Errorf("major: %v", err)
	}
	if _, err := ParseAcceptAPIVersion(req("/", "Accept-API-Version", "protocol=2.2")); !strings.Contains(err.Error(), "Unsupported minor version") {
		t.Errorf("minor: %v", err)
	}
	if !(Version{2, 0}).Serves(Version{2, 0}) || (Version{2, 0}).Serves(Version{2, 1}) || (Version{2, 0}).Serves(Version{1, 0}) {
		t.Error("Serves")
	}
}

func TestConditions(t *testing.T) {
	type hs = []string
	read := []struct {
		h    hs
		code int
	}{
		{hs{}, 0},
		{hs{"If-Match", `"5"`}, 0},
		{hs{"If-Match", `*`}, 0},
		{hs{"If-Match", `"4"`}, 412},
		{hs{"If-None-Match", `*`}, 412},
		{hs{"If-None-Match", `"5"`}, 304},
		{hs{"If-None-Match", `"4"`}, 0},
		{hs{"If-None-Match", ``, "If-Match", ` `}, 0},
	}
	for _, c := range read {
		if got := code(ParseConditions(req("/", c.h...)).CheckRead("5")); got != c.code {
			t.Errorf("read %v: %d, want %d", c.h, got, c.code)
		}
	}
	for _, h := range []hs{{"If-Match", "*"}, {"If-None-Match", "*"}, {"If-Match", `"1"`}} {
		if code(ParseConditions(req("/", h...)).CheckNone()) != 412 {
			t.Errorf("none %v", h)
		}
	}
	if ParseConditions(req("/")).CheckNone() != nil {
		t.Error("no headers")
	}
	put := []struct {
		h          hs
		code       int
		ifMatch    string
		createOnly bool
	}{
		{hs{}, 0, "", false},
		{hs{"If-None-Match", "*"}, 0, "", true},
		{hs{"If-None-Match", `"3"`}, 400, "", false},
		{hs{"If-Match", `"3"`}, 0, "3", false},
		{hs{"If-Match", `*`}, 0, "", false},
		{hs{"If-Match", `"3"`, "If-None-Match", "*"}, 412, "", false},
	}
	for _, c := range put {
		m, co, err := ParseConditions(req("/", c.h...)).Put()
		if code(err) != c.code || m != c.ifMatch || co != c.createOnly {
			t.Errorf("put %v: %q %v %v", c.h, m, co, err)
		}
	}
}

func TestReadJSON(t *testing.T) {
	cases := []struct {
		body, ct string
		rule     BodyRule
		code     int
	}{
		{`{"a":1}`, "application/json", BodyRequired, 0},
		{`{"a":1}`, "application/json; charset=UTF-8", BodyRequired, 0},
		{`{"a":1}`, "", BodyRequired, 0},
		{`{"a":1}`, "text/plain", BodyRequired, 415},
		{`{"a":1}`, "application/x-www-form-urlencoded", BodyRequired, 415},
		{``, "", BodyRequired, 400},
		{``, "", BodyOptional, 0},
		{`{"a":`, "application/json", BodyRequired, 400},
		{`{"a" 1}`, "application/json", BodyRequired, 400},
		{`[1]`, "application/json", BodyRequired, 400},
		{`null`, "application/json", BodyRequired, 400},
		{`{} {}`, "application/json", BodyRequired, 400},
		{`{"a":"` + strings.Repeat("x", MaxBody) + `"}`, "application/json", BodyRequired, 413},
	}
	for i, c := range cases {
		r := httptest.NewRequest("PUT", "/", strings.NewReader(c.body))
		if c.ct != "" {
			r.Header.Set("Content-Type", c.ct)
		}
		_, err := ReadJSON(r, c.rule)
		if code(err) != c.code {
			t.Errorf("case %d (%.20q, %q): %v, want %d", i, c.body, c.ct, err, c.code)
		}
	}
	r := httptest.NewRequest("PUT", "/", strings.NewReader(`{"a" 1}`))
	if _, err := ReadJSON(r, BodyRequired); !strings.Contains(err.Error(), "offset 6") {
		t.Errorf("offset: %v", err)
	}
}

func TestMethodOverride(t *testing.T) {
	var got string
	h := MethodOverride(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Method }))
	r := httptest.NewRequest("POST", "/", nil)
	r.Header.Set("X-HTTP-Method-Override", "delete")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if got != "DELETE" {
		t.Errorf("POST override: %s", got)
	}
	r = httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-HTTP-Method-Override", "DELETE")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if got != "GET" {
		t.Errorf("GET override: %s", got)
	}
}
