package web

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"sundial/engine/config"
	"sundial/engine/cron"
)

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
		page, _, pages := q.apply(rows)
		var ids []string
		for _, r := range page {
			ids = append(ids, r.ID)
		}
		if got := strings.Join(ids, ","); got != tc.want || pages != tc.pages {
			t.Errorf("%s: %s in %d pages, want %s in %d", tc.query, got, pages, tc.want, tc.pages)
		}
	}
}

// TestShortDur: durations without their zero parts.
func TestShortDur(t *testing.T) {
	for d, want := range map[time.Duration]string{24 * time.Hour: "24h", 90 * time.Minute: "1h30m", 5 * time.Minute: "5m", 30 * time.Second: "30s", time.Hour + time.Second: "1h0m1s"} {
		if got := shortDur(d); got != want {
			t.Errorf("shortDur(%s) = %q, want %q", d, got, want)
		}
	}
}

// TestBuildTimeline: fires closer than a mark share it, every lane of a
// dense schedule spans the whole day, and fires beyond threadCount at one
// moment are overlaps.
func TestBuildTimeline(t *testing.T) {
	expr, err := cron.Parse("0 * * * * ?")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 0, 0, 30, 0, time.UTC)
	s := &config.Schedule{Type: config.TypeCron, Cron: expr, CronSpec: "0 * * * * ?", Location: time.UTC, MisfirePolicy: "fireAndProceed"}
	next := now.Truncate(time.Minute).Add(time.Minute)
	rows := []ScheduleRow{{ID: "a", Schedule: s, Next: next, Location: time.UTC}, {ID: "b", Schedule: s, Next: next, Location: time.UTC}}
	lanes, overlaps, more := buildTimeline(rows, now, 24*time.Hour, 1)
	if len(lanes) != 2 || more != 0 || len(overlaps) != 1440 {
		t.Fatalf("%d lanes, %d more, %d overlaps; want 2, 0, 1440", len(lanes), more, len(overlaps))
	}
	marks := lanes[0].Fires
	if len(marks) > 1000 || marks[0].Pos != 0 || marks[len(marks)-1].Pos != 999 || !marks[0].Overlap || lanes[0].More {
		t.Errorf("%d marks from %d to %d, first overlap %t, more %t", len(marks), marks[0].Pos, marks[len(marks)-1].Pos, marks[0].Overlap, lanes[0].More)
	}
	if _, overlaps, _ := buildTimeline(rows, now, 24*time.Hour, 2); len(overlaps) != 0 {
		t.Errorf("%d overlaps with two workers, want none", len(overlaps))
	}
}
