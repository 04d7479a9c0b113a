package cron

import (
	"fmt"
	"strconv"
	"strings"
)

var monthLong = [...]string{"", "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
var dayLong = [...]string{"", "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
var ordinal = [...]string{"", "first", "second", "third", "fourth", "fifth"}

// Describe returns a short English description of the expression, e.g.
// "at 10:15:00, on the last weekday of the month".
func (e *Expression) Describe() string {
	var parts []string
	parts = append(parts, e.describeTime())
	if d := e.describeDays(); d != "" {
		parts = append(parts, d)
	}
	if m := e.describeList(month, 1, 12, "month", func(v int) string { return nameOr(monthLong[:], v) }); m != "" && m != "every month" {
		parts = append(parts, "in "+m)
	}
	if y := e.describeYears(); y != "" {
		parts = append(parts, y)
	}
	return strings.Join(parts, ", ")
}

func nameOr(names []string, v int) string {
	if v >= 0 && v < len(names) && names[v] != "" {
		return names[v]
	}
	return strconv.Itoa(v)
}

// values returns the real values of a field (without the '*' and '?' markers).
func (e *Expression) values(f int) []int {
	var out []int
	for _, v := range e.sets[f].values() {
		if v == allSpec && f != year || v == noSpec && (f == dayOfMonth || f == dayOfWeek) {
			continue
		}
		out = append(out, v)
	}
	return out
}

func (e *Expression) describeTime() string {
	s, m, h := e.values(second), e.values(minute), e.values(hour)
	if len(s) == 1 && len(m) == 1 && len(h) == 1 {
		return fmt.Sprintf("at %02d:%02d:%02d", h[0], m[0], s[0])
	}
	var parts []string
	switch {
	case len(s) == 60:
		parts = append(parts, "every second")
	case len(s) == 1 && s[0] == 0:
		// on the minute: say nothing about seconds
	default:
		parts = append(parts, e.describeList(second, 0, 59, "second", strconv.Itoa))
	}
	if len(m) == 1 && len(h) == 1 {
		parts = append(parts, fmt.Sprintf("at %02d:%02d", h[0], m[0]))
		return strings.Join(parts, ", ")
	}
	switch {
	case len(m) == 60 && len(s) > 1:
		// several seconds of every minute: "every 5 seconds" says it all
	case len(m) == 60 && len(s) == 1 && s[0] != 0:
		parts = []string{fmt.Sprintf("at second %d of every minute", s[0])}
	case len(m) == 60:
		parts = append(parts, "every minute")
	case len(m) == 1:
		parts = append(parts, "at minute "+strconv.Itoa(m[0]))
	default:
		parts = append(parts, e.describeList(minute, 0, 59, "minute", strconv.Itoa))
	}
	if len(h) != 24 {
		parts = append(parts, e.describeList(hour, 0, 23, "hour", func(v int) string { return fmt.Sprintf("%02d:00", v) }))
	}
	return strings.Join(parts, ", ")
}

// describeList describes a field's values: "every minute", "every 5 minutes",
// "every 10 minutes from minute 7", "minutes 0 through 10", "minute 15",
// "minutes 0, 15 and 45".
func (e *Expression) describeList(f, lo, hi int, unit string, name func(int) string) string {
	vals := e.values(f)
	if len(vals) == 0 {
		return "never"
	}
	if len(vals) == hi-lo+1 {
		return "every " + unit
	}
	if len(vals) == 1 {
		if f == month {
			return name(vals[0])
		}
		if f == hour {
			return "at " + name(vals[0]) + " hour"
		}
		return unit + " " + name(vals[0])
	}
	step := vals[1] - vals[0]
	progression := step > 1
	for i := 2; i < len(vals) && progression; i++ {
		progression = vals[i]-vals[i-1] == step
	}
	if progression && vals[len(vals)-1]+step > hi {
		if vals[0] == lo {
			return fmt.Sprintf("every %d %ss", step, unit)
		}
		return fmt.Sprintf("every %d %ss from %s %s", step, unit, unit, name(vals[0]))
	}
	if step == 1 && vals[len(vals)-1]-vals[0] == len(vals)-1 && len(vals) > 2 {
		return fmt.Sprintf("%ss %s through %s", unit, name(vals[0]), name(vals[len(vals)-1]))
	}
	names := make([]string, len(vals))
	for i, v := range vals {
		names[i] = name(v)
	}
	if f == month {
		return joinAnd(names)
	}
	return unit + "s " + joinAnd(names)
}

func joinAnd(s []string) string {
	if len(s) <= 1 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

func (e *Expression) describeDays() string {
	if e.domSpec {
		switch {
		case e.lastdayOfMonth && e.nearestWeekday && e.lastdayOffset == 0:
			return "on the last weekday of the month"
		case e.lastdayOfMonth && e.nearestWeekday:
			return fmt.Sprintf("on the weekday nearest %d days before the last day of the month", e.lastdayOffset)
		case e.lastdayOfMonth && e.lastdayOffset == 0:
			return "on the last day of the month"
		case e.lastdayOfMonth:
			return fmt.Sprintf("%d days before the last day of the month", e.lastdayOffset)
		case e.nearestWeekday:
			first, _ := e.sets[dayOfMonth].first()
			return fmt.Sprintf("on the weekday nearest day %d of the month", first)
		}
		d := e.describeList(dayOfMonth, 1, 31, "day", strconv.Itoa)
		if d == "every day" {
			return ""
		}
		return "on " + d + " of the month"
	}
	dayName := func(v int) string { return nameOr(dayLong[:], v) }
	first, _ := e.sets[dayOfWeek].first()
	switch {
	case e.lastdayOfWeek:
		return "on the last " + dayName(first) + " of the month"
	case e.nthdayOfWeek != 0:
		return fmt.Sprintf("on the %s %s of the month", ordinal[e.nthdayOfWeek], dayName(first))
	}
	vals := e.values(dayOfWeek)
	if len(vals) == 7 {
		return ""
	}
	if len(vals) > 2 && vals[len(vals)-1]-vals[0] == len(vals)-1 {
		return "on " + dayName(vals[0]) + " through " + dayName(vals[len(vals)-1])
	}
	names := make([]string, len(vals))
	for i, v := range vals {
		names[i] = dayName(v)
	}
	return "on " + joinAnd(names)
}

func (e *Expression) describeYears() string {
	if e.sets[year].contains(allSpec) {
		return ""
	}
	vals := e.values(year)
	if len(vals) == 0 {
		return "in no year"
	}
	names := make([]string, len(vals))
	for i, v := range vals {
		names[i] = strconv.Itoa(v)
	}
	if len(names) > 6 {
		return fmt.Sprintf("in %s through %s", names[0], names[len(names)-1])
	}
	return "in " + joinAnd(names)
}
