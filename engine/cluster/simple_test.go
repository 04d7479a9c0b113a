package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"sundial/engine/clock"
	"sundial/engine/config"
	"sundial/engine/scheduler"
	"sundial/engine/script"
	"sundial/engine/store"
)

// TestPersistedSimpleTriggerRunsRepeatCountPlusOne: a persisted simple
// trigger runs exactly repeatCount+1 times on SQLite and PostgreSQL, left
// alone, restarted half-way, or with an edit that leaves its trigger alone
// (the description) half-way. Runs are counted in the store's run history
// and in the script's own output; the scheduler runs on a fake clock that
// starts at an instant with nanoseconds, finer than the store keeps.
func TestPersistedSimpleTriggerRunsRepeatCountPlusOne(t *testing.T) {
	t.Parallel()
	backends := []struct {
		name string
		db   func(testing.TB) testDB
	}{{"sqlite", newSQLite}, {"postgres", newPostgres}}
	for _, b := range backends {
		for _, disturb := range []string{"undisturbed", "restart", "edit"} {
			for repeat := range 6 {
				t.Run(fmt.Sprintf("%s/%s/repeat%d", b.name, disturb, repeat), func(t *testing.T) {
					t.Parallel()
					runs, out := runSimpleTrigger(t, b.db(t), repeat, disturb)
					want := repeat + 1
					var ran, other []string
					for _, r := range runs {
						if r.Status == "succeeded" {
							ran = append(ran, r.ID)
						} else {
							other = append(other, r.ID+" "+string(r.Status)+" "+r.Error)
						}
					}
					for k, id := range ran {
						at := simpleStart.Add(time.Duration(k) * simpleInterval)
						if wantID := "p@" + at.Truncate(time.Microsecond).Format(time.RFC3339Nano); id != wantID {
							t.Errorf("run %d is %s, want %s", k, id, wantID)
						}
					}
					if len(ran) != want || len(other) > 0 {
						t.Errorf("run history: %d runs succeeded, want %d: %q; others: %q", len(ran), want, ran, other)
					}
					lines := strings.Fields(strings.ReplaceAll(strings.TrimSpace(out), "P ", ""))
					seen := map[string]bool{}
					for _, id := range lines {
						if seen[id] {
							t.Errorf("script ran fire %s twice", id)
						}
						seen[id] = true
					}
					if len(lines) != want {
						t.Errorf("script output: %d runs, want %d: %q", len(lines), want, lines)
					}
				})
			}
		}
	}
}

// The trigger of runSimpleTrigger: its first fire time, at the moment it is
// created, is finer than the store keeps.
var simpleStart = time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.UTC)

const simpleInterval = 2 * time.Second

// runSimpleTrigger runs one persisted simple trigger to completion, with the
// disturbance after about half of its runs, and returns the run history and
// the script's output.
func runSimpleTrigger(t *testing.T, db testDB, repeat int, disturb string) ([]store.Run, string) {
	const interval = simpleInterval
	fc := clock.NewFake(simpleStart)
	// Written by the script engine, one write at a time, before the run's
	// end is signalled on ended; read once every run has ended.
	var stdout bytes.Buffer
	engine := script.New(script.Config{Stdout: &stdout})
	ended := make(chan struct{}, 64)
	services := map[string]scheduler.Service{script.ServiceName: scheduler.ServiceFunc(
		func(ctx context.Context, run scheduler.Run) error {
			defer func() { ended <- struct{}{} }()
			return engine.InvokeSchedule(ctx, run.ScheduleID, "", map[string]any{"script": map[string]any{
				"type": "text/javascript", "source": "console.log('P ' + context.fireId)"}}, run.Context())
		})}
	sc := &config.Schedule{
		ID: "p", Hash: "h1", Enabled: true, Persisted: true, Type: config.TypeSimple,
		RepeatCount: repeat, RepeatInterval: interval, InvokeService: script.ServiceName, Location: time.UTC,
	}
	desired := func(sc *config.Schedule) *config.Desired {
		d := &config.Desired{Scheduler: config.DefaultSchedulerConfig(), Schedules: map[string]*config.Schedule{sc.ID: sc}}
		d.Scheduler.Location = time.UTC
		return d
	}
	cfg := nodeConfig{id: "n1", db: db.open(t), services: services, clock: fc, interval: time.Second, timeout: 10 * time.Second}
	n := startNode(t, cfg, desired(sc))
	half := (repeat + 2) / 2
	for done := 1; done <= repeat+1; done++ {
		// The fire is under way (the first one at once): wait for its end,
		// and, unless it is the last, for the timer of the next one.
		if !waitRunEnd(t, ended) {
			break
		}
		var next time.Time
		ok := done <= repeat
		if ok {
			next, ok = waitArmed(t, fc)
		}
		if done == half && disturb != "undisturbed" {
			// Half-way between two fires.
			fc.Advance(interval / 2)
			switch disturb {
			case "restart":
				n.stop()
				cfg.db = db.open(t)
				n = startNode(t, cfg, desired(sc))
				if ok {
					next, ok = waitArmed(t, fc)
				}
			case "edit":
				edited := *sc
				edited.Description, edited.Hash = "edited", "h2"
				if _, err := n.sched.Reconcile(context.Background(), desired(&edited)); err != nil {
					t.Fatal(err)
				}
				if ok {
					next, ok = waitArmed(t, fc)
				}
			}
		}
		if !ok {
			break
		}
		fc.Set(next)
	}
	// Any fire left would be due by now.
	fc.Advance(time.Duration(repeat+2) * interval)
	_ = n.sched.Schedules() // the loop has dispatched what was due
	n.stop()
	if info, _ := n.sched.Schedule(sc.ID); !info.NextFireTime.IsZero() {
		t.Errorf("after %d runs the trigger still has a next fire time: %+v", repeat+1, info)
	}
	return db.runs(t), stdout.String()
}

// waitRunEnd waits for the service to return once; false after 5 s.
func waitRunEnd(t *testing.T, ended <-chan struct{}) bool {
	t.Helper()
	select {
	case <-ended:
		return true
	case <-time.After(5 * time.Second):
		t.Error("no run ended within 5 s")
		return false
	}
}

// waitArmed waits until a timer of the fake clock is armed for a time after
// its now, and returns that time; false after 5 s.
func waitArmed(t *testing.T, fc *clock.Fake) (time.Time, bool) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		changed := fc.Changed()
		if next, ok := fc.NextDeadline(); ok && next.After(fc.Now()) {
			return next, true
		}
		select {
		case <-changed:
		case <-deadline:
			t.Error("no timer armed within 5 s")
			return time.Time{}, false
		}
	}
}
