package web

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
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
	marks := lanes[0].Marks
	last := marks[len(marks)-1]
	if len(marks) > 1000 || marks[0].Pos != 0 || last.Pos+last.Width != 1000 || !marks[0].Overlap || lanes[0].Dense || lanes[0].Fires != 1440 {
		t.Errorf("%d marks from %d to %d, first overlap %t, dense %t, %d fires", len(marks), marks[0].Pos, last.Pos+last.Width, marks[0].Overlap, lanes[0].Dense, lanes[0].Fires)
	}
	if _, overlaps, _ := buildTimeline(rows, now, 24*time.Hour, 2); len(overlaps) != 0 {
		t.Errorf("%d overlaps with two workers, want none", len(overlaps))
	}
}

// TestBuildTimelineDense: a lane with more fires than are counted is drawn
// to the end of the span, its adjacent positions one band, and says how
// often it fires; a schedule firing only in working hours keeps its gaps.
func TestBuildTimelineDense(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	row := func(id, spec string) ScheduleRow {
		expr, err := cron.Parse(spec)
		if err != nil {
			t.Fatal(err)
		}
		s := &config.Schedule{Type: config.TypeCron, Cron: expr, CronSpec: spec, Location: time.UTC, MisfirePolicy: "fireAndProceed"}
		return ScheduleRow{ID: id, Schedule: s, Next: expr.Next(now.Add(-time.Second)), Location: time.UTC}
	}
	lanes, _, _ := buildTimeline([]ScheduleRow{row("every2s", "0/2 * * * * ?"), row("office", "0/2 * 8-17 * * ?")}, now, 24*time.Hour, 0)
	for _, tc := range []struct {
		lane  lane
		bands []fireMark // Pos and Width only
	}{
		{lanes[0], []fireMark{{Pos: 0, Width: 1000}}},
		{lanes[1], []fireMark{{Pos: 333, Width: 417}}},
	} {
		l := tc.lane
		if !l.Dense || l.Every != 2*time.Second || l.Fires != maxLaneFires {
			t.Errorf("%s: dense %t, every %s, %d fires; want dense, every 2s, %d fires", l.ID, l.Dense, l.Every, l.Fires, maxLaneFires)
		}
		var got []fireMark
		for _, m := range l.Marks {
			got = append(got, fireMark{Pos: m.Pos, Width: m.Width})
		}
		if !slices.Equal(got, tc.bands) {
			t.Errorf("%s: marks %v, want %v", l.ID, got, tc.bands)
		}
	}
}

// TestBuildTimelineBudget: lanes past the count of fires in all are still
// drawn whole.
func TestBuildTimelineBudget(t *testing.T) {
	rows := denseRows(t, maxTimelineFires/maxLaneFires+1)
	lanes, _, _ := buildTimeline(rows, rows[0].Next, 24*time.Hour, 0)
	last := lanes[len(lanes)-1]
	if len(lanes) != len(rows) || !last.Dense || last.Fires != 0 || len(last.Marks) != 1 || last.Marks[0].Width != 1000 {
		t.Errorf("%d lanes, the last dense %t with %d fires and marks %v; want %d, dense, 0, one mark 1000 wide", len(lanes), last.Dense, last.Fires, last.Marks, len(rows))
	}
}

// denseRows are n schedules firing every second.
func denseRows(t testing.TB, n int) []ScheduleRow {
	expr, err := cron.Parse("* * * * * ?")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	s := &config.Schedule{Type: config.TypeCron, Cron: expr, CronSpec: "* * * * * ?", Location: time.UTC, MisfirePolicy: "fireAndProceed"}
	rows := make([]ScheduleRow, n)
	for i := range rows {
		rows[i] = ScheduleRow{ID: fmt.Sprintf("s%03d", i), Schedule: s, Next: now, Location: time.UTC}
	}
	return rows
}

// BenchmarkBuildTimelineDense: 200 lanes of schedules firing every second,
// over 24 hours.
func BenchmarkBuildTimelineDense(b *testing.B) {
	rows := denseRows(b, maxLanes)
	for b.Loop() {
		buildTimeline(rows, rows[0].Next, 24*time.Hour, 10)
	}
}

// TestTimelineTicks: every 3 hours of UTC over a day, every day over a week.
func TestTimelineTicks(t *testing.T) {
	from := time.Date(2026, 12, 1, 1, 30, 0, 0, time.UTC)
	day := timelineTicks(from, 24*time.Hour)
	if len(day) != 8 || day[0] != (tick{Pos: 62, Label: "03:00"}) || day[7].Label != "00:00" {
		t.Errorf("24h ticks %v", day)
	}
	week := timelineTicks(from, 7*24*time.Hour)
	if len(week) != 7 || week[0].Label != "Wed 02 Dec" {
		t.Errorf("7d ticks %v", week)
	}
}

// TestZoneName: a zone by its name; the process-local zone by the name its
// /etc/localtime link points at, else /etc/timezone, else its abbreviation.
func TestZoneName(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	if got := zoneName(paris); got != "Europe/Paris" {
		t.Errorf("zoneName(Europe/Paris) = %q", got)
	}
	if got := zoneName(time.UTC); got != "UTC" {
		t.Errorf("zoneName(UTC) = %q", got)
	}
	dir := t.TempDir()
	link, plain, tzFile := filepath.Join(dir, "localtime"), filepath.Join(dir, "plain"), filepath.Join(dir, "timezone")
	if err := os.Symlink("/usr/share/zoneinfo/America/New_York", link); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(plain, []byte("TZif"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tzFile, []byte("Asia/Tokyo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cet := time.FixedZone("CET", 3600)
	for _, tc := range []struct{ localtime, timezone, want string }{
		{link, tzFile, "America/New_York"},
		{plain, tzFile, "Asia/Tokyo"},
		{plain, filepath.Join(dir, "none"), "CET"},
	} {
		if got := systemZoneName(tc.localtime, tc.timezone, cet); got != tc.want {
			t.Errorf("systemZoneName(%s, %s) = %q, want %q", tc.localtime, tc.timezone, got, tc.want)
		}
	}
}

// TestShortScanValues: run ids and times cut short, odd values kept.
func TestShortScanValues(t *testing.T) {
	if got := shortID("4ae7be1e-79e4-4409-bb64-4a98bfa5047f"); got != "4ae7be1e…" {
		t.Errorf("shortID = %q", got)
	}
	if got := shortID("run-1"); got != "run-1" {
		t.Errorf("shortID(run-1) = %q", got)
	}
	if got := shortStamp("2026-12-02T02:32:11.106Z"); got != "2026-12-02 02:32:11Z" {
		t.Errorf("shortStamp = %q", got)
	}
	if got := shortStamp("yesterday"); got != "yesterday" {
		t.Errorf("shortStamp(yesterday) = %q", got)
	}
}
