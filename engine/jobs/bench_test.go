package jobs_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"sundial/engine/config"
	"sundial/engine/jobs"
	"sundial/engine/store"
	"sundial/engine/store/sqlite"
)

// benchEngine is an engine over a real SQLite store whose only service,
// "script", does nothing: what is measured is the engine and the store.
func benchEngine(b *testing.B, workers int) *jobs.Engine {
	b.Helper()
	db, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "sundial.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	e := jobs.New(jobs.Options{Store: db, Node: "bench", Workers: workers,
		Services: map[string]jobs.Service{"script": func(context.Context, jobs.Call) error { return nil }}})
	b.Cleanup(e.Close)
	return e
}

// noopJob is a job of n no-op script tasks spread over groups levels.
func noopJob(b *testing.B, n, groups int) *config.Job {
	b.Helper()
	var sb strings.Builder
	sb.WriteString("id: j\ntasks:\n")
	for i := range n {
		fmt.Fprintf(&sb, "  - {id: t%d, type: script, level: %d, invokeService: script, invokeContext: {script: {type: text/javascript, source: \"1\"}}}\n", i, i%groups)
	}
	dir := b.TempDir()
	if err := writeFile(filepath.Join(dir, "job-j.yaml"), sb.String()); err != nil {
		b.Fatal(err)
	}
	d, err := config.Load(dir, config.LoadOptions{})
	if err != nil || !d.Valid() {
		b.Fatalf("%v %v", err, d.AllErrors())
	}
	return d.Jobs["j"]
}

// BenchmarkJob1000Tasks runs a job of 1,000 no-op tasks in 10 groups
// (threadCount 10): ns/task is the engine's overhead per task, its two
// task-instance writes included.
func BenchmarkJob1000Tasks(b *testing.B) {
	e := benchEngine(b, 10)
	j := noopJob(b, 1000, 10)
	b.ResetTimer()
	for b.Loop() {
		ji, err := e.Run(b.Context(), j, jobs.StartOptions{})
		if err != nil || ji.State != store.JobCompleted {
			b.Fatalf("%v %s %s", err, ji.State, ji.Message)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/task")
}

// Benchmark100JobsAtOnce starts 100 jobs of 10 tasks in 2 groups together
// and waits for all of them.
func Benchmark100JobsAtOnce(b *testing.B) {
	e := benchEngine(b, 10)
	j := noopJob(b, 10, 2)
	b.ResetTimer()
	for b.Loop() {
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				ji, err := e.Run(b.Context(), j, jobs.StartOptions{})
				if err != nil || ji.State != store.JobCompleted {
					b.Errorf("%v %s", err, ji.State)
				}
			})
		}
		wg.Wait()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/job")
}

func writeFile(path, body string) error { return os.WriteFile(path, []byte(body), 0o644) }
