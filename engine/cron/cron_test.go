package cron

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		expr string
		want string // substring of the error
	}{
		{"0 0 12 * * MON", `invalid cron expression "0 0 12 * * MON": day-of-month and day-of-week: one of them must be '?'`},
		{"0 0 12 ? * ?", "day-of-month and day-of-week: only one of them may be '?'"},
		{"0 0 12 * *", "expected 6 or 7 fields, found 5"},
		{"", "expected 6 or 7 fields, found 0"},
		{"60 * * * * ?", "seconds: values must be between 0 and 59"},
		{"0 0 24 * * ?", "hours: values must be between 0 and 23"},
		{"0 0 0 32 * ?", "day-of-month: values must be between 1 and 31"},
		{"0 0 0 ? 13 *", "month: values must be between 1 and 12"},
		{"0 0 0 ? * 8", "day-of-week: values must be between 1 and 7"},
		{"0 0 0 ? FOO *", `month: invalid month "FOO"`},
		{"0 0 0 ? * FUN", `day-of-week: invalid day of week "FUN"`},
		{"0 0 0 ? * 6#6", "day-of-week: a number between 1 and 5 must follow '#' (at character 13)"},
		{"0 0 0 ? * 2#1,3#2", "only one '#' is allowed"},
		{"0 0 0 L,5 * ?", "'L' and 'LW' cannot be combined"},
		{"0 0 0 L-31 * ?", "offset from the last day must be at most 30"},
		{"*/5x * * * * ?", "seconds: invalid increment"},
		{"1/2/3 * * * * ?", "unexpected character '/' after '/'"},
		{"0 0 0 ? * * 2030-2020", "year: the start year must be before the end year"},
		{"? * * * * ?", "'?' is only allowed in day-of-month and day-of-week"},
		{"0 0 0 5L * ?", "'L' after a number is only valid in day-of-week"},
		{"0 0 0 ? * 5W", "'W' is only valid in day-of-month"},
		// Accepted by Quartz, then broken at evaluation: rejected here.
		{"L * * * * ?", "seconds: 'L' is only valid in day-of-month and day-of-week"},
		{"0 , * * * ?", "minutes: no value given"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.expr)
		if err == nil {
			t.Errorf("Parse(%q) = nil error, want %q", tt.expr, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) error = %q, want it to contain %q", tt.expr, err, tt.want)
		}
	}
}

func TestParseLenientTails(t *testing.T) {
	// Quartz ignores what follows a complete value and tokens after the seventh.
	same := [][2]string{
		{"5X * * * * ?", "5 * * * * ?"},
		{"0 0 12 * * ? 2027 garbage", "0 0 12 * * ? 2027"},
		{"0 0 0 ? * MONDAY", "0 0 0 ? * MON"},
		{"0 0 0 ? JAN-DEC/2 *", "0 0 0 ? * *"},
		{"0 0 0 1W,15 * ?", "0 0 0 1W * ?"},
		{"*/0 * * * * ?", "* * * * * ?"},
		{"0 0 0 ? * 0#2", "0 0 0 ? * 7#2"},
		{"0 0 12 * * ?X", "0 0 12 * * ?"},
		{"  0\t0  12 * * ?  ", "0 0 12 * * ?"},
		{"0 0 12 ? * mon-fri", "0 0 12 ? * MON-FRI"},
	}
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, s := range same {
		a, err := Parse(s[0])
		if err != nil {
			t.Errorf("Parse(%q): %v", s[0], err)
			continue
		}
		b := MustParse(s[1])
		ta, tb := from, from
		for i := 0; i < 5; i++ {
			ta, tb = a.Next(ta), b.Next(tb)
			if !ta.Equal(tb) {
				t.Errorf("%q and %q differ at fire %d: %v vs %v", s[0], s[1], i, ta, tb)
				break
			}
		}
	}
}

