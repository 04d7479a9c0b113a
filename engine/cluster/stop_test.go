package cluster_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"sundial/engine/config"
	"sundial/engine/scheduler"
)

// TestCleanStopLogsNoAlarm: stopping a node while a persisted run is in
// progress (its trigger blocked until the run ends), past the grace period,
// cancels the run, records its end, and logs no store error: the stop is
// not a store failure.
func TestCleanStopLogsNoAlarm(t *testing.T) {
	t.Parallel()
	db := newSQLite(t)
	running := make(chan struct{})
	services := map[string]scheduler.Service{"noop": scheduler.ServiceFunc(func(ctx context.Context, _ scheduler.Run) error {
		close(running)
		<-ctx.Done()
		return ctx.Err()
	})}
	d := &config.Desired{Scheduler: config.DefaultSchedulerConfig(), Schedules: map[string]*config.Schedule{
		"p": {ID: "p", Hash: "h", Enabled: true, Persisted: true, Type: config.TypeSimple, RepeatCount: 2,
			RepeatInterval: time.Minute, InvokeService: "noop", Location: time.UTC},
	}}
	d.Scheduler.Location = time.UTC
	// Written by the handler, one record at a time; read once both parts
	// have stopped.
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	n := startNode(t, nodeConfig{id: "n1", db: db.open(t), services: services, logger: logger}, d)
	<-running
	if err := n.sched.Stop(0); err != nil {
		t.Fatal(err)
	}
	n.p.Stop()
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if strings.Contains(line, "level=ERROR") || strings.Contains(line, "level=WARN") || strings.Contains(line, "pending") {
			t.Errorf("clean stop logged: %s", line)
		}
	}
	runs := db.runs(t)
	if len(runs) != 1 || runs[0].Status != "failed" || !strings.HasPrefix(runs[0].Error, "cancelled") {
		t.Fatalf("run history = %+v, want the run recorded cancelled", runs)
	}
}
