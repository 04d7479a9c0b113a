package daemon_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"sundial/engine/daemon"
)

// Hot-reload figures: file write → applied (the target is a p99 under
// 250 ms), and a 10,000-file directory fully reloaded (under 2 s). They are
// reported, not asserted: performance numbers belong in `make bench`.
//
//	go test -run '^$' -bench 'HotReload|10000' -benchtime 100x ./engine/daemon

// dailySchedule is a valid schedule that does not fire during a benchmark;
// version makes each edit a real change.
func dailySchedule(version int) string {
	return fmt.Sprintf(`{
  "description": "version %d",
  "schedule": "0 0 3 * * ?",
  "timeZone": "UTC",
  "invokeService": "script",
  "invokeContext": {"script": {"type": "text/javascript", "source": "1"}}
}
`, version)
}

// quiet keeps the daemon's logs out of the measurements.
func quiet(o *daemon.Options) { o.Logger = slog.New(slog.DiscardHandler); o.Stdout = io.Discard }

// percentile is the nearest-rank p-th percentile of sorted samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(float64(len(sorted))*p+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkHotReloadLatency measures file write → applied (OnApplied called
// after the scheduler reconciled the new version) through the real watcher,
// whose 100 ms debounce (watch.DefaultDebounce) is part of the figure. One op
// is one in-place write; at least 50 writes are measured for the p99.
func BenchmarkHotReloadLatency(b *testing.B) {
	const minWrites = 50
	conf, scripts := newDirs(b, map[string]string{
		"schedule-edited.json": dailySchedule(0),
		"schedule-other.json":  dailySchedule(0),
	})
	bd := start(b, conf, scripts, quiet)
	file := filepath.Join(conf, "schedule-edited.json")
	var lat []time.Duration
	write := func() {
		mark := bd.mark()
		t0 := time.Now()
		writeFile(b, file, dailySchedule(len(lat)+1))
		ev := bd.waitApplied(b, mark, "applied")
		lat = append(lat, ev.at.Sub(t0))
	}
	for b.Loop() {
		write()
	}
	for len(lat) < minWrites {
		write()
	}
	slices.Sort(lat)
	b.ReportMetric(ms(percentile(lat, 0.50)), "p50-ms")
	b.ReportMetric(ms(percentile(lat, 0.99)), "p99-ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
	b.ReportMetric(float64(len(lat)), "writes")
}

const manyFiles = 10_000

// manyFilesDir writes manyFiles enabled schedule files.
func manyFilesDir(b *testing.B) (conf, scripts string) {
	b.Helper()
	conf, scripts = newDirs(b, nil)
	rewriteAll(b, conf, 0)
	return conf, scripts
}

func rewriteAll(b *testing.B, conf string, version int) {
	b.Helper()
	for i := range manyFiles {
		// Distinct contents, so that nothing keyed by content is shared.
		content := []byte(dailySchedule(version*manyFiles + i))
		if err := os.WriteFile(filepath.Join(conf, fmt.Sprintf("schedule-s%05d.json", i)), content, 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFirstApply10000Files measures a daemon's start on a directory of
// 10,000 schedule files, from New to Ready: load and validate every file,
// schedule every trigger, start watching and listening. first-apply-ms is
// the part up to the end of the first apply (OnApplied).
func BenchmarkFirstApply10000Files(b *testing.B) {
	conf, scripts := manyFilesDir(b)
	var applied time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		bd := launch(b, conf, scripts, quiet)
		bd.waitReady(b)
		b.StopTimer()
		ev := bd.applied.list()
		if len(ev) != 1 || ev[0].result != "applied" {
			b.Fatalf("first load: %+v, want one applied", ev)
		}
		applied += ev[0].at.Sub(t0)
		if n := len(bd.d.Scheduler().Snapshot().Schedules); n != manyFiles {
			b.Fatalf("%d schedules, want %d", n, manyFiles)
		}
		bd.stop(b)
		b.StartTimer()
	}
	b.ReportMetric(ms(applied)/float64(b.N), "first-apply-ms")
}

// BenchmarkReload10000Files measures Reload of a directory of 10,000
// schedule files: "changed" after every file was edited (all 10,000
// triggers rescheduled), "unchanged" when nothing was (every file read and
// hashed, nothing applied). The watcher is kept quiet with a one-hour
// debounce, so only the measured Reload calls apply anything.
func BenchmarkReload10000Files(b *testing.B) {
	conf, scripts := manyFilesDir(b)
	bd := start(b, conf, scripts, quiet, func(o *daemon.Options) { o.Debounce = time.Hour })
	ctx := context.Background()
	version := 0

	b.Run("changed", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			version++
			rewriteAll(b, conf, version)
			mark := bd.mark()
			b.StartTimer()
			bd.d.Reload(ctx)
			b.StopTimer()
			ev := bd.applied.list()
			if len(ev) != mark+1 || ev[mark].result != "applied" || ev[mark].hash == ev[mark-1].hash {
				b.Fatalf("reload: %+v, want one new snapshot applied", ev[mark:])
			}
			b.StartTimer()
		}
	})
	b.Run("unchanged", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			mark := bd.mark()
			bd.d.Reload(ctx)
			if ev := bd.applied.list(); len(ev) != mark+1 || ev[mark].result != "unchanged" {
				b.Fatalf("reload: %+v, want one unchanged", ev[mark:])
			}
		}
	})
}
