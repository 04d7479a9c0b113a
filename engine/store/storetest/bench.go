package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"sundial/engine/store"
)

// BenchConfig shapes BenchmarkFires.
type BenchConfig struct {
	// Nodes share the database, each through its own handle, and each
	// claims every fire.
	Nodes int
	// Batch is the number of fires per ClaimFires call (and per FinishRuns
	// call for the fires won). Zero: 100.
	Batch int
	// WorkersPerNode call ClaimFires concurrently on a node, each with its
	// own share of the batches, as a node's batcher has several calls in
	// flight. Zero: 2.
	WorkersPerNode int
}

// BenchmarkFires measures exactly-once fire throughput on the path the
// scheduler takes: b.N one-shot triggers, all due, each claimed by every
// one of cfg.Nodes nodes racing for it (ClaimFires, in batches of
// cfg.Batch, every node in the same order), the winner's run then finished
// (FinishRuns, a no-op service). It reports fires/s (fires won per second,
// across the cluster) and fails unless every fire was won exactly once.
// handles returns cfg.Nodes handles on one fresh database.
func BenchmarkFires(b *testing.B, handles func(b *testing.B, n int) []store.Store, cfg BenchConfig) {
	if cfg.Batch <= 0 {
		cfg.Batch = 100
	}
	if cfg.WorkersPerNode <= 0 {
		cfg.WorkersPerNode = 2
	}
	ctx := context.Background()
	hs := handles(b, cfg.Nodes)

	b.StopTimer()
	// Unique ids per round: the framework calls this with growing b.N on the
	// same database.
	round := time.Now().UnixNano()
	ids := make([]string, b.N)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-%d-%07d", round, i)
	}
	const chunk = 1000
	for i := 0; i < b.N; i += chunk {
		var defs []store.TriggerDef
		for _, id := range ids[i:min(i+chunk, b.N)] {
			defs = append(defs, store.TriggerDef{ScheduleID: id, Definition: []byte(`{"type":"simple"}`), ConfigHash: "h", NextFireAt: t0})
		}
		if _, err := hs[0].UpsertTriggers(ctx, store.UpsertTriggersParams{Triggers: defs}); err != nil {
			b.Fatal(err)
		}
	}

	var won atomic.Int64
	workers := cfg.Nodes * cfg.WorkersPerNode
	b.StartTimer()
	start := time.Now()
	err := race(workers, func(w int) error {
		node, worker := w/cfg.WorkersPerNode, w%cfg.WorkersPerNode
		name := fmt.Sprintf("node%d", node)
		for from := worker * cfg.Batch; from < b.N; from += cfg.WorkersPerNode * cfg.Batch {
			n, err := claimAndFinish(ctx, hs[node], name, ids[from:min(from+cfg.Batch, b.N)])
			if err != nil {
				return err
			}
			won.Add(int64(n))
		}
		return nil
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if got := won.Load(); got != int64(b.N) {
		b.Fatalf("%d fires won for %d triggers, want each won once", got, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "fires/s")
}

// claimAndFinish claims the due fire of each trigger for node, finishes the
// runs it won, and returns how many it won.
func claimAndFinish(ctx context.Context, s store.Store, node string, ids []string) (int, error) {
	now := t0.Add(time.Hour)
	fires := make([]store.ClaimFire, len(ids))
	for i, id := range ids {
		fires[i] = store.ClaimFire{ScheduleID: id, ConfigHash: "h", ScheduledAt: t0, StartedAt: now, TimesTriggered: 1, Recoverable: true}
	}
	res, err := s.ClaimFires(ctx, store.ClaimFiresParams{Node: node, Fires: fires})
	if err != nil {
		return 0, err
	}
	var fin []store.FinishRun
	for _, r := range res {
		switch {
		case r.Err == nil:
			fin = append(fin, store.FinishRun{ID: r.Run.ID, Status: store.RunSucceeded, EndedAt: now})
		case !errors.Is(r.Err, store.ErrAlreadyFired) && !errors.Is(r.Err, store.ErrConflict):
			return 0, r.Err
		}
	}
	if len(fin) == 0 {
		return 0, nil
	}
	fr, err := s.FinishRuns(ctx, store.FinishRunsParams{Node: node, Runs: fin})
	if err != nil {
		return 0, err
	}
	for _, r := range fr {
		if r.Err != nil {
			return 0, r.Err
		}
	}
	return len(fin), nil
}

// BenchmarkChangesIdle measures Changes with nothing new on a log of
// logSize entries (what every node does every ChangesInterval): it must be
// one index lookup, whatever the log's size.
func BenchmarkChangesIdle(b *testing.B, s store.Store, logSize int) {
	ctx := context.Background()
	ids := make([]string, 0, 1000)
	for i := range 1000 {
		ids = append(ids, fmt.Sprintf("idle-%04d", i))
	}
	var defs []store.TriggerDef
	for _, id := range ids {
		defs = append(defs, store.TriggerDef{ScheduleID: id, ConfigHash: "h", NextFireAt: t0})
	}
	if _, err := s.UpsertTriggers(ctx, store.UpsertTriggersParams{Triggers: defs}); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < logSize; i += len(ids) {
		if _, err := s.PauseTriggers(ctx, store.PauseTriggersParams{All: true, Paused: i/len(ids)%2 == 0}); err != nil {
			b.Fatal(err)
		}
	}
	last, err := s.Changes(ctx, store.ChangesParams{AfterSeq: -1})
	if err != nil {
		b.Fatal(err)
	}
	if last.LastSeq < int64(logSize) {
		b.Fatalf("log has %d entries, want %d", last.LastSeq, logSize)
	}
	b.ResetTimer()
	for b.Loop() {
		c, err := s.Changes(ctx, store.ChangesParams{AfterSeq: last.LastSeq})
		if err != nil || len(c.Items) != 0 {
			b.Fatalf("Changes = %+v, %v; want nothing new", c, err)
		}
	}
}

// BenchmarkPutAPISchedule measures PutAPISchedule, one call (one
// transaction) at a time, replacing one of 100 schedules; it reports
// puts/s.
func BenchmarkPutAPISchedule(b *testing.B, s store.Store) {
	ctx := context.Background()
	i := 0
	start := time.Now()
	for b.Loop() {
		id := fmt.Sprintf("put-%03d", i%100)
		if _, err := s.PutAPISchedule(ctx, store.PutAPIScheduleParams{ID: id,
			Body: []byte(`{"enabled":true,"type":"cron","schedule":"0 * * * * ?","persisted":true}`)}); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(i)/time.Since(start).Seconds(), "puts/s")
}
