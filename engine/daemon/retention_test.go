package daemon_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"sundial/engine/daemon"
	"sundial/engine/store"
)

// TestDaemon_RunHistoryIsPruned: a node with a store keeps, per schedule,
// the newest KeepPerSchedule finished runs and none older than MaxAge; a
// running run is never pruned. The history is filled before the start, so
// the pass the node makes at once finds it.
func TestDaemon_RunHistoryIsPruned(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openSQLite(t)
	now := time.Now().UTC().Truncate(time.Second)
	record := func(schedule string, n int, endedAgo time.Duration, status store.RunStatus) {
		t.Helper()
		for i := range n {
			at := now.Add(-endedAgo - time.Duration(n-i)*time.Second)
			if _, err := db.StartRun(ctx, store.StartRunParams{
				ID: fmt.Sprintf("%s-%s@%d", schedule, status, at.UnixNano()), ScheduleID: schedule, ScheduledAt: at,
				StartedAt: at, Node: "elsewhere", Status: status,
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	record("busy", 250, time.Minute, store.RunSucceeded)   // 250 recent: the newest 10 stay
	record("quiet", 3, time.Minute, store.RunFailed)       // under the count: all stay
	record("stale", 5, 48*time.Hour, store.RunSucceeded)   // past the age: none stays
	record("stale", 1, 48*time.Hour, store.RunRunning)     // running: stays
	record("ancient", 2, 72*time.Hour, store.RunSucceeded) // past the age: none stays

	pruned := make(chan struct{}, 1)
	conf, scripts := newDirs(t, map[string]string{"schedule-a.json": dailySchedule(1)})
	start(t, conf, scripts, func(o *daemon.Options) {
		o.DB = db
		o.Retention = daemon.Retention{KeepPerSchedule: 10, MaxAge: 24 * time.Hour}
		o.OnPruned = func() {
			select {
			case pruned <- struct{}{}:
			default:
			}
		}
	})
	select {
	case <-pruned:
	case <-time.After(waitTimeout):
		t.Fatal("no pruning pass")
	}
	for schedule, want := range map[string]int{"busy": 10, "quiet": 3, "stale": 1, "ancient": 0} {
		runs, err := db.ListRuns(ctx, store.ListRunsParams{ScheduleID: schedule, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != want {
			t.Errorf("%s: %d runs kept, want %d", schedule, len(runs), want)
		}
		if schedule == "stale" && len(runs) == 1 && runs[0].Status != store.RunRunning {
			t.Errorf("stale: kept a %s run, want the running one", runs[0].Status)
		}
	}
}
