package daemon_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sundial/engine/api"
	"sundial/engine/api/crest"
	"sundial/engine/daemon"
	"sundial/engine/store"
	_ "sundial/engine/store/postgres"
	"sundial/internal/pgtest"
	"sundial/internal/testconf"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// openSQLite opens a fresh SQLite store, closed when the test ends.
func openSQLite(tb testing.TB) store.Store {
	tb.Helper()
	db, err := store.Open(context.Background(), filepath.Join(tb.TempDir(), "sundial.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// persistedBody is a persisted REST schedule: a cron expression, or with
// repeats > 0 a simple trigger firing every second repeats times.
func persistedBody(cron string, repeats int) string {
	trig := fmt.Sprintf(`"type": "cron", "schedule": %q`, cron)
	if repeats > 0 {
		trig = fmt.Sprintf(`"type": "simple", "repeatInterval": 1000, "repeatCount": %d`, repeats-1)
	}
	return `{"enabled": true, "persisted": true, ` + trig + `, "misfirePolicy": "doNothing",
  "invokeService": "script", "invokeContext": {"script": {"type": "text/javascript", "source": "1"}}}`
}

// waitFor checks cond until it holds, failing the test past timeout.
func waitFor(tb testing.TB, what string, timeout time.Duration, cond func() bool) time.Duration {
	tb.Helper()
	began := time.Now()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
	}
	return time.Since(began)
}

// triggerOf returns a job's first trigger, nil when it has none.
func triggerOf(job crest.Resource) map[string]any {
	trs, _ := job.Fields["triggers"].([]any)
	if len(trs) == 0 {
		return nil
	}
	tr, _ := trs[0].(map[string]any)
	return tr
}

// A persisted REST schedule is in the store: a restarted node runs it with
// the same revision and next fire; the store checks revisions; made
// non-persisted, it leaves the store for the node's memory.
func TestRESTSchedules_PersistedSurviveRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openSQLite(t)
	conf, scripts := newDirs(t, nil)
	withDB := func(o *daemon.Options) { o.DB = db }

	b := start(t, conf, scripts, withDB)
	job, created, err := b.d.Schedules().PutJob(ctx, api.PutJob{ID: "p", Body: []byte(persistedBody("0 0 3 * * ?", 0)), CreateOnly: true})
	if err != nil || !created || job.Rev != "1" {
		t.Fatalf("create: %v created=%t rev %q, want created at rev 1", err, created, job.Rev)
	}
	next := job.Fields["nextRunDate"]
	if rows, err := db.ListAPISchedules(ctx, store.ListAPISchedulesParams{}); err != nil || len(rows) != 1 || rows[0].Rev != 1 {
		t.Fatalf("stored REST schedules = %+v (%v), want p at rev 1", rows, err)
	}
	b.stop(t)

	b = start(t, conf, scripts, withDB)
	svc := b.d.Schedules()
	again, err := svc.Job(ctx, "p")
	if err != nil || again.Rev != "1" || again.Fields["nextRunDate"] != next {
		t.Fatalf("after a restart: %v rev %q next %v, want rev 1 next %v", err, again.Rev, again.Fields["nextRunDate"], next)
	}
	if tr := triggerOf(again); tr == nil || tr["state"] != "NORMAL" {
		t.Fatalf("after a restart: trigger %v, want a NORMAL one", tr)
	}
	job, created, err = svc.PutJob(ctx, api.PutJob{ID: "p", Body: []byte(persistedBody("0 0 4 * * ?", 0)), IfMatch: "1"})
	if err != nil || created || job.Rev != "2" {
		t.Fatalf("replace at rev 1: %v created=%t rev %q, want rev 2", err, created, job.Rev)
	}
	_, _, err = svc.PutJob(ctx, api.PutJob{ID: "p", Body: []byte(persistedBody("0 0 5 * * ?", 0)), IfMatch: "1"})
	wantCode(t, "replace at a stale revision", err, 412)
	_, err = svc.DeleteJob(ctx, api.DeleteJob{ID: "p", IfMatch: "1"})
	wantCode(t, "delete at a stale revision", err, 412)

	// Persisted no more: out of the store (with its trigger), still here.
	if _, _, err := svc.PutJob(ctx, api.PutJob{ID: "p", Body: []byte(restBody("true"))}); err != nil {
		t.Fatal(err)
	}
	if rows, _ := db.ListAPISchedules(ctx, store.ListAPISchedulesParams{}); len(rows) != 0 {
		t.Errorf("a non-persisted schedule is still stored: %+v", rows)
	}
	if trs, _ := db.ListTriggers(ctx, store.ListTriggersParams{ScheduleIDs: []string{"p"}}); len(trs) != 0 {
		t.Errorf("a non-persisted schedule's trigger is still stored: %+v", trs)
	}
	if _, err := svc.Job(ctx, "p"); err != nil {
		t.Fatalf("the in-memory version: %v", err)
	}
	// And back: stored again, from revision 1.
	job, _, err = svc.PutJob(ctx, api.PutJob{ID: "p", Body: []byte(persistedBody("0 0 3 * * ?", 0))})
	if err != nil || job.Rev != "1" {
		t.Fatalf("persisted again: %v rev %q, want rev 1", err, job.Rev)
	}
	if _, err := svc.DeleteJob(ctx, api.DeleteJob{ID: "p", IfMatch: "1"}); err != nil {
		t.Fatal(err)
	}
	if rows, _ := db.ListAPISchedules(ctx, store.ListAPISchedulesParams{}); len(rows) != 0 {
		t.Errorf("deleted, still stored: %+v", rows)
	}
	if trs, _ := db.ListTriggers(ctx, store.ListTriggersParams{ScheduleIDs: []string{"p"}}); len(trs) != 0 {
		t.Errorf("deleted, its trigger is still stored: %+v", trs)
	}
}

// A stored REST schedule this node cannot read (a newer version wrote it)
// is logged and left out; the start goes on and the others run.
func TestRESTSchedules_UnreadableStoredSkipped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openSQLite(t)
	for id, body := range map[string]string{
		"good":   persistedBody("0 0 3 * * ?", 0),
		"future": `{"enabled": true, "persisted": true, "type": "lunar", "schedule": "full moon", "invokeService": "script"}`,
	} {
		if _, err := db.PutAPISchedule(ctx, store.PutAPIScheduleParams{ID: id, Body: []byte(body)}); err != nil {
			t.Fatal(err)
		}
	}
	conf, scripts := newDirs(t, nil)
	b := start(t, conf, scripts, func(o *daemon.Options) { o.DB = db })
	if _, err := b.d.Schedules().Job(ctx, "good"); err != nil {
		t.Errorf("the readable one: %v", err)
	}
	_, err := b.d.Schedules().Job(ctx, "future")
	wantCode(t, "the unreadable one", err, 404)
	times := 0
	for _, l := range b.logs.all() {
		if strings.Contains(l.text, "cannot be read by this node") && strings.Contains(l.text, "schedule=future") {
			times++
		}
	}
	if times != 1 {
		t.Errorf("the unreadable schedule is logged %d times, want once", times)
	}
}

