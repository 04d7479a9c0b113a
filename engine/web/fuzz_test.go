package web

import (
	"net/url"
	"strings"
	"testing"

	"sundial/engine/config"
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

// TestListQueryApply: filters, sort and paging over rows.
func TestListQueryApply(t *testing.T) {
	s := &config.Schedule{}
	rows := []ScheduleRow{
		{ID: "a", Runs: 3, File: "schedule-a.json", Schedule: s},
		{ID: "b", Runs: 1, Paused: true, Schedule: s},
		{ID: "c", Runs: 2, Errors: []string{"schedule-c.json:1:2: bad"}, File: "schedule-c.json"},
	}
	for _, tc := range []struct {
		query string
		want  string
		pages int
	}{
		{"", "a,b,c", 1},
		{"sort=-runs", "a,c,b", 1},
		{"sort=runs&per=2", "b,c", 2},
		{"sort=runs&per=2&page=2", "a", 2},
		{"state=paused", "b", 1},
		{"state=invalid", "c", 1},
		{"source=rest", "b", 1},
		{"source=file&q=Schedule-C", "c", 1},
	} {
		v, _ := url.ParseQuery(tc.query)
		q, err := parseListQuery(v)
		if err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		page, _, pages := q.apply(append([]ScheduleRow(nil), rows...))
		var ids []string
		for _, r := range page {
			ids = append(ids, r.ID)
		}
		if got := strings.Join(ids, ","); got != tc.want || pages != tc.pages {
			t.Errorf("%s: %s in %d pages, want %s in %d", tc.query, got, pages, tc.want, tc.pages)
		}
	}
}
