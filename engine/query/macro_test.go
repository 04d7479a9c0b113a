package query

import (
	"errors"
	"strings"
	"testing"
	"time"

	"sundial/engine/clock"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	z, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func TestExpandMacros(t *testing.T) {
	paris := mustZone(t, "Europe/Paris")
	newYork := mustZone(t, "America/New_York")
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		name, now, in string
		zone          *time.Location
		want          string
	}{
		{"now", "2024-05-01T10:15:30.123456Z", "${Time.now}", nil, "2024-05-01T10:15:30.123Z"},
		{"millis always", "2024-05-01T10:15:30Z", "x ${Time.now} y", nil, "x 2024-05-01T10:15:30.000Z y"},
		{"plus day", "2024-05-01T10:15:30Z", "${Time.now + 1d}", nil, "2024-05-02T10:15:30.000Z"},
		{"minus hours", "2024-05-01T01:00:00Z", "${Time.now - 2h}", nil, "2024-04-30T23:00:00.000Z"},
		{"seconds minutes", "2024-05-01T00:00:00Z", "${Time.now + 90s}|${Time.now - 1m}", nil, "2024-05-01T00:01:30.000Z|2024-04-30T23:59:00.000Z"},
		{"signed amount", "2024-05-01T00:00:00Z", "${Time.now + -1d}", nil, "2024-04-30T00:00:00.000Z"},
		{"month end clamps", "2024-01-31T08:00:00Z", "${Time.now + 1M}", nil, "2024-02-29T08:00:00.000Z"},
		{"month end non-leap", "2023-01-31T08:00:00Z", "${Time.now + 1M}", nil, "2023-02-28T08:00:00.000Z"},
		{"month back across year", "2024-03-31T08:00:00Z", "${Time.now - 13M}", nil, "2023-02-28T08:00:00.000Z"},
		{"leap day plus year", "2024-02-29T12:00:00Z", "${Time.now + 1y}", nil, "2025-02-28T12:00:00.000Z"},
		{"leap day plus four years", "2024-02-29T12:00:00Z", "${Time.now + 4y}", nil, "2028-02-29T12:00:00.000Z"},
		{"leap day plus day", "2024-02-28T12:00:00Z", "${Time.now + 1d}", nil, "2024-02-29T12:00:00.000Z"},
		// 2024-03-31 is 23 hours long in Paris: a calendar day keeps the wall clock.
		{"dst spring day", "2024-03-30T11:00:00Z", "${Time.now + 1d}", paris, "2024-03-31T10:00:00.000Z"},
		{"dst spring hours", "2024-03-30T11:00:00Z", "${Time.now + 24h}", paris, "2024-03-31T11:00:00.000Z"},
		{"dst autumn day", "2024-10-26T10:00:00Z", "${Time.now + 1d}", paris, "2024-10-27T11:00:00.000Z"},
		{"dst month", "2024-02-15T17:00:00Z", "${Time.now + 1M}", newYork, "2024-03-15T16:00:00.000Z"},
		{"with offset", "2024-07-01T10:00:00Z", "${Time.nowWithOffset}", paris, "2024-07-01T12:00:00.000+02:00"},
		{"with offset utc", "2024-07-01T10:00:00Z", "${Time.nowWithOffset - 1d}", nil, "2024-06-30T10:00:00.000Z"},
		{"task state", "2024-07-01T10:00:00Z", "!(${taskState.completed} pr) and ${taskState.started} pr", nil, "!(/sunset/task-completed pr) and /sunset/task-started pr"},
		{"escaped", "2024-07-01T10:00:00Z", `\${Time.now}`, nil, `\${Time.now}`},
		{"unclosed", "2024-07-01T10:00:00Z", "${Time.now", nil, "${Time.now"},
		{"unknown token literal", "2024-07-01T10:00:00Z", "${foo}", nil, "foo"},
		{"nested left alone", "2024-07-01T10:00:00Z", "${a ${b}", nil, "a${b"},
		{"seed filter", "2024-05-01T10:15:30.5Z", `((/sunset/date lt "${Time.now + 1d}") AND !(/sunset/task-completed pr))`, nil,
			`((/sunset/date lt "2024-05-02T10:15:30.500Z") AND !(/sunset/task-completed pr))`},
	} {
		t.Run(c.name, func(t *testing.T) {
			clk := clock.NewFake(at(c.now))
			got, _, err := ExpandMacros(c.in, MacroContext{Now: clk.Now(), Zone: c.zone,
				TaskStateStarted: "/sunset/task-started", TaskStateCompleted: "/sunset/task-completed"})
			if err != nil || got != c.want {
				t.Errorf("ExpandMacros(%q) = %q, %v; want %q", c.in, got, err, c.want)
			}
		})
	}
}

// TestExpandMacrosFollowsTheClock resolves one filter as the fake clock
// crosses a month end: each scan sees its own instant.
func TestExpandMacrosFollowsTheClock(t *testing.T) {
	clk := clock.NewFake(time.Date(2024, 1, 30, 23, 0, 0, 0, time.UTC))
	var got []string
	for range 3 {
		s, _, err := ExpandMacros("${Time.now + 1M}", MacroContext{Now: clk.Now()})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
		clk.Advance(24 * time.Hour)
	}
	want := "2024-02-29T23:00:00.000Z 2024-02-29T23:00:00.000Z 2024-03-01T23:00:00.000Z"
	if strings.Join(got, " ") != want {
		t.Errorf("got %v, want %s", got, want)
	}
}

func TestExpandMacrosErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"${Time.now + 1x}", `macro at offset 0 of "${Time.now + 1x}": ${Time.now + 1x}: unknown unit 'x' in "1x": use s, m, h, d, M or y (IDM would read seconds)`},
		{"/a lt \"${Time.now+1d}\"", `macro at offset 7 of "/a lt \"${Time.now+1d}\"": ${Time.now+1d}: unknown token "Time.now+1d": write ${Time.now}, or ${Time.now + 1d} with single spaces around + or -`},
		{"é ${Time.now + d}", `macro at offset 2 of "é ${Time.now + d}": ${Time.now + d}: amount "d": expected an integer and a unit (s, m, h, d, M, y), e.g. 1d`},
		{"${Time.now +}", `macro at offset 0 of "${Time.now +}": ${Time.now +}: Time.now + needs an amount, e.g. 1d`},
		{"${Time.now * 1d}", `macro at offset 0 of "${Time.now * 1d}": ${Time.now * 1d}: "*" after Time.now: expected + or -`},
		{"${taskState.started}", `macro at offset 0 of "${taskState.started}": ${taskState.started}: taskState.started is not configured (scan.taskState)`},
	} {
		_, _, err := ExpandMacros(c.in, MacroContext{Now: time.Unix(0, 0)})
		var me *MacroError
		if !errors.As(err, &me) || err.Error() != c.want {
			t.Errorf("ExpandMacros(%q) error = %v\nwant %s", c.in, err, c.want)
		}
	}
}
