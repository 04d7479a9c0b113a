package trigger

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata"

	"sundial/engine/cron"
)

// realCron parses spec with the real cron engine; a parse error fails the
// test.
func realCron(t *testing.T, spec string) Calendar {
	t.Helper()
	e, err := cron.Parse(spec)
	if err != nil {
		t.Fatalf("cron.Parse(%q): %v", spec, err)
	}
	return e
}

// loadZone loads a zone from the embedded database (time/tzdata); a missing
// zone fails the test.
func loadZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("zone %s: %v", name, err)
	}
	return loc
}

// TestCronTriggerDST runs cron triggers through the DST days of
// America/New_York and Europe/London. Expected times follow the Quartz 2.3.2
// oracle: a wall time in the spring-forward gap
// never fires, a repeated wall time in the fall-back overlap fires once, at
// its later occurrence.
func TestCronTriggerDST(t *testing.T) {
	tests := []struct {
		name, zone, spec string
		now              string // RFC 3339
		start, end       string // RFC 3339 or ""
		want             []string
	}{
		{"NY gap: 02:30 does not exist on 2026-03-08", "America/New_York", "0 30 2 * * ?",
			"2026-03-08T00:30:00-05:00", "", "",
			[]string{"2026-03-09T02:30:00-04:00", "2026-03-10T02:30:00-04:00"}},
		{"NY gap: quarter hours jump 01:45 to 03:00", "America/New_York", "0 0/15 1-3 * * ?",
			"2026-03-08T01:30:30-05:00", "", "",
			[]string{"2026-03-08T01:45:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T03:15:00-04:00"}},
		{"NY overlap: hourly fires 01:00 once, at -05:00", "America/New_York", "0 0 * * * ?",
			"2026-11-01T00:30:00-04:00", "", "",
			[]string{"2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00", "2026-11-01T03:00:00-05:00"}},
		{"NY overlap: 01:30 daily fires once", "America/New_York", "0 30 1 * * ?",
			"2026-11-01T00:30:00-04:00", "", "",
			[]string{"2026-11-01T01:30:00-05:00", "2026-11-02T01:30:00-05:00"}},
		{"NY start and end bounds across spring forward", "America/New_York", "0 0 12 * * ?",
			"2026-03-01T00:00:00-05:00", "2026-03-07T00:00:00-05:00", "2026-03-10T12:00:00-04:00",
			[]string{"2026-03-07T12:00:00-05:00", "2026-03-08T12:00:00-04:00", "2026-03-09T12:00:00-04:00", "2026-03-10T12:00:00-04:00"}},
		{"London gap: 01:30 does not exist on 2026-03-29", "Europe/London", "0 30 1 * * ?",
			"2026-03-29T00:00:00+00:00", "", "",
			[]string{"2026-03-30T01:30:00+01:00", "2026-03-31T01:30:00+01:00"}},
		{"London overlap: 01:30 fires once, at +00:00", "Europe/London", "0 30 1 * * ?",
			"2026-10-25T00:00:00+01:00", "", "",
			[]string{"2026-10-25T01:30:00+00:00", "2026-10-26T01:30:00+00:00"}},
		{"London overlap: every 30 minutes", "Europe/London", "0 0/30 0-2 * * ?",
			"2026-10-25T00:45:00+01:00", "", "",
			[]string{"2026-10-25T01:00:00+00:00", "2026-10-25T01:30:00+00:00", "2026-10-25T02:00:00+00:00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc := loadZone(t, tt.zone)
			s := Spec{Kind: Cron, Calendar: realCron(t, tt.spec), Location: loc}
			if tt.start != "" {
				s.Start = at(tt.start)
			}
			if tt.end != "" {
				s.End = at(tt.end)
			}
			got := s.Preview(at(tt.now), len(tt.want)+1)
			if tt.end == "" {
				got = got[:min(len(got), len(tt.want))]
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d fires %s, want %d", len(got), fmtTimes(got), len(tt.want))
			}
			for i, w := range tt.want {
				if g := got[i].In(loc).Format(time.RFC3339); g != strings.Replace(w, "+00:00", "Z", 1) && g != w {
					t.Errorf("fire %d = %s, want %s", i+1, g, w)
				}
			}
		})
	}
}

// TestCronMisfireAcrossFallBack counts missed fires through the NY fall-back
// hour: 01:00 happens once, so three fires are missed, not four.
func TestCronMisfireAcrossFallBack(t *testing.T) {
	loc := loadZone(t, "America/New_York")
	s := Spec{Kind: Cron, Calendar: realCron(t, "0 0 * * * ?"), Location: loc, MisfirePolicy: DoNothing}
	st := s.First(at("2026-10-31T23:30:00-04:00")) // next: 00:00-04:00
	d := s.Due(st, at("2026-11-01T02:30:00-05:00"), 10*time.Second)
	if d.Fire || d.Misfire.Missed != 3 || !d.State.Next.Equal(at("2026-11-01T03:00:00-05:00")) {
		t.Fatalf("Due = fire %v missed %d next %s; want no fire, 3 missed, next 03:00-05:00",
			d.Fire, d.Misfire.Missed, d.State.Next.In(loc).Format(time.RFC3339))
	}
}
