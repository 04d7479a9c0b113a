// Package cronbench measures Sundial's cron engine side by side with the Go
// cron libraries users would otherwise pick: github.com/robfig/cron/v3 (with
// its seconds-field parser) and github.com/gorhill/cronexpr. It lives in its
// own module so that the peers never enter Sundial's go.mod.
package cronbench

import (
	"testing"
	"time"

	"github.com/gorhill/cronexpr"
	robfig "github.com/robfig/cron/v3"

	"sundial/engine/cron"
)

// Workload is one expression, in each engine's dialect ("" when the engine
// has no equivalent syntax), searched from Start.
type Workload struct {
	Name    string
	Quartz  string // Sundial (Quartz syntax)
	Robfig  string // robfig/cron/v3, seconds parser: no L, W, #, year
	Cronexp string // gorhill/cronexpr: 7 fields, day-of-week 0 = Sunday
	Zone    string
	Start   time.Time
}

// chain is how many Next calls follow each other before the search restarts
// from Start, so every engine covers the same calendar range.
const chain = 64

// Workloads are the shared expressions of the issue.
func Workloads() []Workload {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic(err)
	}
	jan := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return []Workload{
		{"every second", "* * * * * ?", "* * * * * ?", "* * * * * ? *", "UTC", jan},
		{"every 5 minutes", "0 0/5 * * * ?", "0 0/5 * * * ?", "0 0/5 * * * ? *", "UTC", jan},
		{"weekdays 10:15", "0 15 10 ? * MON-FRI", "0 15 10 ? * MON-FRI", "0 15 10 ? * MON-FRI *", "UTC", jan},
		{"11 Nov 11:11:11", "0 11 11 11 11 ?", "0 11 11 11 11 ?", "0 11 11 11 11 ? *", "UTC", jan},
		{"29 February", "0 0 0 29 2 ?", "0 0 0 29 2 ?", "0 0 0 29 2 ? *", "UTC", jan},
		{"last day (L)", "0 15 10 L * ?", "", "0 15 10 L * ? *", "UTC", jan},
		{"third Friday (6#3)", "0 15 10 ? * 6#3", "", "0 15 10 ? * FRI#3 *", "UTC", jan},
		{"02:30 New York DST", "0 30 2 * * ?", "0 30 2 * * ?", "0 30 2 * * ? *", "America/New_York", time.Date(2026, 3, 1, 0, 0, 0, 0, ny)},
	}
}

var robfigParser = robfig.NewParser(robfig.Second | robfig.Minute | robfig.Hour | robfig.Dom | robfig.Month | robfig.Dow | robfig.Descriptor)

// Engine is one peer's parse and next functions.
type Engine struct {
	Name  string
	Spec  func(Workload) string
	Parse func(string) (func(time.Time) time.Time, error)
}

// Engines lists Sundial first, then the peers.
func Engines() []Engine {
	return []Engine{
		{"sundial", func(w Workload) string { return w.Quartz }, func(s string) (func(time.Time) time.Time, error) {
			e, err := cron.Parse(s)
			if err != nil {
				return nil, err
			}
			return e.Next, nil
		}},
		{"robfig/cron/v3", func(w Workload) string { return w.Robfig }, func(s string) (func(time.Time) time.Time, error) {
			e, err := robfigParser.Parse(s)
			if err != nil {
				return nil, err
			}
			return e.Next, nil
		}},
		{"gorhill/cronexpr", func(w Workload) string { return w.Cronexp }, func(s string) (func(time.Time) time.Time, error) {
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
	for i := 0; i < b.N; i++ {
		if _, err := en.Parse(spec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchNext measures chained Next calls: t = Next(t), restarting from the
// workload's start every chain calls or when the expression stops firing.
func BenchNext(b *testing.B, en Engine, w Workload) {
	next, err := en.Parse(en.Spec(w))
	if err != nil {
		b.Fatal(err)
	}
	loc, err := time.LoadLocation(w.Zone)
	if err != nil {
		b.Fatal(err)
	}
	start := w.Start.In(loc)
	t := start
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%chain == 0 {
			t = start
		}
		if t = next(t); t.IsZero() {
			t = start
		}
	}
}
