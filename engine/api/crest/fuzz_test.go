package crest

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func FuzzAcceptAPIVersion(f *testing.F) {
	for _, s := range []string{"protocol=2.1,resource=2.0", "resource=1", "protocol=3", ",", "=", "protocol=99999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		v, err := parseAcceptAPIVersion(h)
		if err == nil && (v.Protocol.Major > 2 || v.Protocol.Minor > 1) {
			t.Fatalf("%q accepted as %+v", h, v)
		}
	})
}

func FuzzParams(f *testing.F) {
	for _, s := range []string{"_queryFilter=true&_fields=a/b", "_sortKeys=-a,+,-", "_pagedResultsCookie=-1", "_pageSize=9999999999999999999", "_queryFilter=(a+eq+%22"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rawQuery string) {
		r := httptest.NewRequest("GET", "/x", nil)
		r.URL.RawQuery = rawQuery
		p, err := ParseParams(r)
		if err != nil {
			return
		}
		if p.Query.IsQuery() {
			rs := []Resource{{ID: "a", Rev: "1", Fields: map[string]any{"x": []any{1.0, "s"}}}, {ID: "b"}}
			_, _ = Query(rs, p.Query, p.Fields)
		}
	})
}

func FuzzReadJSON(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{`, `[]`, `{"a":1}x`, ``, `"`} {
		f.Add(s, "application/json")
	}
	f.Fuzz(func(t *testing.T, body, ct string) {
		r := httptest.NewRequest("PUT", "/", strings.NewReader(body))
		r.Header.Set("Content-Type", ct)
		b, err := ReadJSON(r, BodyRequired)
		if err == nil && len(b) == 0 {
			t.Fatal("no error and no body")
		}
	})
}