// clusterNode is one daemon of a test cluster with its own store handle.
type clusterNode struct {
	*testBundle
	db store.Store
}

// startCluster starts n daemons on one fresh PostgreSQL database.
func startCluster(t *testing.T, n int) []clusterNode {
	t.Helper()
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	nodes := make([]clusterNode, n)
	for i := range nodes {
		db, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		conf, scripts := newDirs(t, nil)
		id := string(rune('a' + i))
		nodes[i] = clusterNode{start(t, conf, scripts, func(o *daemon.Options) {
			o.DB, o.NodeID, o.Listen = db, id, ""
		}), db}
	}
	return nodes
}

// hasJob reports whether a node runs the schedule.
func (n clusterNode) hasJob(id string) bool {
	_, err := n.d.Schedules().Job(context.Background(), id)
	return err == nil
}

// A persisted schedule created over REST on node a reaches b and c, fires
// once per fire time across the three, shows the node that fired it last,
// and is deleted everywhere by a delete on a.
func TestRESTSchedules_ClusterFiresOnce(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, 3)
	a, db := nodes[0], nodes[0].db
	ctx := context.Background()
	const fires = 5
	if _, _, err := a.d.Schedules().PutJob(ctx, api.PutJob{ID: "rep", Body: []byte(persistedBody("", fires))}); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes[1:] {
		took := waitFor(t, "the schedule on another node", waitTimeout, func() bool { return n.hasJob("rep") })
		t.Logf("created on a, scheduled on another node after %s", took.Round(time.Millisecond))
	}
	var runs []store.Run
	waitFor(t, fmt.Sprintf("%d finished runs", fires), 3*waitTimeout, func() bool {
		var err error
		runs, err = db.ListRuns(ctx, store.ListRunsParams{ScheduleID: "rep"})
		if err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, r := range runs {
			if r.Status.Terminal() {
				done++
			}
		}
		return done >= fires
	})
	seen := map[time.Time]string{}
	for _, r := range runs {
		if other, dup := seen[r.ScheduledAt]; dup {
			t.Errorf("fire time %s ran twice: on %s and %s", r.ScheduledAt, other, r.Node)
		}
		seen[r.ScheduledAt] = r.Node
		if r.Status != store.RunSucceeded {
			t.Errorf("run %s: %s %s", r.ID, r.Status, r.Error)
		}
	}
	if len(runs) != fires {
		t.Errorf("%d runs, want %d: %+v", len(runs), fires, runs)
	}
	trs, err := db.ListTriggers(ctx, store.ListTriggersParams{ScheduleIDs: []string{"rep"}})
	if err != nil || len(trs) != 1 || trs[0].LastNodeID == "" {
		t.Fatalf("stored trigger = %+v (%v), want one fired by some node", trs, err)
	}
	for _, n := range nodes {
		if job, err := n.d.Schedules().Job(ctx, "rep"); err != nil || job.Rev != "1" {
			t.Errorf("job on one node: _rev %q (%v), want the stored 1", job.Rev, err)
		}
		tr, err := n.d.Schedules().Trigger(ctx, "scheduler-service-group.trigger-rep")
		if err != nil {
			t.Fatal(err)
		}
		if tr.Fields["nodeId"] != trs[0].LastNodeID || tr.Rev != fmt.Sprint(trs[0].Revision) {
			t.Errorf("trigger on one node: nodeId %v _rev %s, want the stored %s and %d", tr.Fields["nodeId"], tr.Rev, trs[0].LastNodeID, trs[0].Revision)
		}
	}

	if _, err := a.d.Schedules().DeleteJob(ctx, api.DeleteJob{ID: "rep"}); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes[1:] {
		waitFor(t, "the deletion on another node", waitTimeout, func() bool { return !n.hasJob("rep") })
	}
	if trs, _ := db.ListTriggers(ctx, store.ListTriggersParams{ScheduleIDs: []string{"rep"}}); len(trs) != 0 {
		t.Errorf("deleted, its trigger is still stored: %+v", trs)
	}
}

