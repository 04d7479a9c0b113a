package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sundial/engine/store"
)

// BenchConfig shapes BenchmarkFires.
type BenchConfig struct {
	// Nodes share the database, each through its own handle.
	Nodes int
	// WorkersPerNode run the acquire → complete → finish loop concurrently on
	// a node, as a scheduler pipelines batches. Zero: 2.
	WorkersPerNode int
	// Batch is AcquireDue's limit. Zero: 100.
	Batch int
}

// BenchmarkFires measures exactly-once fire throughput: b.N one-shot
// triggers, all due, are acquired, fired (run recorded, trigger completed)
// and finished (a no-op service) by cfg.Nodes nodes racing for them. It
// reports fires/s and fails if any trigger fired other than once. handles
// returns cfg.Nodes handles on one fresh database.
func BenchmarkFires(b *testing.B, handles func(b *testing.B, n int) []store.Store, cfg BenchConfig) {
	if cfg.WorkersPerNode <= 0 {
		cfg.WorkersPerNode = 2
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 100
	}
	ctx := context.Background()
	hs := handles(b, cfg.Nodes)

	b.StopTimer()
	// Unique ids per round: the framework calls this with growing b.N on the
	// same database.
	round := time.Now().UnixNano()
	const chunk = 1000
	for i := 0; i < b.N; i += chunk {
		var defs []store.TriggerDef
		for j := i; j < b.N && j < i+chunk; j++ {
			defs = append(defs, store.TriggerDef{
				ScheduleID: fmt.Sprintf("bench-%d-%07d", round, j),
				Definition: []byte(`{"type":"simple"}`),
				ConfigHash: "h",
				NextFireAt: t0,
			})
		}
		if _, err := hs[0].UpsertTriggers(ctx, store.UpsertTriggersParams{Triggers: defs}); err != nil {
			b.Fatal(err)
		}
	}

	var fired atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, cfg.Nodes*cfg.WorkersPerNode)
	b.StartTimer()
	start := time.Now()
	for n := range cfg.Nodes {
		for range cfg.WorkersPerNode {
			wg.Go(func() {
				if err := benchWorker(ctx, hs[n], fmt.Sprintf("node%d", n), cfg.Batch, &fired); err != nil {
					errc <- err
				}
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errc)
	for err := range errc {
		b.Fatal(err)
	}
	if got := fired.Load(); got != int64(b.N) {
		b.Fatalf("fired %d times for %d triggers", got, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "fires/s")
}

func benchWorker(ctx context.Context, s store.Store, node string, batch int, fired *atomic.Int64) error {
	now := t0.Add(time.Hour)
	for {
		acq, err := s.AcquireDue(ctx, store.AcquireParams{Node: node, Now: now, Limit: batch})
		if err != nil {
			return err
		}
		if len(acq) == 0 {
			return nil
		}
		fires := make([]store.CompleteFire, len(acq))
		for i, a := range acq {
			fires[i] = store.CompleteFire{ScheduleID: a.ScheduleID, Revision: a.Revision, StartedAt: now, Recoverable: true}
		}
		res, err := s.CompleteFires(ctx, store.CompleteFiresParams{Node: node, Fires: fires})
		if err != nil {
			return err
		}
		fin := make([]store.FinishRun, 0, len(res))
		for _, r := range res {
			if r.Err != nil {
				return r.Err
			}
			fin = append(fin, store.FinishRun{ID: r.Run.ID, Status: store.RunSucceeded, EndedAt: now})
		}
		fr, err := s.FinishRuns(ctx, store.FinishRunsParams{Node: node, Runs: fin})
		if err != nil {
			return err
		}
		for _, r := range fr {
			if r.Err != nil {
				return r.Err
			}
		}
		fired.Add(int64(len(fin)))
	}
}
