package scheduler

import (
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric names.
const (
	metricFireDelay   = "sundial_trigger_fire_delay_seconds"
	metricRunDuration = "sundial_run_duration_seconds"
	metricRuns        = "sundial_runs_total"
	metricSkipped     = "sundial_fires_skipped_total"
)

// entryStats are a schedule's counters. Workers add to them without the loop;
// the collector reads them at scrape time, so a fire costs two atomic adds
// and no label lookup, and an idle schedule costs nothing.
type entryStats struct {
	runs    [numOutcomes]atomic.Uint64
	skipped [numReasons]atomic.Uint64
}

type metrics struct {
	delay    prometheus.Histogram
	duration prometheus.Histogram
}

func newMetrics(s *Scheduler, reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		delay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    metricFireDelay,
			Help:    "Time from a fire's scheduled time to the moment a worker takes it.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    metricRunDuration,
			Help:    "Duration of runs, from start to the service's return.",
			Buckets: []float64{.001, .005, .01, .05, .1, .5, 1, 5, 10, 30, 60, 300, 900, 3600},
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.delay, m.duration, newScheduleCollector(s)} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

// scheduleCollector exports the per-schedule counters. Series of removed
// schedules disappear with them.
type scheduleCollector struct {
	s       *Scheduler
	runs    *prometheus.Desc
	skipped *prometheus.Desc
}

func newScheduleCollector(s *Scheduler) *scheduleCollector {
	return &scheduleCollector{
		s: s,
		runs: prometheus.NewDesc(metricRuns,
			"Runs that ended, by schedule and outcome (success, error, cancelled).",
			[]string{"schedule", "outcome"}, nil),
		skipped: prometheus.NewDesc(metricSkipped,
			"Fire times that did not run, by schedule and reason (misfire, overlap, paused, disabled, service-not-found, store-error).",
			[]string{"schedule", "reason"}, nil),
	}
}

func (c *scheduleCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.runs
	ch <- c.skipped
}

func (c *scheduleCollector) Collect(ch chan<- prometheus.Metric) {
	type row struct {
		id    string
		stats *entryStats
	}
	var rows []row
	c.s.do(func() {
		for id, e := range c.s.entries {
			if e.stats != nil {
				rows = append(rows, row{id, e.stats})
			}
		}
	})
	for _, r := range rows {
		for i := range numOutcomes {
			if v := r.stats.runs[i].Load(); v > 0 {
				ch <- prometheus.MustNewConstMetric(c.runs, prometheus.CounterValue, float64(v), r.id, string(outcomeNames[i]))
			}
		}
		for i := reasonMisfire; i < numReasons; i++ {
			if v := r.stats.skipped[i].Load(); v > 0 {
				ch <- prometheus.MustNewConstMetric(c.skipped, prometheus.CounterValue, float64(v), r.id, string(reasonNames[i]))
			}
		}
	}
}
