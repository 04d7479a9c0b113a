package cluster_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"sundial/engine/clock"
	"sundial/engine/cluster"
	"sundial/engine/config"
	"sundial/engine/cron"
	"sundial/engine/scheduler"
	"sundial/engine/store"
	"sundial/engine/store/postgres"
	"sundial/engine/store/sqlite"
	"sundial/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// opener opens one more handle (one more node) on the test's database.
type opener func(t testing.TB) store.Store

// testDB is one test's database: handles on it for the nodes, and the run
// history read straight from its tables (not through the Store).
type testDB struct {
	open opener
	runs func(t testing.TB) []store.Run
	// path is the SQLite file; "" for PostgreSQL.
	path string
}

// getRun returns the run recorded under id, or store.ErrNotFound.
func (d testDB) getRun(t testing.TB, id string) (store.Run, error) {
	for _, r := range d.runs(t) {
		if r.ID == id {
			return r, nil
		}
	}
	return store.Run{}, store.ErrNotFound
}

func sqliteDB(t testing.TB) opener { return newSQLite(t).open }

func newSQLite(t testing.TB) testDB {
	path := filepath.Join(t.TempDir(), "sundial.db")
	return testDB{
		path: path,
		open: func(t testing.TB) store.Store {
			s, err := sqlite.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
		runs: func(t testing.TB) []store.Run {
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			rows, err := db.QueryContext(context.Background(), runRowsSQL)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var out []store.Run
			for rows.Next() {
				var r store.Run
				if err := rows.Scan(runFields(&r)...); err != nil {
					t.Fatal(err)
				}
				out = append(out, r)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			return out
		},
	}
}

func newPostgres(t testing.TB) testDB {
	dsn := pgtest.DSN(t)
	return testDB{
		open: func(t testing.TB) store.Store {
			s, err := postgres.Open(context.Background(), dsn+"&pool_max_conns=6")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
		runs: func(t testing.TB) []store.Run {
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			rows, err := conn.Query(ctx, runRowsSQL)
			if err != nil {
				t.Fatal(err)
			}
			out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Run, error) {
				var r store.Run
				err := row.Scan(runFields(&r)...)
				return r, err
			})
			if err != nil {
				t.Fatal(err)
			}
			return out
		},
	}
}

const runRowsSQL = `SELECT id, schedule_id, status, error, node_id, recovery, recovered_from, attempt FROM runs ORDER BY id`

// runFields are the destinations of runRowsSQL's columns.
func runFields(r *store.Run) []any {
	return []any{&r.ID, &r.ScheduleID, &r.Status, &r.Error, &r.Node, &r.Recovery, &r.RecoveredFrom, &r.Attempt}
}

// fires records every run the no-op service sees.
type fires struct {
	mu     sync.Mutex
	count  map[string]int // by fire id
	delays []time.Duration
	last   time.Time
	total  atomic.Int64
	done   chan struct{} // closed when total reaches want
	want   int64
	// hold, when set, blocks runs of schedules it names until it is closed
	// or the run is cancelled.
	hold map[string]chan struct{}
}

func newFires(want int) *fires {
	return &fires{count: map[string]int{}, done: make(chan struct{}), want: int64(want)}
}

func (f *fires) service() scheduler.Service {
	return scheduler.ServiceFunc(func(ctx context.Context, run scheduler.Run) error {
		now := time.Now()
		f.mu.Lock()
		f.count[run.FireID]++
		f.delays = append(f.delays, now.Sub(run.ScheduledFireTime))
		f.last = now
		hold := f.hold[run.ScheduleID]
		f.mu.Unlock()
		if f.total.Add(1) == f.want {
			close(f.done)
		}
		if hold != nil {
			select {
			case <-hold:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
}

func (f *fires) wait(t testing.TB, within time.Duration) {
	t.Helper()
	select {
	case <-f.done:
	case <-time.After(within):
		t.Fatalf("%d of %d fires after %s", f.total.Load(), f.want, within)
	}
}

func (f *fires) p99() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := slices.Clone(f.delays)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)*99/100, len(s)-1)]
}

// node is one in-process Sundial node: a scheduler over a cluster.Node.
type node struct {
	p     *cluster.Node
	sched *scheduler.Scheduler
}

type nodeConfig struct {
	id            string
	db            store.Store
	services      map[string]scheduler.Service
	interval      time.Duration
	timeout       time.Duration
	retryBudget   time.Duration
	recover       func(ctx context.Context, r store.Run) error
	logger        *slog.Logger
	registry      prometheus.Registerer // the scheduler's metrics
	execPersisted func() bool
	// clock is the scheduler's; nil: the real clock.
	clock clock.Clock
	// clusterClock is the cluster node's; nil: the real clock.
	clusterClock clock.Clock
	// onChanges is the cluster node's Options.OnChanges; it is given the
	// node's scheduler.
	onChanges func(ctx context.Context, s *scheduler.Scheduler, changes []store.Change)
}

func startNode(t testing.TB, c nodeConfig, d *config.Desired) *node {
	t.Helper()
	if c.interval == 0 {
		c.interval = 200 * time.Millisecond
	}
	if c.timeout == 0 {
		c.timeout = 2 * time.Second
	}
	var s *scheduler.Scheduler
	var onChanges func(ctx context.Context, changes []store.Change)
	if c.onChanges != nil {
		onChanges = func(ctx context.Context, changes []store.Change) { c.onChanges(ctx, s, changes) }
	}
	p, err := cluster.New(cluster.Options{Store: c.db, NodeID: c.id, CheckInInterval: c.interval, NodeTimeout: c.timeout,
		RetryBudget: c.retryBudget, Grace: time.Second, Logger: c.logger, Clock: c.clusterClock, OnChanges: onChanges,
		Adopt: func(st []scheduler.TriggerState) int { return s.Adopt(st) }, Recover: c.recover, ExecutePersisted: c.execPersisted})
	if err != nil {
		t.Fatal(err)
	}
	s, err = scheduler.New(scheduler.Options{Store: p, NodeID: c.id, Services: c.services, HistorySize: -1, Clock: c.clock,
		Registerer: c.registry})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reconcile(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	n := &node{p: p, sched: s}
	t.Cleanup(n.stop)
	return n
}

func (n *node) stop() {
	_ = n.sched.Stop(0)
	n.p.Stop()
}

// cronEverySecond is a desired state of persisted schedules firing every
// second, by id: the value is the misfire policy.
func cronEverySecond(policies map[string]string, threshold time.Duration) *config.Desired {
	d := &config.Desired{Scheduler: config.DefaultSchedulerConfig(), Schedules: map[string]*config.Schedule{}}
	d.Scheduler.Location = time.UTC
	d.Scheduler.MisfireThreshold = threshold
	every, err := cron.Parse("* * * * * ?")
	if err != nil {
		panic(err)
	}
	for id, policy := range policies {
		d.Schedules[id] = &config.Schedule{
			ID: id, Hash: "h-" + id, Enabled: true, Persisted: true, Type: config.TypeCron, CronSpec: "* * * * * ?",
			Cron: every, InvokeService: "noop", Location: time.UTC, MisfirePolicy: policy,
		}
	}
	return d
}

// oneShots is a desired state of n persisted one-shot simple schedules, all
// due at at, run by the service "noop".
func oneShots(n, threads int, at time.Time) *config.Desired {
	d := &config.Desired{Scheduler: config.DefaultSchedulerConfig(), Schedules: make(map[string]*config.Schedule, n)}
	d.Scheduler.ThreadCount = threads
	d.Scheduler.Location = time.UTC
	for i := range n {
		id := fmt.Sprintf("one-%05d", i)
		d.Schedules[id] = &config.Schedule{
			ID: id, Hash: "h-" + id, Enabled: true, Persisted: true, Recoverable: true,
			Type: config.TypeSimple, StartTime: at, InvokeService: "noop", Location: time.UTC,
			MisfirePolicy: config.MisfireFireAndProceed,
		}
	}
	return d
}

// countRuns counts the runs recorded, by status.
func countRuns(t testing.TB, d testDB) map[store.RunStatus]int {
	t.Helper()
	out := map[store.RunStatus]int{}
	for _, r := range d.runs(t) {
		out[r.Status]++
	}
	return out
}

// getTrigger returns the stored trigger of a schedule, or an error wrapping
// store.ErrNotFound.
func getTrigger(s store.Store, id string) (store.Trigger, error) {
	ts, err := s.ListTriggers(context.Background(), store.ListTriggersParams{})
	if err != nil {
		return store.Trigger{}, err
	}
	for _, t := range ts {
		if t.ScheduleID == id {
			return t, nil
		}
	}
	return store.Trigger{}, fmt.Errorf("trigger %s: %w", id, store.ErrNotFound)
}
