package taskscanner_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"sundial/engine/managed"
	"sundial/engine/query"
	"sundial/engine/store"
	"sundial/internal/benchenv"
	"sundial/internal/pgtest"
)

// BenchmarkSunsetScan is the guide's sunset scan end to end on SQLite:
// 100,000 users (SUNDIAL_BENCH_USERS), 10% of them past their sunset date, 10 threads, the
// guide's patch script on each match (claims in batches, each task's
// openidm.patch committed with its completion, in batches). It reports
// matches processed per second and the peak RSS of the scans (the
// process's, reset after the users are created).
//
//	go test -run '^$' -bench BenchmarkSunsetScan -benchtime 3x ./engine/taskscanner/
func BenchmarkSunsetScan(b *testing.B) {
	objs := openStore(b, filepath.Join(b.TempDir(), "sundial.db"))
	benchSunsetScan(b, objs, objs)
}

// BenchmarkSunsetScanPostgres is BenchmarkSunsetScan on PostgreSQL.
func BenchmarkSunsetScanPostgres(b *testing.B) {
	objs := openStore(b, pgtest.DSN(b))
	benchSunsetScan(b, objs, objs)
}

// benchSunsetScan creates the users in raw, then scans them through objs.
func benchSunsetScan(b *testing.B, objs, raw store.Objects) {
	matching := users(b, raw, benchenv.Users(b, 100_000), 10)
	s := newScanner(objs)
	defer s.Close()
	ic := sunsetContext(sunsetScript)
	ic["numberOfThreads"] = 10
	undo, err := managed.ParsePatch([]byte(`[{"operation": "remove", "field": "/sunset/task-started"},
		{"operation": "remove", "field": "/sunset/task-completed"},
		{"operation": "replace", "field": "/accountStatus", "value": "active"}]`))
	if err != nil {
		b.Fatal(err)
	}
	done, _ := query.Parse(`/sunset/task-completed pr`)
	var elapsed time.Duration
	benchenv.ResetPeakRSS()
	for b.Loop() {
		start := time.Now()
		st, err := s.Execute(context.Background(), executeParams(ic))
		if err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		if st.Progress.Successes != int64(len(matching)) {
			b.Fatalf("progress %+v, want %d successes", st.Progress, len(matching))
		}
		b.StopTimer()
		if _, err := managed.PatchByQuery(context.Background(), objs, managed.PatchByQueryParams{Type: "user", Filter: done, Operations: undo}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(len(matching)*b.N)/elapsed.Seconds(), "matches/s")
	benchenv.ReportPeakRSS(b)
}