func TestString(t *testing.T) {
	for in, want := range map[string]string{
		"0 15 10 ? * mon-fri":           "0 15 10 ? * MON-FRI",
		"  0   0 12 * * ?   ":           "0 0 12 * * ?",
		"0 0 12 * * ? 2027 more tokens": "0 0 12 * * ? 2027",
	} {
		if got := MustParse(in).String(); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDescribe(t *testing.T) {
	for in, want := range map[string]string{
		"0 15 10 LW * ?":       "at 10:15:00, on the last weekday of the month",
		"0 15 10 ? * MON-FRI":  "at 10:15:00, on Monday through Friday",
		"0 0/5 * * * ?":        "every 5 minutes",
		"* * * * * ?":          "every second",
		"0/5 * * * * ?":        "every 5 seconds",
		"0,30 * * * * ?":       "every 30 seconds",
		"15 * * * * ?":         "at second 15 of every minute",
		"15 0/10 * * * ?":      "second 15, every 10 minutes",
		"0 * * * * ?":          "every minute",
		"0 15 10 ? * 6#3":      "at 10:15:00, on the third Friday of the month",
		"0 15 10 ? * 6L":       "at 10:15:00, on the last Friday of the month",
		"0 0 12 L * ?":         "at 12:00:00, on the last day of the month",
		"0 0 12 15W * ?":       "at 12:00:00, on the weekday nearest day 15 of the month",
		"0 11 11 11 11 ?":      "at 11:11:00, on day 11 of the month, in November",
		"0 0 0 29 2 ? 2028":    "at 00:00:00, on day 29 of the month, in February, in 2028",
		"0 0 9-17 ? * MON-FRI": "at minute 0, hours 09:00 through 17:00, on Monday through Friday",
	} {
		if got := MustParse(in).Describe(); got != want {
			t.Errorf("Describe(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNextDST(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		expr string
		from time.Time
		want []string
	}{
		// Spring forward: 02:30 does not exist on 2026-03-08 and is not shifted.
		{"0 30 2 * * ?", time.Date(2026, 3, 7, 12, 0, 0, 0, ny), []string{"2026-03-08T02:30:00-05:00"[:0] + "2026-03-09T02:30:00-04:00"}},
		{"0 0/15 1-3 * * ?", time.Date(2026, 3, 8, 1, 40, 0, 0, ny), []string{"2026-03-08T01:45:00-05:00", "2026-03-08T03:00:00-04:00"}},
		// Fall back: the repeated hour fires once, at its later occurrence.
		{"0 0 * * * ?", time.Date(2026, 11, 1, 0, 30, 0, 0, ny), []string{"2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"}},
	}
	for _, tt := range tests {
		e := MustParse(tt.expr)
		at := tt.from
		for i, want := range tt.want {
			at = e.Next(at)
			if got := formatOffset(at); got != want {
				t.Errorf("%q fire %d from %v = %s, want %s", tt.expr, i, tt.from, got, want)
			}
		}
	}
}

func TestNextAllocations(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	exprs := []string{"0 15 10 ? * MON-FRI", "0 15 10 L * ?", "0 15 10 ? * 6#3", "0 30 2 * * ?", "0 0 12 LW * ?",
		"* * * * * ?", "0 0/5 * * * ?", "0 11 11 11 11 ?", "0 0 0 29 2 ?", "0 0 12 15W * ?"}
	for _, loc := range []*time.Location{time.UTC, ny} {
		for _, expr := range exprs {
			e := MustParse(expr)
			from := time.Date(2026, 3, 1, 0, 0, 0, 0, loc)
			if n := testing.AllocsPerRun(100, func() { _ = e.Next(from) }); n != 0 {
				t.Errorf("Next(%q) in %s allocates %.1f times per call, want 0", expr, loc, n)
			}
		}
	}
}

func TestIntSetRange(t *testing.T) {
	var s intSet
	s.enableSpan()
	s.addRange(1970, 2126, 1)
	s.addRange(60, 70, 1)
	s.addRange(3, 20, 5)
	s.add(5000)
	for _, tc := range []struct{ from, want int }{{0, 3}, {4, 8}, {19, 60}, {66, 66}, {71, 1970}, {2000, 2000}, {2127, 5000}} {
		if got, ok := s.ceil(tc.from); !ok || got != tc.want {
			t.Errorf("ceil(%d) = %d, %v; want %d", tc.from, got, ok, tc.want)
		}
	}
	if _, ok := s.ceil(5001); ok {
		t.Errorf("ceil(5001) found a value")
	}
	if got, _ := s.last(); got != 5000 {
		t.Errorf("last() = %d, want 5000", got)
	}
}

func TestSharedYearSet(t *testing.T) {
	a, b := MustParse("0 0 3 * * ?"), MustParse("0 0 3 * * ? *")
	if a.sets[year].ext != defaultYears || b.sets[year].ext != defaultYears {
		t.Fatal("the default year set is not shared")
	}
	// A value after "*" copies the shared set instead of changing it.
	before := *defaultYears
	c := MustParse("0 0 3 * * ? *,3000")
	if c.sets[year].ext == defaultYears || defaultYears.span != before.span || len(defaultYears.large) != 0 {
		t.Fatal("the shared year set was modified")
	}
	if !c.sets[year].contains(3000) || a.sets[year].contains(3000) {
		t.Fatal("year 3000 in the wrong set")
	}
	// An explicit range equal to "*" shares it too.
	if d := MustParse("0 0 3 * * ? 1970-" + strconv.Itoa(maxYear)); d.sets[year].ext != defaultYears {
		t.Fatal("1970-maxYear does not share the default year set")
	}
	if n := testing.AllocsPerRun(10, func() { MustParse("0 0 3 * * ?") }); n > 1 {
		t.Errorf("Parse of a normalised expression allocates %.0f times, want 1", n)
	}
	if got := MustParse("0 0 3 * * ?").String(); got != "0 0 3 * * ?" {
		t.Errorf("String() = %q", got)
	}
	if got := MustParse(" 0  0 3 ? * mon-fri").String(); got != "0 0 3 ? * MON-FRI" {
		t.Errorf("String() = %q", got)
	}
}