// A pause on node a holds on b (its trigger shows PAUSED) and no node
// fires the schedule while an unpaused one goes on firing; a resume on b
// reaches a.
func TestRESTSchedules_ClusterPause(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, 3)
	a, b, db := nodes[0], nodes[1], nodes[0].db
	ctx := context.Background()
	for _, id := range []string{"paused", "control"} {
		if _, _, err := a.d.Schedules().PutJob(ctx, api.PutJob{ID: id, Body: []byte(persistedBody("* * * * * ?", 0))}); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range nodes {
		waitFor(t, "both schedules on every node", waitTimeout, func() bool { return n.hasJob("paused") && n.hasJob("control") })
	}
	// Two writes from one revision on two nodes: the second is refused.
	body := []byte(persistedBody("* * * * * ?", 0))
	if _, _, err := a.d.Schedules().PutJob(ctx, api.PutJob{ID: "control", Body: body, IfMatch: "1"}); err != nil {
		t.Fatal(err)
	}
	_, _, err := b.d.Schedules().PutJob(ctx, api.PutJob{ID: "control", Body: body, IfMatch: "1"})
	wantCode(t, "a write from a revision another node replaced", err, 412)
	count := func(id string) int {
		runs, err := db.ListRuns(ctx, store.ListRunsParams{ScheduleID: id, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		return len(runs)
	}
	state := func(n clusterNode, id string) any {
		job, err := n.d.Schedules().Job(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return triggerOf(job)["state"]
	}

	if err := a.d.Schedules().PauseJob(ctx, "paused"); err != nil {
		t.Fatal(err)
	}
	before := count("paused")
	took := waitFor(t, "PAUSED on node b", waitTimeout, func() bool { return state(b, "paused") == "PAUSED" })
	t.Logf("paused on a, PAUSED on b after %s", took.Round(time.Millisecond))
	waitFor(t, "PAUSED on node c", waitTimeout, func() bool { return state(nodes[2], "paused") == "PAUSED" })
	control := count("control")
	waitFor(t, "two more fires of the control schedule", 2*waitTimeout, func() bool { return count("control") >= control+2 })
	if after := count("paused"); after != before {
		t.Errorf("paused schedule fired %d times while paused", after-before)
	}

	if err := b.d.Schedules().ResumeJob(ctx, "paused"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "NORMAL on node a", waitTimeout, func() bool { return state(a, "paused") == "NORMAL" })
	waitFor(t, "a fire after the resume", 2*waitTimeout, func() bool { return count("paused") > before })
}

// sqliteNodeWith starts a node on a fresh SQLite store with a persisted
// REST schedule id, daily at 3.
func sqliteNodeWith(t *testing.T, id string) clusterNode {
	t.Helper()
	db := openSQLite(t)
	conf, scripts := newDirs(t, nil)
	n := clusterNode{start(t, conf, scripts, func(o *daemon.Options) { o.DB = db }), db}
	if _, _, err := n.d.Schedules().PutJob(context.Background(), api.PutJob{ID: id, Body: []byte(persistedBody("0 0 3 * * ?", 0))}); err != nil {
		t.Fatal(err)
	}
	return n
}

// A node that drops a REST schedule because another node changed it in
// the store (here to a version this node cannot read) leaves its stored
// trigger alone: the node that wrote it runs it.
func TestRESTSchedules_RemoteChangeKeepsStoredTrigger(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := sqliteNodeWith(t, "x")
	db := n.db
	if _, err := db.PutAPISchedule(ctx, store.PutAPIScheduleParams{
		ID: "x", Body: []byte(`{"enabled": true, "persisted": true, "type": "lunar", "invokeService": "script"}`), IfRev: 1,
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the node to drop the schedule", waitTimeout, func() bool { return !n.hasJob("x") })
	if trs, err := db.ListTriggers(ctx, store.ListTriggersParams{ScheduleIDs: []string{"x"}}); err != nil || len(trs) != 1 {
		t.Errorf("stored trigger after another node's change = %+v (%v), want it kept", trs, err)
	}
}

// A node whose view lags another node's write still deletes the stored
// trigger when it takes a schedule out of the store (made non-persisted
// here right after the other write, before the change feed may tell).
func TestRESTSchedules_WriteOverLaggingViewDeletesTrigger(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := sqliteNodeWith(t, "x")
	db, svc := n.db, n.d.Schedules()
	if _, err := db.PutAPISchedule(ctx, store.PutAPIScheduleParams{ID: "x", Body: []byte(persistedBody("0 0 4 * * ?", 0)), IfRev: 1}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.PutJob(ctx, api.PutJob{ID: "x", Body: []byte(restBody("true"))}); err != nil {
		t.Fatal(err)
	}
	if trs, err := db.ListTriggers(ctx, store.ListTriggersParams{ScheduleIDs: []string{"x"}}); err != nil || len(trs) != 0 {
		t.Errorf("stored trigger of a schedule made non-persisted = %+v (%v), want none", trs, err)
	}
	if job, err := svc.Job(ctx, "x"); err != nil || job.Fields["persisted"] != false {
		t.Errorf("in-memory version = %+v (%v)", job.Fields, err)
	}
}

// BenchmarkJobs10000Persisted measures the job query's read of 10,000
// persisted schedules: in memory, and on a node with a SQLite store, where
// it reads the stored triggers (for nodeId and the trigger's _rev) in one
// ListTriggers.
func BenchmarkJobs10000Persisted(b *testing.B) {
	conf, scripts := newDirs(b, nil)
	for i := range manyFiles {
		content := strings.Replace(dailySchedule(i), `"schedule":`, `"persisted": true, "schedule":`, 1)
		writeFile(b, filepath.Join(conf, fmt.Sprintf("schedule-s%05d.json", i)), content)
	}
	for _, c := range []struct {
		name string
		edit func(*daemon.Options)
	}{
		{"memory", func(*daemon.Options) {}},
		{"sqlite", func(o *daemon.Options) { o.DB = openSQLite(b) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			bd := start(b, conf, scripts, quiet, c.edit)
			svc, ctx := bd.d.Schedules(), context.Background()
			for b.Loop() {
				jobs, err := svc.Jobs(ctx)
				if err != nil || len(jobs) != manyFiles {
					b.Fatalf("%d jobs (%v), want %d", len(jobs), err, manyFiles)
				}
			}
		})
	}
}

// A REST schedule another node deletes and creates again (at revision 1
// again) is read again, even when both changes arrive in one batch.
func TestRESTSchedules_RecreatedElsewhereIsReadAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := sqliteNodeWith(t, "x")
	db := n.db
	if _, err := db.DeleteAPISchedule(ctx, store.DeleteAPIScheduleParams{ID: "x"}); err != nil {
		t.Fatal(err)
	}
	if a, err := db.PutAPISchedule(ctx, store.PutAPIScheduleParams{ID: "x", Body: []byte(persistedBody("0 0 4 * * ?", 0)), IfRev: store.MustNotExist}); err != nil || a.Rev != 1 {
		t.Fatalf("created again: rev %d (%v), want 1", a.Rev, err)
	}
	waitFor(t, "the new version on the node", waitTimeout, func() bool {
		job, err := n.d.Schedules().Job(ctx, "x")
		return err == nil && job.Fields["schedule"] == "0 0 4 * * ?"
	})
}

// BenchmarkJobQuery10000 is the server's part of GET
// /openidm/scheduler/job?_queryFilter=true over 10,000 schedules of
// distinct invokeContexts: the job resources built, queried and written.
func BenchmarkJobQuery10000(b *testing.B) {
	conf, scripts := testconf.IdleSchedules(b, manyFiles), b.TempDir()
	bd := start(b, conf, scripts, quiet)
	svc, ctx := bd.d.Schedules(), context.Background()
	p, err := crest.ParseParams(httptest.NewRequest("GET", "/x?_queryFilter=true", nil))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		jobs, err := svc.Jobs(ctx)
		if err != nil || len(jobs) != manyFiles {
			b.Fatalf("%d jobs (%v), want %d", len(jobs), err, manyFiles)
		}
		out, err := crest.Query(jobs, p.Query, p.Fields)
		if err != nil {
			b.Fatal(err)
		}
		crest.Writer{}.JSON(httptest.NewRecorder(), 200, out)
	}
}
