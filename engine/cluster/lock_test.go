package cluster_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sundial/engine/clock"
	"sundial/engine/config"
	"sundial/engine/cron"
	"sundial/engine/scheduler"
)

// TestLockedStoreOneRecordPerFire: while another connection holds the
// SQLite file locked (BEGIN EXCLUSIVE), a due persisted fire cannot be
// claimed. It is held, neither run nor skipped, until the store answers:
// then, late by less than the misfire threshold, it runs, with its delay
// measured to the moment it started; late by more, it misfires (doNothing:
// skipped with the reason store-error). Either way every fire has exactly
// one record in the run history and counts once.
func TestLockedStoreOneRecordPerFire(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		locked time.Duration // fake time the lock lasts
		// want: the run history, by scheduled time.
		want map[string]string
		// skipped: the fires counted skipped.
		skipped int
	}{
		{"shorter than the misfire threshold", 3 * time.Second, map[string]string{
			"10:00:02": "succeeded", "10:00:04": "succeeded"}, 0},
		// The eight fires from 10:00:02 to 10:00:16 in one record.
		{"longer than the misfire threshold", 15 * time.Second, map[string]string{
			"10:00:02": "skipped store-error: 8 fire times from this one", "10:00:18": "succeeded"}, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := newSQLite(t)
			t0 := time.Date(2026, 3, 1, 10, 0, 1, 0, time.UTC)
			fc := clock.NewFake(t0)
			var mu sync.Mutex
			delays := map[string]time.Duration{}
			ran := make(chan string, 16)
			services := map[string]scheduler.Service{"noop": scheduler.ServiceFunc(func(_ context.Context, run scheduler.Run) error {
				mu.Lock()
				delays[run.FireID] = run.ActualFireTime.Sub(run.ScheduledFireTime)
				mu.Unlock()
				ran <- run.FireID
				return nil
			})}
			every2s, err := cron.Parse("*/2 * * * * ?")
			if err != nil {
				t.Fatal(err)
			}
			d := &config.Desired{Scheduler: config.DefaultSchedulerConfig(), Schedules: map[string]*config.Schedule{
				"c": {ID: "c", Hash: "h", Enabled: true, Persisted: true, Type: config.TypeCron, CronSpec: "*/2 * * * * ?",
					Cron: every2s, InvokeService: "noop", Location: time.UTC, MisfirePolicy: config.MisfireDoNothing},
			}}
			d.Scheduler.Location = time.UTC
			reg := prometheus.NewRegistry()
			n := startNode(t, nodeConfig{id: "n1", db: db.open(t), services: services, clock: fc, registry: reg,
				interval: 100 * time.Millisecond, timeout: 5 * time.Second, retryBudget: 100 * time.Millisecond}, d)

			lock := lockSQLite(t, db.path)
			first, _ := waitArmed(t, fc) // 10:00:02
			fc.Set(first)
			waitFor(t, 30*time.Second, "the node to find its store locked", func() bool { return !n.p.Status().Reachable })
			waitFor(t, 10*time.Second, "the fire's claim to give up", func() bool {
				info, _ := n.sched.Schedule("c")
				return info.Running == 0
			})
			fc.Advance(tc.locked)
			lock.release()

			// The held fires end, each once; then the schedule goes on.
			last := "10:00:04"
			if tc.locked > scheduler.DefaultMisfireThreshold {
				last = "10:00:18"
			}
			for {
				next, ok := waitArmed(t, fc)
				if !ok {
					break
				}
				if next.After(atClock(last)) {
					break
				}
				fc.Set(next)
			}
			waitFor(t, 10*time.Second, "the run history", func() bool { return len(db.runs(t)) >= len(tc.want) })
			n.stop()

			got := map[string]string{}
			for _, r := range db.runs(t) {
				at := r.ID[len("c@2026-03-01T") : len("c@2026-03-01T")+8]
				v := string(r.Status)
				if r.Status == "skipped" {
					v += " " + r.Error
				}
				if got[at] != "" {
					t.Errorf("fire %s has two records: %s and %s", at, got[at], v)
				}
				got[at] = v
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("run history = %v\nwant          %v", got, tc.want)
			}
			skipped := 0
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			for _, mf := range mfs {
				if mf.GetName() == "sundial_fires_skipped_total" {
					for _, m := range mf.GetMetric() {
						skipped += int(m.GetCounter().GetValue())
					}
				}
			}
			if skipped != tc.skipped {
				t.Errorf("%d fires counted skipped, want %d", skipped, tc.skipped)
			}
			mu.Lock()
			defer mu.Unlock()
			if late := delays["c@2026-03-01T10:00:02Z"]; tc.locked < scheduler.DefaultMisfireThreshold && late != tc.locked {
				t.Errorf("the held fire's delay = %s, want %s (from its scheduled time to its start)", late, tc.locked)
			}
		})
	}
}

// atClock returns 2026-03-01 at a "15:04:05" UTC time.
func atClock(s string) time.Time {
	t, err := time.Parse(time.DateTime, "2026-03-01 "+s)
	if err != nil {
		panic(err)
	}
	return t
}

// sqliteLock is another connection holding a SQLite file's exclusive lock.
type sqliteLock struct {
	conn *sql.Conn
	once sync.Once
}

func lockSQLite(t *testing.T, path string) *sqliteLock {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	l := &sqliteLock{conn: conn}
	t.Cleanup(l.release)
	return l
}

func (l *sqliteLock) release() {
	l.once.Do(func() {
		_, _ = l.conn.ExecContext(context.Background(), "ROLLBACK")
		_ = l.conn.Close()
	})
}
