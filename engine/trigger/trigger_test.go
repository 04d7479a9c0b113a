package trigger

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// every is a fake Calendar: every multiple of a period since the Unix epoch,
// searched like Quartz from trunc_sec(after)+1s.
type every time.Duration

func (p every) Next(after time.Time) time.Time {
	ns := after.Truncate(time.Second).Add(time.Second).UnixNano()
	if r := ns % int64(p); r != 0 {
		ns += int64(p) - r
	}
	return time.Unix(0, ns).In(after.Location())
}

// list is a fake Calendar with a finite set of fire times.
type list []time.Time

func (l list) Next(after time.Time) time.Time {
	for _, t := range l {
		if t.After(after.Truncate(time.Second).Add(time.Second - 1)) {
			return t.In(after.Location())
		}
	}
	return time.Time{}
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// hm returns 2026-01-05 at the given "15:04:05" UTC time.
func hm(clock string) time.Time { return at("2026-01-05T" + clock + "Z") }

func times(ts ...time.Time) []time.Time { return ts }

func fmtTimes(ts []time.Time) string {
	var b strings.Builder
	for i, t := range ts {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(t.UTC().Format("15:04:05.000"))
	}
	return "[" + b.String() + "]"
}

func equalTimes(a, b []time.Time) bool {
	return slices.EqualFunc(a, b, func(x, y time.Time) bool { return x.Equal(y) })
}

func TestPreviewSimple(t *testing.T) {
	now := hm("10:00:00")
	tests := []struct {
		name string
		spec Spec
		want []time.Time
	}{
		// Start time.
		{"no start fires now, once", Spec{Kind: Simple}, times(now)},
		{"start in the past means now", Spec{Kind: Simple, Start: hm("09:00:00"), RepeatInterval: time.Minute, RepeatCount: 2},
			times(now, hm("10:01:00"), hm("10:02:00"))},
		{"future start", Spec{Kind: Simple, Start: hm("11:00:00"), RepeatInterval: time.Minute, RepeatCount: 1},
			times(hm("11:00:00"), hm("11:01:00"))},
		// Repeat count edges: n repeats = n+1 fires.
		{"repeat 0 is one fire", Spec{Kind: Simple, RepeatInterval: time.Minute, RepeatCount: 0}, times(now)},
		{"repeat 1 is two fires", Spec{Kind: Simple, RepeatInterval: time.Minute, RepeatCount: 1}, times(now, hm("10:01:00"))},
		{"repeat forever", Spec{Kind: Simple, RepeatInterval: 30 * time.Second, RepeatCount: RepeatForever},
			times(now, hm("10:00:30"), hm("10:01:00"), hm("10:01:30"), hm("10:02:00"), hm("10:02:30"))},
		// Interval 0: all repeats at once.
		{"interval 0 fans out", Spec{Kind: Simple, RepeatCount: 3}, times(now, now, now, now)},
		// End time: a simple trigger fires strictly before it.
		{"end cuts the repeats", Spec{Kind: Simple, RepeatInterval: time.Minute, RepeatCount: RepeatForever, End: hm("10:02:30")},
			times(now, hm("10:01:00"), hm("10:02:00"))},
		{"end on a fire time excludes it", Spec{Kind: Simple, RepeatInterval: time.Minute, RepeatCount: RepeatForever, End: hm("10:02:00")},
			times(now, hm("10:01:00"))},
		{"end before now never fires", Spec{Kind: Simple, End: hm("09:59:59")}, nil},
		{"end before a future start never fires", Spec{Kind: Simple, Start: hm("12:00:00"), End: hm("11:00:00")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.spec.Preview(now, 6)
			if !equalTimes(got, tt.want) {
				t.Fatalf("Preview = %s, want %s", fmtTimes(got), fmtTimes(tt.want))
			}
		})
	}
}

func TestPreviewCron(t *testing.T) {
	minute := every(time.Minute)
	tests := []struct {
		name string
		now  time.Time
		spec Spec
		want []time.Time
	}{
		{"next calendar time", hm("09:59:30"), Spec{Kind: Cron, Calendar: minute},
			times(hm("10:00:00"), hm("10:01:00"), hm("10:02:00"))},
		// Quartz searches after start-1s: created within the second of a fire
		// time, the trigger fires for it at once.
		{"created on a fire time fires for it", hm("10:00:00"), Spec{Kind: Cron, Calendar: minute},
			times(hm("10:00:00"), hm("10:01:00"), hm("10:02:00"))},
		{"created within its second", at("2026-01-05T10:00:00.700Z"), Spec{Kind: Cron, Calendar: minute},
			times(hm("10:00:00"), hm("10:01:00"), hm("10:02:00"))},
		{"created a second later", hm("10:00:01"), Spec{Kind: Cron, Calendar: minute},
			times(hm("10:01:00"), hm("10:02:00"), hm("10:03:00"))},
		{"future start", hm("09:00:00"), Spec{Kind: Cron, Calendar: minute, Start: hm("10:01:30")},
			times(hm("10:02:00"), hm("10:03:00"), hm("10:04:00"))},
		{"start on a fire time includes it", hm("09:00:00"), Spec{Kind: Cron, Calendar: minute, Start: hm("10:02:00")},
			times(hm("10:02:00"), hm("10:03:00"), hm("10:04:00"))},
		// End time: a cron trigger fires at or before it.
		{"end on a fire time includes it", hm("09:59:30"), Spec{Kind: Cron, Calendar: minute, End: hm("10:01:00")},
			times(hm("10:00:00"), hm("10:01:00"))},
		{"end between fire times", hm("09:59:30"), Spec{Kind: Cron, Calendar: minute, End: hm("10:01:59")},
			times(hm("10:00:00"), hm("10:01:00"))},
		{"end passed", hm("10:30:00"), Spec{Kind: Cron, Calendar: minute, End: hm("10:01:00")}, nil},
		{"calendar runs out", hm("09:00:00"), Spec{Kind: Cron, Calendar: list{hm("10:00:00"), hm("11:00:00")}},
			times(hm("10:00:00"), hm("11:00:00"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.spec.Preview(tt.now, 3)
			if !equalTimes(got, tt.want) {
				t.Fatalf("Preview = %s, want %s", fmtTimes(got), fmtTimes(tt.want))
			}
		})
	}
}

func TestFiredCountsAndCompletes(t *testing.T) {
	s := Spec{Kind: Simple, RepeatInterval: time.Minute, RepeatCount: 2}
	st := s.First(hm("10:00:00"))
	for i, want := range []string{"10:00:00", "10:01:00", "10:02:00"} {
		if !st.Next.Equal(hm(want)) {
			t.Fatalf("fire %d: Next = %s, want %s", i+1, st.Next, want)
		}
		prev := st.Next
		st = s.Fired(st)
		if st.TimesTriggered != i+1 || !st.Previous.Equal(prev) {
			t.Fatalf("after fire %d: TimesTriggered = %d, Previous = %s", i+1, st.TimesTriggered, st.Previous)
		}
	}
	if !st.Complete() {
		t.Fatalf("after 3 fires: Next = %s, want complete", st.Next)
	}
}

func TestSimpleIntervalIsAbsoluteAcrossDST(t *testing.T) {
	// Quartz SimpleTrigger adds milliseconds: a 24 h interval keeps its
	// instants and moves on the wall clock when the zone changes offset.
	ny := loadZone(t, "America/New_York")
	start := time.Date(2026, 3, 7, 12, 0, 0, 0, ny)
	s := Spec{Kind: Simple, Location: ny, Start: start, RepeatInterval: 24 * time.Hour, RepeatCount: 2}
	got := s.Preview(start.Add(-time.Hour), 3)
	want := []string{"2026-03-07T12:00:00-05:00", "2026-03-08T13:00:00-04:00", "2026-03-09T13:00:00-04:00"}
	for i := range want {
		if g := got[i].In(ny).Format(time.RFC3339); g != want[i] {
			t.Errorf("fire %d = %s, want %s", i+1, g, want[i])
		}
	}
}

func TestCronEvaluatedInLocation(t *testing.T) {
	// The calendar sees times in the trigger's zone.
	ny := loadZone(t, "America/New_York")
	var seen *time.Location
	cal := calFunc(func(after time.Time) time.Time { seen = after.Location(); return after.Add(time.Hour) })
	s := Spec{Kind: Cron, Calendar: cal, Location: ny}
	s.First(hm("10:00:00"))
	if seen != ny {
		t.Fatalf("calendar saw %v, want America/New_York", seen)
	}
}

type calFunc func(time.Time) time.Time

func (f calFunc) Next(after time.Time) time.Time { return f(after) }

func TestValidate(t *testing.T) {
	tests := []struct {
		spec Spec
		want string
	}{
		{Spec{Kind: Cron}, "cron trigger without a schedule"},
		{Spec{Kind: Simple, RepeatCount: -2}, "repeat count -2 is below -1"},
		{Spec{Kind: Simple, RepeatInterval: -time.Second, RepeatCount: 1}, "repeat interval -1s is negative"},
		{Spec{Kind: Simple, RepeatCount: RepeatForever}, "a simple trigger that repeats forever needs a repeat interval above 0"},
		{Spec{Kind: Simple, Start: hm("10:00:00"), End: hm("09:00:00")}, "end time 2026-01-05T09:00:00Z is before start time 2026-01-05T10:00:00Z"},
		{Spec{}, "unknown trigger kind 0"},
		{Spec{Kind: Simple, RepeatCount: 3}, ""},
		{Spec{Kind: Cron, Calendar: every(time.Minute), Start: hm("10:00:00"), End: hm("10:00:00")}, ""},
	}
	for _, tt := range tests {
		err := tt.spec.Validate()
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("Validate(%+v) = %q, want %q", tt.spec, got, tt.want)
		}
		if _, isSpecErr := err.(*SpecError); err != nil && !isSpecErr {
			t.Errorf("Validate(%+v) = %T, want a *SpecError", tt.spec, err)
		}
	}
}
