package web

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzListQuery: any query string either is refused with an error or
// gives a query within its bounds whose URL reads back as the same query;
// safeNext keeps every target on this site's pages.
func FuzzListQuery(f *testing.F) {
	for _, s := range []string{
		"", "state=paused", "state=nope", "sort=-next&page=3&per=500", "q=%3Cscript%3E&source=rest",
		"service=script&sort=runs", "page=0", "per=501", "page=-1", "sort=--id", "q=" + strings.Repeat("x", 300),
		"next=//evil.example", "next=/ui//evil", "next=/ui/%0d%0a",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		if n := safeNext(v.Get("next")); !strings.HasPrefix(n, "/ui/") || strings.HasPrefix(n, "/ui//") || strings.ContainsAny(n, "\\\r\n") {
			t.Fatalf("safeNext(%q) = %q", v.Get("next"), n)
		}
		q, err := parseListQuery(v)
		if err != nil {
			return
		}
		if q.Page < 1 || q.Per < 1 || q.Per > maxPer || len(q.Text) > maxText {
			t.Fatalf("%q: out of bounds %+v", raw, q)
		}
		u, err := url.Parse(q.URL(q.Page, q.Sort))
		if err != nil || u.Path != "/ui/schedules" {
			t.Fatalf("%q: URL %q", raw, q.URL(q.Page, q.Sort))
		}
		again, err := parseListQuery(u.Query())
		if err != nil || again != q {
			t.Fatalf("%q: %+v reads back as %+v (%v)", raw, q, again, err)
		}
	})
}
