// Package cronbench measures Sundial's cron engine side by side with the Go
// cron libraries users would otherwise pick: github.com/robfig/cron/v3 (with
// its seconds-field parser) and github.com/gorhill/cronexpr. It lives in its
// own module so that the peers never enter Sundial's go.mod.
//
// Speed is only worth comparing between right answers, so every engine's fire
// times are also checked against the Quartz semantics (see truth.go), and the
// peers' known wrong answers are declared in PeerFaults.
package cronbench

import (
	"testing"
	"time"
	_ "time/tzdata" // the workloads run in America/New_York on any machine

	"github.com/gorhill/cronexpr"
	robfig "github.com/robfig/cron/v3"

	"sundial/engine/cron"
)

// Workload is one expression, in each engine's dialect ("" when the engine
// has no equivalent syntax), searched from Start in Start's zone.
type Workload struct {
	Name    string
	Quartz  string // Sundial (Quartz syntax)
	Robfig  string // robfig/cron/v3, seconds parser: no L, W, #, year
	Cronexp string // gorhill/cronexpr: 7 fields, day-of-week 0 = Sunday
	Start   time.Time

	rule rule // which wall-clock times fire, for Truth
}

// Zone is the name of the zone the workload runs in.
func (w Workload) Zone() string { return w.Start.Location().String() }

// Chain is how many Next calls follow each other before the search restarts
// from Start, so every engine covers the same calendar range.
const Chain = 64

// Zones are the zones every workload runs in: one without DST, and one with.
var Zones = []string{"UTC", "America/New_York"}

// Workloads are the shared expressions, each in every zone of Zones from
// 1 January 2026, then the DST-gap expression in New York from 1 March 2026.
func Workloads() []Workload {
	shared := []Workload{
		{Name: "every second", Quartz: "* * * * * ?", Robfig: "* * * * * ?", Cronexp: "* * * * * ? *",
			rule: rule{day: everyDay, clock: every(1)}},
		{Name: "every 5 minutes", Quartz: "0 0/5 * * * ?", Robfig: "0 0/5 * * * ?", Cronexp: "0 0/5 * * * ? *",
			rule: rule{day: everyDay, clock: every(300)}},
		{Name: "weekdays 10:15", Quartz: "0 15 10 ? * MON-FRI", Robfig: "0 15 10 ? * MON-FRI", Cronexp: "0 15 10 ? * MON-FRI *",
			rule: rule{day: weekday, clock: at(10, 15, 0)}},
		{Name: "11 Nov 11:11", Quartz: "0 11 11 11 11 ?", Robfig: "0 11 11 11 11 ?", Cronexp: "0 11 11 11 11 ? *",
			rule: rule{day: dayOfYear(time.November, 11), clock: at(11, 11, 0)}},
		{Name: "29 February", Quartz: "0 0 0 29 2 ?", Robfig: "0 0 0 29 2 ?", Cronexp: "0 0 0 29 2 ? *",
			rule: rule{day: dayOfYear(time.February, 29), clock: at(0, 0, 0)}},
		{Name: "last day (L)", Quartz: "0 15 10 L * ?", Cronexp: "0 15 10 L * ? *",
			rule: rule{day: lastDay, clock: at(10, 15, 0)}},
		{Name: "last weekday (LW)", Quartz: "0 15 10 LW * ?", Cronexp: "0 15 10 LW * ? *",
			rule: rule{day: lastWeekday, clock: at(10, 15, 0)}},
		{Name: "third Friday (6#3)", Quartz: "0 15 10 ? * 6#3", Cronexp: "0 15 10 ? * FRI#3 *",
			rule: rule{day: thirdFriday, clock: at(10, 15, 0)}},
	}
	var out []Workload
	for _, zone := range Zones {
		loc := mustZone(zone)
		for _, w := range shared {
			w.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, loc)
			out = append(out, w)
		}
	}
	return append(out, Workload{
		Name: "02:30 daily, DST gap", Quartz: "0 30 2 * * ?", Robfig: "0 30 2 * * ?", Cronexp: "0 30 2 * * ? *",
		Start: time.Date(2026, 3, 1, 0, 0, 0, 0, mustZone("America/New_York")),
		rule:  rule{day: everyDay, clock: at(2, 30, 0)},
	})
}

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

var robfigParser = robfig.NewParser(robfig.Second | robfig.Minute | robfig.Hour | robfig.Dom | robfig.Month | robfig.Dow | robfig.Descriptor)

// Engine is one library's parse and next functions.
type Engine struct {
	Name  string
	Spec  func(Workload) string
	Parse func(string) (func(time.Time) time.Time, error)
}

// Engine names.
const (
	Sundial  = "sundial"
	Robfig   = "robfig/cron/v3"
	Cronexpr = "gorhill/cronexpr"
)

// Engines lists Sundial first, then the peers.
func Engines() []Engine {
	return []Engine{
		{Sundial, func(w Workload) string { return w.Quartz }, func(s string) (func(time.Time) time.Time, error) {
			e, err := cron.Parse(s)
			if err != nil {
				return nil, err
			}
			return e.Next, nil
		}},
		{Robfig, func(w Workload) string { return w.Robfig }, func(s string) (func(time.Time) time.Time, error) {
			e, err := robfigParser.Parse(s)
			if err != nil {
				return nil, err
			}
			return e.Next, nil
		}},
		{Cronexpr, func(w Workload) string { return w.Cronexp }, func(s string) (func(time.Time) time.Time, error) {
			e, err := cronexpr.Parse(s)
			if err != nil {
				return nil, err
			}
			return e.Next, nil
		}},
	}
}

// BenchParse measures parsing spec.
func BenchParse(b *testing.B, en Engine, spec string) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := en.Parse(spec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchNext measures chained Next calls: t = Next(t), restarting from the
// workload's start every Chain calls or when the expression stops firing.
func BenchNext(b *testing.B, en Engine, w Workload) {
	next, err := en.Parse(en.Spec(w))
	if err != nil {
		b.Fatal(err)
	}
	t := w.Start
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%Chain == 0 {
			t = w.Start
		}
		if t = next(t); t.IsZero() {
			t = w.Start
		}
	}
}
