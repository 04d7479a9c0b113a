package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"sundial/engine/cluster"
	"sundial/engine/store"
)

// bareNode starts a Node without a scheduler.
func bareNode(t *testing.T, opts cluster.Options, recover func(context.Context, store.Run) error) (*cluster.Node, error) {
	t.Helper()
	if opts.CheckInInterval == 0 {
		opts.CheckInInterval = 100 * time.Millisecond
	}
	if opts.NodeTimeout == 0 {
		opts.NodeTimeout = time.Second
	}
	opts.Grace = time.Second
	opts.Recover = recover
	p, err := cluster.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p, p.Start(context.Background())
}

// killed leaves in the store what a process of node killed by kill -9
// leaves: a check-in of its instance, just now, and a running recoverable
// run of a schedule.
func killed(t *testing.T, db store.Store, node, instance, schedule string) string {
	t.Helper()
	ctx := context.Background()
	if _, err := db.CheckIn(ctx, store.CheckInParams{Node: node, Instance: instance,
		Info: json.RawMessage(`{"pid":1,"host":"elsewhere"}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpsertTriggers(ctx, store.UpsertTriggersParams{Triggers: []store.TriggerDef{
		{ScheduleID: schedule, ConfigHash: "h", NextFireAt: time.Now().Add(time.Hour)},
	}}); err != nil {
		t.Fatal(err)
	}
	r, err := db.StartRun(ctx, store.StartRunParams{ID: schedule + "-run", ScheduleID: schedule, ScheduledAt: time.Now(),
		Node: node, Recoverable: true})
	if err != nil {
		t.Fatal(err)
	}
	return r.ID
}

// TestSecondLiveProcessSameIDRefused: a second process started under the
// node id of a live one refuses to start, and leaves the first one's
// running runs alone.
func TestSecondLiveProcessSameIDRefused(t *testing.T) {
	t.Parallel()
	tdb := newSQLite(t)
	open := tdb.open
	db := open(t)
	if _, err := bareNode(t, cluster.Options{Store: db, NodeID: "host1"}, nil); err != nil {
		t.Fatal(err)
	}
	run, err := db.StartRun(context.Background(), store.StartRunParams{ID: "busy", ScheduleID: "s", ScheduledAt: time.Now(),
		Node: "host1", Recoverable: true})
	if err != nil {
		t.Fatal(err)
	}
	recovered := make(chan store.Run, 1)
	_, err = bareNode(t, cluster.Options{Store: open(t), NodeID: "host1"}, func(_ context.Context, r store.Run) error {
		recovered <- r
		return nil
	})
	if !errors.Is(err, store.ErrNodeInUse) {
		t.Fatalf("second Start: err = %v, want ErrNodeInUse", err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, `node id "host1" is in use by a live process (last check-in `) ||
		!strings.HasSuffix(msg, " ago); give this one another --node-id") {
		t.Fatalf("second Start's error reads %q", msg)
	}
	r, err := tdb.getRun(t, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.RunRunning || r.Recovery || r.Attempt != 1 {
		t.Fatalf("the live process's run = %+v, want untouched", r)
	}
	select {
	case r := <-recovered:
		t.Fatalf("the refused process recovered %+v", r)
	default:
	}
}

// TestRestartAfterKillRecoversOwnRuns: a process restarting under the id of
// one killed by kill -9 recovers its runs: at once when the old process is
// proved gone, otherwise once it waited for the old check-in to be older
// than NodeTimeout.
func TestRestartAfterKillRecoversOwnRuns(t *testing.T) {
	t.Parallel()
	for _, proved := range []bool{true, false} {
		tdb := newSQLite(t)
		open := tdb.open
		db := open(t)
		runID := killed(t, db, "host1", "old", "s1")
		// Written by the handler, one record at a time; read once the node
		// has stopped.
		var logs bytes.Buffer
		opts := cluster.Options{Store: open(t), NodeID: "host1", NodeTimeout: 600 * time.Millisecond,
			Logger: slog.New(slog.NewTextHandler(&logs, nil))}
		if proved {
			opts.PreviousGone = func(n store.Node) bool { return n.Instance == "old" }
		}
		got := make(chan store.Run, 2)
		p, err := bareNode(t, opts, func(_ context.Context, r store.Run) error {
			got <- r
			return nil
		})
		if err != nil {
			t.Fatalf("proved gone %v: restart: %v", proved, err)
		}
		select {
		case r := <-got:
			if r.ID != runID || !r.Recovery || r.Attempt != 2 {
				t.Errorf("proved gone %v: recovered %+v", proved, r)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("proved gone %v: the run was not recovered", proved)
		}
		waitFor(t, 10*time.Second, "the recovery's success to be recorded", func() bool {
			r, _ := tdb.getRun(t, runID)
			return r.Status == store.RunSucceeded
		})
		select {
		case r := <-got:
			t.Fatalf("recovered twice: %+v", r)
		default:
		}
		p.Stop()
		waited := strings.Contains(logs.String(), "waiting for it to go silent")
		tookOver := strings.Contains(logs.String(), "previous process of this node id is gone")
		if proved && (waited || !tookOver) {
			t.Errorf("proved gone: want the restart to take over at once; it logged:\n%s", logs.String())
		}
		if !proved && (!waited || tookOver) {
			t.Errorf("not proved gone: want the restart to wait for the old check-in to go stale; it logged:\n%s", logs.String())
		}
	}
}

// TestRecoveryHandedBackToNodeWithSchedule: a node lacking the schedule of
// a dead node's recoverable run does not run it (nor record it failed): it
// hands it back, and a node that has the schedule runs it. A run whose
// schedule no node has is recorded abandoned, saying so.
func TestRecoveryHandedBackToNodeWithSchedule(t *testing.T) {
	t.Parallel()
	tdb := newSQLite(t)
	open := tdb.open
	db := open(t)
	runID := ghost(t, db, "dead", map[string]bool{"s1": true})["s1"]
	gone, err := db.StartRun(context.Background(), store.StartRunParams{ID: "gone-run", ScheduleID: "gone",
		ScheduledAt: time.Now(), Node: "dead", Recoverable: true})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var byLacking []store.Run
	if _, err := bareNode(t, cluster.Options{Store: open(t), NodeID: "lacking", Has: func(string) bool { return false }},
		func(_ context.Context, r store.Run) error {
			mu.Lock()
			defer mu.Unlock()
			byLacking = append(byLacking, r)
			return errors.New("schedule is not in this node's configuration")
		}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the dead node's run to be handed back", func() bool {
		r, _ := tdb.getRun(t, runID)
		return r.Node == store.Unclaimed && r.RecoveredFrom == "dead"
	})
	waitFor(t, 10*time.Second, "the run of a schedule no node has to be abandoned", func() bool {
		r, _ := tdb.getRun(t, gone.ID)
		return r.Status == store.RunAbandoned && strings.Contains(r.Error, "gone is in no node's configuration")
	})
	got := make(chan store.Run, 2)
	if _, err := bareNode(t, cluster.Options{Store: open(t), NodeID: "having", Has: func(s string) bool { return s == "s1" }},
		func(_ context.Context, r store.Run) error {
			got <- r
			return nil
		}); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-got:
		if r.ID != runID || !r.Recovery || r.RecoveredFrom != "dead" || r.Attempt != 2 || r.Node != "having" {
			t.Errorf("recovered %+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the node with the schedule did not recover the run")
	}
	waitFor(t, 10*time.Second, "the recovery's success to be recorded", func() bool {
		r, _ := tdb.getRun(t, runID)
		return r.Status == store.RunSucceeded
	})
	mu.Lock()
	defer mu.Unlock()
	if len(byLacking) != 0 {
		t.Fatalf("the node lacking the schedule ran %+v", byLacking)
	}
}
