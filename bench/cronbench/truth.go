package cronbench

import (
	"fmt"
	"time"
)

// The truth the engines are checked against is computed here by brute force,
// independently of every engine: walk the wall-clock days of the zone, keep
// the days and the times of day the expression names, and map each wall time
// to an instant the way Quartz 2.3.2 does for these expressions:
//   - the search walks wall times, from the one after the wall time of the
//     instant it starts from;
//   - a wall time inside a DST gap does not exist and never fires (Quartz
//     skips that day's 02:30 rather than firing at 03:30);
//   - a wall time that occurs twice (the hour repeated when clocks go back)
//     fires at its later occurrence;
//   - a search never finds a fire after the year lastYear.

// lastYear is Quartz's MAX_YEAR, the last year "*" covers: the JVM clock's
// year when Quartz loads, plus 100. Sundial pins it to 2026 + 100, the value
// its Quartz oracle vectors were computed with.
const lastYear = 2126

// rule says which wall-clock times a workload fires at.
type rule struct {
	day   func(time.Time) bool // the date part (a midnight in UTC) fires
	clock []int                // seconds since midnight that fire, ascending
}

func everyDay(time.Time) bool { return true }

func weekday(d time.Time) bool { return d.Weekday() != time.Saturday && d.Weekday() != time.Sunday }

func dayOfYear(m time.Month, day int) func(time.Time) bool {
	return func(d time.Time) bool { return d.Month() == m && d.Day() == day }
}

func lastDay(d time.Time) bool { return d.AddDate(0, 0, 1).Day() == 1 }

// lastWeekday is "LW": the last day of the month, or the Friday before it
// when it falls on a weekend.
func lastWeekday(d time.Time) bool {
	last := d.AddDate(0, 1, -d.Day()) // last day of d's month
	switch last.Weekday() {
	case time.Saturday:
		last = last.AddDate(0, 0, -1)
	case time.Sunday:
		last = last.AddDate(0, 0, -2)
	}
	return d.Day() == last.Day()
}

func thirdFriday(d time.Time) bool { return d.Weekday() == time.Friday && (d.Day()-1)/7 == 2 }

// every returns the times of day at each multiple of step seconds.
func every(step int) []int {
	var out []int
	for s := 0; s < 86400; s += step {
		out = append(out, s)
	}
	return out
}

func at(h, m, s int) []int { return []int{h*3600 + m*60 + s} }

// Truth returns the first n fire times of w strictly after w.Start (fewer
// when the expression stops firing), in w's zone.
func Truth(w Workload, n int) []time.Time {
	loc := w.Start.Location()
	_, off := w.Start.Zone()
	afterWall := w.Start.Unix() + int64(off)
	y, m, d := w.Start.Date()
	var out []time.Time
	for day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC); day.Year() <= lastYear; day = day.AddDate(0, 0, 1) {
		if !w.rule.day(day) {
			continue
		}
		for _, s := range w.rule.clock {
			wall := day.Unix() + int64(s)
			if wall <= afterWall {
				continue
			}
			t, ok := instantOf(wall, loc)
			if !ok {
				continue
			}
			out = append(out, t)
			if len(out) == n {
				return out
			}
			afterWall = wall
		}
	}
	return out
}

// instantOf returns the latest instant whose wall time in loc is wall
// (seconds since the epoch, read as UTC), or false when no instant has it.
func instantOf(wall int64, loc *time.Location) (time.Time, bool) {
	var best time.Time
	found := false
	// Offsets are within ±14 hours, so the offsets in force a day either
	// side of wall cover every transition that could concern it.
	for _, probe := range []int64{wall - 86400, wall, wall + 86400} {
		_, off := time.Unix(probe, 0).In(loc).Zone()
		t := time.Unix(wall-int64(off), 0).In(loc)
		if _, o := t.Zone(); t.Unix()+int64(o) == wall && (!found || t.After(best)) {
			best, found = t, true
		}
	}
	return best, found
}

// Fires returns the first n fire times of en on w, chained from w.Start as
// BenchNext chains them, stopping early when the engine stops firing.
func Fires(en Engine, w Workload, n int) ([]time.Time, error) {
	next, err := en.Parse(en.Spec(w))
	if err != nil {
		return nil, fmt.Errorf("%s: parse %q: %w", en.Name, en.Spec(w), err)
	}
	var out []time.Time
	for t := w.Start; len(out) < n; {
		if t = next(t); t.IsZero() {
			break
		}
		out = append(out, t)
	}
	return out, nil
}

// Wrong returns how en's answers on w differ from the truth over the range
// BenchNext covers, or "" when they are right.
func Wrong(en Engine, w Workload) (string, error) {
	got, err := Fires(en, w, Chain)
	if err != nil {
		return "", err
	}
	return differ(got, Truth(w, Chain)), nil
}

// differ describes the first difference between got and want, or "".
func differ(got, want []time.Time) string {
	for i := range min(len(got), len(want)) {
		if !got[i].Equal(want[i]) {
			return fmt.Sprintf("fire %d is %s, want %s", i+1, stamp(got[i]), stamp(want[i]))
		}
	}
	switch {
	case len(got) < len(want):
		return fmt.Sprintf("stops after fire %d, want %s next", len(got), stamp(want[len(got)]))
	case len(got) > len(want):
		return fmt.Sprintf("fire %d is %s, want none", len(want)+1, stamp(got[len(want)]))
	}
	return ""
}

func stamp(t time.Time) string { return t.Format("2006-01-02T15:04:05-07:00") }

// Fault is a workload on which a peer is known to answer wrong.
type Fault struct {
	Engine, Workload, Zone string
	Why                    string // what the peer does
}

// PeerFaults are the peers' known wrong answers. TestEnginesAgree fails when a
// peer answers wrong on a workload not listed here, or right on one listed,
// so the list is always what the peers do; crontable reports these and
// leaves them out of the speed comparison.
var PeerFaults = []Fault{
	{Robfig, "29 February", "UTC", "gives up after 2096: it searches at most five years ahead, and 2100 is no leap year"},
	{Robfig, "29 February", "America/New_York", "gives up after 2096: it searches at most five years ahead, and 2100 is no leap year"},
	{Cronexpr, "29 February", "UTC", "gives up after 2096: its years end at 2099"},
	{Cronexpr, "29 February", "America/New_York", "gives up after 2096: its years end at 2099"},
	{Cronexpr, "02:30 daily, DST gap", "America/New_York", "on the day 02:30 does not exist it fires at 01:30, an hour early, and then returns that same instant for ever"},
}

// FaultOf returns the declared fault of en on w, if any.
func FaultOf(en Engine, w Workload) (Fault, bool) {
	for _, f := range PeerFaults {
		if f.Engine == en.Name && f.Workload == w.Name && f.Zone == w.Zone() {
			return f, true
		}
	}
	return Fault{}, false
}
