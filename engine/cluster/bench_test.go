package cluster_test

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"sundial/engine/scheduler"
	"sundial/engine/store"
)

// BenchmarkPersistedFires: persisted one-shot triggers with a no-op service,
// all due at one instant, fired by 1, 2 or 3 in-process nodes sharing one
// database (each node its own store handle, scheduler and cluster.Node, as
// separate processes would have). It reports fires/s (from the instant to
// the last fire) and the p99 fire delay, and fails unless every trigger
// fired exactly once. SUNDIAL_BENCH_TRIGGERS sets the number of triggers
// (default 5000) and SUNDIAL_BENCH_THREADS each node's threadCount (default
// 10, IDM's).
func BenchmarkPersistedFires(b *testing.B) {
	for _, c := range []struct {
		name  string
		db    func(testing.TB) testDB
		nodes int
	}{
		{"sqlite/nodes=1", newSQLite, 1},
		{"postgres/nodes=1", newPostgres, 1},
		{"postgres/nodes=2", newPostgres, 2},
		{"postgres/nodes=3", newPostgres, 3},
	} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				benchFires(b, c.db(b), c.nodes)
			}
		})
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func benchFires(b *testing.B, tdb testDB, nodes int) {
	triggers := envInt("SUNDIAL_BENCH_TRIGGERS", 5000)
	threads := envInt("SUNDIAL_BENCH_THREADS", 10)
	f := newFires(triggers)
	// Far enough ahead for every node to have reconciled.
	at := time.Now().Add(time.Duration(nodes)*time.Second + time.Duration(triggers/2000)*time.Second + time.Second).Truncate(time.Millisecond)
	d := oneShots(triggers, threads, at)
	b.StopTimer()
	var started []*node
	for i := range nodes {
		db := tdb.open(b)
		started = append(started, startNode(b, nodeConfig{id: fmt.Sprintf("node%d", i), db: db,
			services: map[string]scheduler.Service{"noop": f.service()}, interval: time.Second, timeout: 10 * time.Second}, d))
	}
	if time.Now().After(at) {
		b.Fatalf("nodes started after the fire time; raise the lead time")
	}
	b.StartTimer()
	f.wait(b, 2*time.Minute)
	b.StopTimer()
	elapsed := f.last.Sub(at)
	for id, c := range f.count {
		if c != 1 {
			b.Fatalf("fire %s ran %d times", id, c)
		}
	}
	if len(f.count) != triggers {
		b.Fatalf("%d distinct fires for %d triggers", len(f.count), triggers)
	}
	// Once every run end is written, count what the store recorded.
	for _, n := range started {
		n.stop()
	}
	runs := countRuns(b, tdb)
	if runs[store.RunSucceeded] != triggers || len(runs) != 1 {
		b.Fatalf("store recorded %v for %d triggers", runs, triggers)
	}
	b.ReportMetric(float64(triggers)/elapsed.Seconds(), "fires/s")
	b.ReportMetric(float64(f.p99().Microseconds())/1000, "p99-delay-ms")
	b.ReportMetric(0, "ns/op")
}
