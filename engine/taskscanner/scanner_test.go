package taskscanner_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"sundial/engine/config"
	"sundial/engine/scheduler"
	"sundial/engine/script"
	"sundial/engine/store"
	_ "sundial/engine/store/postgres"
	_ "sundial/engine/store/sqlite"
	"sundial/engine/store/storetest"
	"sundial/engine/taskscanner"
	"sundial/internal/pgtest"
)

// openStore opens (or reopens) the SQLite store at path.
func openStore(t testing.TB, path string) store.Objects {
	t.Helper()
	s, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	objs, err := store.ObjectsOf(s)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// users creates n users u00000…; every matchEvery-th one (from the first)
// has a sunset date in the past, the others one in the future.
func users(t testing.TB, objs store.Objects, n, matchEvery int) (matching []string) {
	t.Helper()
	const batch = 1000
	for from := 0; from < n; from += batch {
		var news []store.NewObject
		for i := from; i < min(n, from+batch); i++ {
			id := fmt.Sprintf("u%06d", i)
			date := "2099-01-01T00:00:00.000Z"
			if i%matchEvery == 0 {
				date = "2019-12-20T12:00:00.000Z"
				matching = append(matching, id)
			}
			news = append(news, store.NewObject{ID: id, Content: map[string]any{
				"userName": id, "mail": id + "@example.com", "accountStatus": "active", "runs": 0,
				"sunset": map[string]any{"date": date},
			}})
		}
		res, err := objs.CreateObjects(context.Background(), store.CreateObjectsParams{Type: "user", Objects: news})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
	}
	return matching
}

// sunsetContext is the guide's sunset scan with the given script source.
func sunsetContext(source string) map[string]any {
	return map[string]any{
		"waitForCompletion": true,
		"numberOfThreads":   5,
		"scan": map[string]any{
			"_queryFilter": `((/sunset/date lt "${Time.now}") AND !(/sunset/task-completed pr))`,
			"object":       "managed/user",
			"taskState":    map[string]any{"started": "/sunset/task-started", "completed": "/sunset/task-completed"},
			"recovery":     map[string]any{"timeout": "10m"},
		},
		"task": map[string]any{"script": map[string]any{"type": "text/javascript", "source": source}},
	}
}

const sunsetScript = `logger.info("sunset: deactivating {} ({})", input.userName, objectID);
openidm.patch(objectID, null, [{"operation": "replace", "field": "/accountStatus", "value": "inactive"}]);
true;`

func newScanner(objs store.Objects, opts ...func(*taskscanner.Options)) *taskscanner.Scanner {
	engine := script.New(script.Config{})
	o := taskscanner.Options{
		Objects:  objs,
		Declared: func(typ string) bool { return typ == "user" },
		Scripts:  func() *script.Engine { return engine },
	}
	for _, f := range opts {
		f(&o)
	}
	return taskscanner.New(o)
}

func query1(t testing.TB, objs store.Objects, filter string) []store.Object {
	t.Helper()
	return storetest.QueryObjects(t, objs, "user", filter)
}

func execute(t *testing.T, s *taskscanner.Scanner, ic map[string]any) taskscanner.Status {
	t.Helper()
	st, err := s.Execute(context.Background(), taskscanner.ExecuteParams{Name: "schedule/test", InvokeContext: ic})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// TestSunsetThroughScheduler runs the guide's sunset schedule file, with
// its sunset.js, from a conf directory through the scheduler, on users in
// SQLite: every user whose sunset date has passed is inactive and
// completed, the others are untouched.
func TestSunsetThroughScheduler(t *testing.T) {
	dir := t.TempDir()
	conf, scripts := filepath.Join(dir, "conf"), filepath.Join(dir, "scripts")
	for _, d := range []string{conf, scripts} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, "../../examples/sunset-taskscan/conf/schedule-taskscan_sunset.json", filepath.Join(conf, "schedule-taskscan_sunset.json"))
	copyFile(t, "../../examples/sunset-taskscan/scripts/sunset.js", filepath.Join(scripts, "sunset.js"))
	if err := os.WriteFile(filepath.Join(conf, "managed.json"), []byte(`{"objects": [{"name": "user"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	desired, err := config.Load(conf, config.LoadOptions{ScriptsDir: scripts})
	if err != nil {
		t.Fatal(err)
	}
	if errs := desired.Errors; len(errs) > 0 {
		t.Fatalf("conf errors: %v", errs)
	}

	objs := openStore(t, filepath.Join(dir, "sundial.db"))
	matching := users(t, objs, 1000, 10)
	engine := script.New(script.Config{ScriptsDir: scripts})
	scanner := taskscanner.New(taskscanner.Options{
		Objects:  objs,
		Declared: func(typ string) bool { _, ok := desired.Managed.Type(typ); return ok },
		Scripts:  func() *script.Engine { return engine },
	})
	defer scanner.Close()
	sched, err := scheduler.New(scheduler.Options{Services: map[string]scheduler.Service{taskscanner.ServiceName: scanner}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sched.Reconcile(context.Background(), desired); err != nil {
		t.Fatal(err)
	}
	if err := sched.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer sched.Stop(time.Second)
	fireID, err := sched.TriggerNow(context.Background(), "taskscan_sunset")
	if err != nil {
		t.Fatal(err)
	}
	// waitForCompletion is false: the fire returns at once, the scan goes
	// on in the background under the fire's id.
	var st taskscanner.Status
	waitFor(t, "the scan's run", func() bool { _, err := scanner.Run(fireID); return err == nil })
	if st, err = scanner.Wait(context.Background(), fireID); err != nil {
		t.Fatal(err)
	}
	want := taskscanner.Progress{State: "COMPLETED", Processed: 100, Total: 100, Successes: 100}
	if st.Progress != want || st.Name != "schedule/taskscan_sunset" || st.Ended.IsZero() {
		t.Fatalf("status %+v, want progress %+v", st, want)
	}
	inactive := query1(t, objs, `accountStatus eq "inactive" and /sunset/task-completed pr and /sunset/task-started pr`)
	if len(inactive) != len(matching) {
		t.Fatalf("%d users inactive and completed, want %d", len(inactive), len(matching))
	}
	for i, o := range inactive {
		if o.ID != matching[i] {
			t.Fatalf("user %s inactive, want %s", o.ID, matching[i])
		}
	}
	if n := len(query1(t, objs, `accountStatus eq "active" and !(/sunset/task-started pr)`)); n != 900 {
		t.Fatalf("%d users untouched, want 900", n)
	}
	// A second scan finds nothing left to do.
	second := execute(t, scanner, sunsetContext(sunsetScript))
	if second.Progress.Total != 0 || second.Progress.State != "COMPLETED" {
		t.Fatalf("second scan: %+v", second.Progress)
	}
	m := st.Map()
	if m["_id"] != fireID || m["ended"] == nil || !strings.HasSuffix(m["started"].(string), "Z") {
		t.Fatalf("status map %v", m)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTwoScannersProcessEachObjectOnce runs two scanners, each on its own
// connection to one database (two nodes), on the same matches at the same
// time: the script counts its runs on the object, and every object is
// processed exactly once, on SQLite and on PostgreSQL.
func TestTwoScannersProcessEachObjectOnce(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "sundial.db")
		twoScanners(t, func() store.Objects { return openStore(t, path) })
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.DSN(t)
		twoScanners(t, func() store.Objects { return openStore(t, dsn) })
	})
}

func twoScanners(t *testing.T, open func() store.Objects) {
	matching := users(t, open(), 2000, 4)
	const counting = `openidm.patch(objectID, null, [{"operation": "increment", "field": "/runs", "value": 1}]); true;`
	var wg sync.WaitGroup
	results := make([]taskscanner.Status, 2)
	for i := range results {
		s := newScanner(open())
		defer s.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = execute(t, s, sunsetContext(counting))
		}()
	}
	wg.Wait()
	objs := open()
	for i := range results {
		if results[i].Progress.State != "COMPLETED" || results[i].Progress.Failures != 0 {
			t.Fatalf("scan %d: %+v", i, results[i].Progress)
		}
	}
	total := results[0].Progress.Successes + results[1].Progress.Successes
	for _, o := range query1(t, objs, `/sunset/task-completed pr`) {
		if n := fmt.Sprint(o.Content["runs"]); n != "1" {
			t.Fatalf("%s ran %s times", o.ID, n)
		}
	}
	if done := len(query1(t, objs, `/sunset/task-completed pr`)); done != len(matching) || total != int64(len(matching)) {
		t.Fatalf("%d objects completed, %d successes, want %d", done, total, len(matching))
	}
	t.Logf("successes per scanner: %d and %d", results[0].Progress.Successes, results[1].Progress.Successes)
}

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func executeParams(ic map[string]any) taskscanner.ExecuteParams {
	return taskscanner.ExecuteParams{Name: "schedule/bench", InvokeContext: ic}
}
