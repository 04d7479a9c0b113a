package scheduler

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"weak"

	"sundial/engine/config"
	"sundial/engine/cron"
	"sundial/internal/testconf"
)

// Benchmarks run on the real clock with a no-op service. Run them with
//
//	go test -run '^$' -bench . -benchtime 1x ./engine/scheduler
//
// SUNDIAL_BENCH_SECONDS sets how long the sustained benchmarks run (by
// default 20 s for the cron one and 10 s for the simple one).

func benchSeconds(def int) time.Duration {
	if v, err := strconv.Atoi(os.Getenv("SUNDIAL_BENCH_SECONDS")); err == nil && v > 0 {
		return time.Duration(v) * time.Second
	}
	return time.Duration(def) * time.Second
}

// delays collects fire delays from many workers.
type delays struct {
	n   atomic.Int64
	buf []time.Duration
}

func newDelays(capacity int) *delays { return &delays{buf: make([]time.Duration, capacity)} }

func (d *delays) add(v time.Duration) int64 {
	i := d.n.Add(1)
	if int(i) <= len(d.buf) {
		d.buf[i-1] = v
	}
	return i
}

func (d *delays) quantile(q float64) time.Duration {
	n := min(int(d.n.Load()), len(d.buf))
	if n == 0 {
		return 0
	}
	s := slices.Clone(d.buf[:n])
	slices.Sort(s)
	return s[min(int(float64(n)*q), n-1)]
}

// procStatusKB reads a "VmHWM"-style field of /proc/self/status.
func procStatusKB(field string) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			v, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return v
		}
	}
	return 0
}

// resetPeakRSS makes VmHWM start again from the current RSS (Linux).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	s := []rtmetrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	rtmetrics.Read(s)
	return s[0].Value.Uint64()
}

func benchDesired(threads int, n int, mk func(i int) *config.Schedule) *config.Desired {
	d := desired(threads)
	d.Schedules = make(map[string]*config.Schedule, n)
	for i := range n {
		sc := mk(i)
		d.Schedules[sc.ID] = sc
	}
	return d
}

func startBench(b *testing.B, threads int, svc ServiceFunc) *Scheduler {
	b.Helper()
	s, err := New(Options{ThreadCount: threads, Services: map[string]Service{"script": svc}})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	// After a failure, stop it: no triggers left firing in later
	// benchmarks. Weak, so that the cleanup, which runs once the benchmark
	// is over, does not keep a scheduler stopped earlier (and its 100,000
	// triggers) in memory during the next iterations.
	w := weak.Make(s)
	b.Cleanup(func() {
		if s := w.Value(); s != nil {
			_ = s.Stop(0)
		}
	})
	return s
}

// BenchmarkOneShot100k: 100,000 one-shot simple triggers due at the same
// instant, 10 workers. Reports the time from the instant to the last fire,
// the fire delay p50/p99 and the peak RSS of the run: from the reconcile to
// the last fire, with the snapshot live. The peak is reset once the snapshot
// is built and the memory of earlier iterations returned to the OS, so that
// neither counts (building a snapshot is the loader's cost, which
// BenchmarkIdle100k measures).
func BenchmarkOneShot100k(b *testing.B) {
	const n = 100000
	for range b.N {
		d := newDelays(n)
		done := make(chan time.Duration, 1)
		var instant time.Time
		s := startBench(b, 10, func(_ context.Context, run Run) error {
			now := time.Now()
			if d.add(now.Sub(run.ScheduledFireTime)) == n {
				done <- now.Sub(instant)
			}
			return nil
		})
		// The lead time covers building the snapshot and the reconcile.
		instant = time.Now().Add(4 * time.Second).Truncate(time.Second)
		des := benchDesired(10, n, func(i int) *config.Schedule {
			return simpleSchedule(fmt.Sprintf("oneshot-%06d", i), instant, 0, 0)
		})
		debug.FreeOSMemory()
		resetPeakRSS()
		if _, err := s.Reconcile(context.Background(), des); err != nil {
			b.Fatal(err)
		}
		if time.Now().After(instant) {
			b.Fatal("reconcile took longer than the lead time")
		}
		var last time.Duration
		select {
		case last = <-done:
		case <-time.After(60 * time.Second):
			b.Fatalf("only %d of %d fired", d.n.Load(), n)
		}
		b.ReportMetric(procStatusKB("VmHWM")/1024, "peak-rss-MB") // before the quantiles' copies
		b.ReportMetric(last.Seconds(), "last-fire-s")
		b.ReportMetric(float64(n)/last.Seconds(), "fires/s")
		b.ReportMetric(float64(d.quantile(0.50).Microseconds())/1000, "delay-p50-ms")
		b.ReportMetric(float64(d.quantile(0.99).Microseconds())/1000, "delay-p99-ms")
		b.ReportMetric(float64(liveHeap())/(1<<20), "live-heap-MB")
		// Quartz 2.3.2 RAMJobStore, same workload, this machine (median of 3).
		b.ReportMetric(4.0, "quartz-last-fire-s")
		b.ReportMetric(4000, "quartz-delay-p99-ms")
		b.ReportMetric(514, "quartz-peak-rss-MB")
		runtime.KeepAlive(des)
		if err := s.Stop(time.Second); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCron1000Every1s: 1,000 cron triggers "0/1 * * * * ?" for 20 s
// (SUNDIAL_BENCH_SECONDS overrides). Reports the fire delay p50/p99, fires per second, and counts fires
// missed or doubled (a schedule's consecutive fires must be one second apart).
func BenchmarkCron1000Every1s(b *testing.B) {
	const n = 1000
	dur := benchSeconds(20)
	for range b.N {
		d := newDelays(n * int(dur/time.Second+2))
		index := make(map[string]int, n)
		last := make([]atomic.Int64, n)
		var anomalies, from atomic.Int64
		from.Store(1 << 62)
		s := startBench(b, 10, func(_ context.Context, run Run) error {
			// Measure fires scheduled after the triggers were applied: the
			// fire of the creation second is late by Quartz's rule, not by
			// latency.
			if run.ScheduledFireTime.UnixNano() >= from.Load() {
				d.add(time.Since(run.ScheduledFireTime))
			}
			sec := run.ScheduledFireTime.Unix()
			if prev := last[index[run.ScheduleID]].Swap(sec); prev != 0 && sec != prev+1 {
				anomalies.Add(1)
			}
			return nil
		})
		des := benchDesired(10, n, func(i int) *config.Schedule {
			expr, err := cron.Parse("0/1 * * * * ?")
			if err != nil {
				b.Fatal(err)
			}
			id := fmt.Sprintf("cron-%04d", i)
			index[id] = i
			return cronSchedule(id, "0/1 * * * * ?", func(sc *config.Schedule) { sc.Cron = expr })
		})
		if _, err := s.Reconcile(context.Background(), des); err != nil {
			b.Fatal(err)
		}
		from.Store(time.Now().UnixNano())
		time.Sleep(dur)
		if err := s.Stop(time.Second); err != nil {
			b.Fatal(err)
		}
		fires := d.n.Load()
		b.ReportMetric(float64(d.quantile(0.50).Microseconds())/1000, "delay-p50-ms")
		b.ReportMetric(float64(d.quantile(0.99).Microseconds())/1000, "delay-p99-ms")
		b.ReportMetric(float64(fires)/dur.Seconds(), "fires/s")
		b.ReportMetric(float64(anomalies.Load()), "missed-or-doubled")
		b.ReportMetric(176, "quartz-delay-p99-ms") // Quartz 2.3.2, same workload
	}
}

// BenchmarkSimple10kEvery100ms: 10,000 simple triggers repeating every 100 ms
// (100,000 fires/s offered). Reports the share of the expected fires done
// inside the window and the fire delay p99.
func BenchmarkSimple10kEvery100ms(b *testing.B) {
	const n = 10000
	dur := benchSeconds(10)
	for range b.N {
		expected := int64(n) * int64(dur/(100*time.Millisecond))
		d := newDelays(int(expected) + n)
		var start, end time.Time
		var inside atomic.Int64
		s := startBench(b, 10, func(_ context.Context, run Run) error {
			now := time.Now()
			d.add(now.Sub(run.ScheduledFireTime))
			if now.Before(end) && !run.ScheduledFireTime.Before(start) {
				inside.Add(1)
			}
			return nil
		})
		start = time.Now().Add(time.Second).Truncate(100 * time.Millisecond)
		end = start.Add(dur)
		des := benchDesired(10, n, func(i int) *config.Schedule {
			return simpleSchedule(fmt.Sprintf("simple-%05d", i), start, 100*time.Millisecond, -1)
		})
		if _, err := s.Reconcile(context.Background(), des); err != nil {
			b.Fatal(err)
		}
		time.Sleep(time.Until(end))
		if err := s.Stop(time.Second); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(100*float64(inside.Load())/float64(expected), "%-of-expected")
		b.ReportMetric(float64(inside.Load())/dur.Seconds(), "fires/s")
		b.ReportMetric(float64(d.quantile(0.99).Microseconds())/1000, "delay-p99-ms")
		var skipped int
		for _, r := range s.History() {
			skipped += r.Skipped
		}
		b.ReportMetric(float64(skipped), "skipped-in-last-1000-records")
	}
}

// BenchmarkIdle100k: the memory of 100,000 idle cron triggers (next fire a
// day away) with the snapshot they come from, as the daemon holds them.
//
//   - loaded: a conf directory of 100,000 schedule files (script schedules,
//     each with its own inline source) read by config.Load, as the daemon
//     does; a Go map costs at least 336 bytes, so each schedule's
//     invokeContext ({script: {type, source}}) is a good part of the total.
//   - bare: the same triggers built in memory with no invokeContext, the
//     figure to set beside Quartz's (a trigger and a job with no data).
//
// Reports the live heap per trigger of the scheduler's own state and with
// the snapshot, the process RSS once loaded (the heap the runtime keeps
// after the load's garbage is collected) and its peak, and the RSS once
// the free memory is returned to the OS (debug.FreeOSMemory, what a daemon
// that does so after a reload holds). Memory freed by earlier benchmarks is
// returned to the OS first, so the RSS figures are this workload's.
func BenchmarkIdle100k(b *testing.B) {
	const n = 100000
	b.Run("loaded", func(b *testing.B) {
		dir := testconf.IdleSchedules(b, n)
		benchIdle(b, n, func() *config.Desired {
			des, err := config.Load(dir, config.LoadOptions{Env: func(string) (string, bool) { return "", false }})
			if err != nil {
				b.Fatal(err)
			}
			if len(des.Schedules) != n || !des.Valid() {
				b.Fatalf("loaded %d schedules, errors %v", len(des.Schedules), des.AllErrors())
			}
			return des
		})
	})
	b.Run("bare", func(b *testing.B) {
		benchIdle(b, n, func() *config.Desired {
			// One parsed expression, as config.Load shares it.
			expr, err := cron.Parse("0 0 3 * * ?")
			if err != nil {
				b.Fatal(err)
			}
			return benchDesired(10, n, func(i int) *config.Schedule {
				return cronSchedule(fmt.Sprintf("idle-%06d", i), "0 0 3 * * ?", func(sc *config.Schedule) { sc.Cron = expr })
			})
		})
	})
}

func benchIdle(b *testing.B, n int, load func() *config.Desired) {
	for range b.N {
		base := liveHeap()
		debug.FreeOSMemory()
		resetPeakRSS()
		des := load()
		withConfig := liveHeap()
		s := startBench(b, 10, func(context.Context, Run) error { return nil })
		if _, err := s.Reconcile(context.Background(), des); err != nil {
			b.Fatal(err)
		}
		after := liveHeap()
		b.ReportMetric(float64(after-withConfig)/float64(n), "sched-B/trigger")
		b.ReportMetric(float64(after-base)/float64(n), "total-B/trigger")
		b.ReportMetric(procStatusKB("VmRSS")/1024, "rss-MB")
		b.ReportMetric(procStatusKB("VmHWM")/1024, "peak-rss-MB")
		debug.FreeOSMemory()
		b.ReportMetric(procStatusKB("VmRSS")/1024, "rss-released-MB")
		b.ReportMetric(175, "quartz-rss-MB") // Quartz 2.3.2, 100,000 triggers
		runtime.KeepAlive(des)
		if err := s.Stop(0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFirePath measures the cost and allocations of one fire through
// the whole pipeline (dispatch, worker, service call, history, metrics): one
// concurrent simple trigger with repeat interval 0 fires b.N times at once.
func BenchmarkFirePath(b *testing.B) {
	var fired atomic.Int64
	done := make(chan struct{})
	total := int64(b.N)
	s := startBench(b, 10, func(context.Context, Run) error {
		if fired.Add(1) == total {
			close(done)
		}
		return nil
	})
	s.do(func() { s.active = false }) // hold the fires until the timer starts
	at := time.Now()
	if _, err := s.Reconcile(context.Background(), desired(10, simpleSchedule("f", at, 0, b.N-1, concurrent))); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	s.do(func() { s.active = true })
	<-done
	b.StopTimer()
	_ = s.Stop(time.Second)
}
