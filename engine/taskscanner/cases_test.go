package taskscanner_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"sundial/engine/config"
	"sundial/engine/managed"
	"sundial/engine/store"
	"sundial/engine/taskscanner"
)

func newUsers(t *testing.T, n, matchEvery int) (store.Objects, []string) {
	t.Helper()
	objs := openStore(t, filepath.Join(t.TempDir(), "sundial.db"))
	return objs, users(t, objs, n, matchEvery)
}

func setField(t *testing.T, objs store.Objects, id string, set func(c map[string]any)) {
	t.Helper()
	if _, err := objs.ModifyObject(context.Background(), store.ModifyObjectParams{Type: "user", ID: id,
		Modify: func(c map[string]any) (map[string]any, error) { set(c); return c, nil }}); err != nil {
		t.Fatal(err)
	}
}

// TestRecoveryTimeout: an object a dead scanner claimed longer ago than
// recovery.timeout and never completed is claimed again; one claimed more
// recently belongs to the other scanner and is left alone.
func TestRecoveryTimeout(t *testing.T) {
	objs, matching := newUsers(t, 30, 1)
	now := time.Now().UTC()
	stale, fresh := matching[:10], matching[10:20]
	for _, id := range stale {
		setField(t, objs, id, func(c map[string]any) {
			c["sunset"].(map[string]any)["task-started"] = now.Add(-11 * time.Minute).Format("2006-01-02T15:04:05.000Z")
			c["sunset"].(map[string]any)["task-completed"] = nil
		})
	}
	for _, id := range fresh {
		setField(t, objs, id, func(c map[string]any) {
			c["sunset"].(map[string]any)["task-started"] = now.Add(-9 * time.Minute).Format("2006-01-02T15:04:05.000Z")
			c["sunset"].(map[string]any)["task-completed"] = nil
		})
	}
	s := newScanner(objs)
	st := execute(t, s, sunsetContext(sunsetScript))
	want := taskscanner.Progress{State: "COMPLETED", Processed: 20, Total: 30, Successes: 20}
	if st.Progress != want {
		t.Fatalf("progress %+v, want %+v", st.Progress, want)
	}
	for _, o := range query1(t, objs, `accountStatus eq "active"`) {
		found := false
		for _, id := range fresh {
			found = found || id == o.ID
		}
		if !found {
			t.Errorf("%s was not processed", o.ID)
		}
	}
	if n := len(query1(t, objs, `accountStatus eq "active"`)); n != len(fresh) {
		t.Errorf("%d left active, want the %d claimed recently", n, len(fresh))
	}
}

// TestCancelMidRun: a cancelled run claims nothing more, its objects in
// flight finish (none is left claimed and not completed), and it ends
// CANCELLED; a run that is over cannot be cancelled.
func TestCancelMidRun(t *testing.T) {
	objs, matching := newUsers(t, 200, 1)
	s := newScanner(objs)
	defer s.Close()
	ic := sunsetContext(`java.lang.Thread.sleep(10); ` + sunsetScript)
	ic["waitForCompletion"] = "false"
	ic["numberOfThreads"] = "2"
	st := execute(t, s, ic)
	waitFor(t, "a first success", func() bool {
		r, _ := s.Run(st.ID)
		return r.Progress.Successes > 0
	})
	if ok, err := s.Cancel(st.ID); err != nil || !ok {
		t.Fatalf("cancel: %v %v", ok, err)
	}
	end, err := s.Wait(context.Background(), st.ID)
	if err != nil {
		t.Fatal(err)
	}
	if end.Progress.State != "CANCELLED" || end.Progress.Processed >= int64(len(matching)) || end.Ended.IsZero() {
		t.Fatalf("after cancel: %+v", end)
	}
	if n := len(query1(t, objs, `/sunset/task-started pr and !(/sunset/task-completed pr)`)); n != 0 {
		t.Errorf("%d objects claimed and not completed after the cancel", n)
	}
	if n := len(query1(t, objs, `/sunset/task-completed pr`)); int64(n) != end.Progress.Successes {
		t.Errorf("%d objects completed, %d successes", n, end.Progress.Successes)
	}
	done := execute(t, s, sunsetContext(sunsetScript))
	if ok, err := s.Cancel(done.ID); err != nil || ok {
		t.Errorf("cancel of a completed run: %v %v, want false", ok, err)
	}
	if _, err := s.Cancel("nope"); !errors.Is(err, taskscanner.ErrNotFound) {
		t.Errorf("cancel of an unknown run: %v", err)
	}
}

// TestThrowingScript: a script that throws on some objects fails those,
// and the scan goes on with the others; the failed ones stay claimed and
// not completed.
func TestThrowingScript(t *testing.T) {
	objs, _ := newUsers(t, 100, 1)
	s := newScanner(objs)
	st := execute(t, s, sunsetContext(`if (/[05]$/.test(input.userName)) { throw new Error("no " + objectID); }
`+sunsetScript))
	want := taskscanner.Progress{State: "COMPLETED", Processed: 100, Total: 100, Successes: 80, Failures: 20}
	if st.Progress != want {
		t.Fatalf("progress %+v, want %+v", st.Progress, want)
	}
	if n := len(query1(t, objs, `/sunset/task-started pr and !(/sunset/task-completed pr) and accountStatus eq "active"`)); n != 20 {
		t.Errorf("%d failed objects left claimed, want 20", n)
	}
}

// TestScriptResult: only true is a success.
func TestScriptResult(t *testing.T) {
	objs, _ := newUsers(t, 10, 1)
	s := newScanner(objs)
	st := execute(t, s, sunsetContext(`input.userName.endsWith("1") ? true : (input.userName.endsWith("2") ? "true" : 1)`))
	if st.Progress.Successes != 1 || st.Progress.Failures != 9 {
		t.Fatalf("progress %+v", st.Progress)
	}
}

// TestMaxRecords: only maxRecords matches are processed, written as a
// string as real configs do.
func TestMaxRecords(t *testing.T) {
	objs, _ := newUsers(t, 500, 2)
	s := newScanner(objs)
	ic := sunsetContext(sunsetScript)
	ic["maxRecords"] = "30"
	ic["numberOfThreads"] = "3"
	st := execute(t, s, ic)
	want := taskscanner.Progress{State: "COMPLETED", Processed: 30, Total: 30, Successes: 30}
	if st.Progress != want {
		t.Fatalf("progress %+v, want %+v", st.Progress, want)
	}
	if n := len(query1(t, objs, `accountStatus eq "inactive"`)); n != 30 {
		t.Errorf("%d inactive, want 30", n)
	}
}

// TestNoMatches: a filter that matches nothing completes at once.
func TestNoMatches(t *testing.T) {
	objs, _ := newUsers(t, 50, 1000)
	s := newScanner(objs)
	ic := sunsetContext(sunsetScript)
	ic["scan"].(map[string]any)["_queryFilter"] = `/sunset/date lt "2000-01-01T00:00:00.000Z"`
	st := execute(t, s, ic)
	want := taskscanner.Progress{State: "COMPLETED", Total: 0}
	if st.Progress != want {
		t.Fatalf("progress %+v, want %+v", st.Progress, want)
	}
}

// TestStartErrors: scans that cannot start are errors, and leave no run.
func TestStartErrors(t *testing.T) {
	objs, _ := newUsers(t, 1, 1)
	cases := []struct {
		name  string
		edit  func(ic map[string]any)
		want  error
		noObj bool
	}{
		{"undeclared type", func(ic map[string]any) { ic["scan"].(map[string]any)["object"] = "managed/device" }, managed.ErrUnknownType, false},
		{"not managed", func(ic map[string]any) { ic["scan"].(map[string]any)["object"] = "system/ldap/account" }, taskscanner.ErrConfig, false},
		{"bad filter", func(ic map[string]any) { ic["scan"].(map[string]any)["_queryFilter"] = `/a eq` }, taskscanner.ErrConfig, false},
		{"bad macro", func(ic map[string]any) { ic["scan"].(map[string]any)["_queryFilter"] = `/a lt "${Time.now + 1w}"` }, taskscanner.ErrConfig, false},
		{"no taskState", func(ic map[string]any) { delete(ic["scan"].(map[string]any), "taskState") }, taskscanner.ErrConfig, false},
		{"bad threads", func(ic map[string]any) { ic["numberOfThreads"] = "many" }, taskscanner.ErrConfig, false},
		{"bad wait", func(ic map[string]any) { ic["waitForCompletion"] = "sometimes" }, taskscanner.ErrConfig, false},
		{"bad timeout", func(ic map[string]any) {
			ic["scan"].(map[string]any)["recovery"] = map[string]any{"timeout": "10 fortnights"}
		}, taskscanner.ErrConfig, false},
		{"no store", func(map[string]any) {}, taskscanner.ErrNoObjects, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := objs
			if c.noObj {
				o = nil
			}
			s := newScanner(o)
			ic := sunsetContext(sunsetScript)
			c.edit(ic)
			_, err := s.Execute(context.Background(), taskscanner.ExecuteParams{Name: "schedule/x", InvokeContext: ic})
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
			if runs := s.Runs(); len(runs) != 0 {
				t.Fatalf("runs %v", runs)
			}
		})
	}
	s := newScanner(objs)
	ic := sunsetContext("this is not javascript")
	if _, err := s.Execute(context.Background(), taskscanner.ExecuteParams{Name: "schedule/x", InvokeContext: ic}); err == nil {
		t.Fatal("a script that does not compile started a scan")
	}
}

// TestLegacyScanTasks: the scan-tasks query of older configs runs as the
// filter property < condition.before and not completed.
func TestLegacyScanTasks(t *testing.T) {
	objs, matching := newUsers(t, 40, 4)
	s := newScanner(objs)
	ic := sunsetContext(sunsetScript)
	ic["scan"] = map[string]any{
		"_query-id": "scan-tasks",
		"object":    "managed/user",
		"property":  "/sunset/date",
		"condition": map[string]any{"before": "${Time.now}"},
		"taskState": map[string]any{"started": "/sunset/task-started", "completed": "/sunset/task-completed"},
	}
	st := execute(t, s, ic)
	if st.Progress.Successes != int64(len(matching)) || st.Progress.Total != int64(len(matching)) {
		t.Fatalf("progress %+v, want %d successes", st.Progress, len(matching))
	}
}

// TestRetention: only the newest MaxCompletedRuns completed runs are kept.
func TestRetention(t *testing.T) {
	objs, _ := newUsers(t, 1, 1)
	s := newScanner(objs, func(o *taskscanner.Options) { o.MaxCompletedRuns = func() int { return 2 } })
	var ids []string
	for range 4 {
		ids = append(ids, execute(t, s, sunsetContext(sunsetScript)).ID)
	}
	runs := s.Runs()
	if len(runs) != 2 || runs[0].ID != ids[2] || runs[1].ID != ids[3] {
		t.Fatalf("runs kept %v, want the last two of %v", runs, ids)
	}
	if _, err := s.Run(ids[0]); !errors.Is(err, taskscanner.ErrNotFound) {
		t.Fatalf("oldest run: %v", err)
	}
}

// TestGuideActivateAndExpire runs the shipped conf's activate and expire
// scans (the guide's, with ${Time.nowWithOffset} and inline scripts) on
// users in SQLite.
func TestGuideActivateAndExpire(t *testing.T) {
	desired, err := config.Load("../../conf", config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	objs := openStore(t, filepath.Join(t.TempDir(), "sundial.db"))
	past, future := "2020-01-01T00:00:00.000Z", "2099-01-01T00:00:00.000Z"
	people := map[string]map[string]any{
		"starts":   {"accountStatus": "inactive", "activeDate": past},
		"between":  {"accountStatus": "inactive", "activeDate": past, "inactiveDate": future},
		"notyet":   {"accountStatus": "inactive", "activeDate": future},
		"leaves":   {"accountStatus": "active", "activeDate": past, "inactiveDate": past},
		"leftlong": {"accountStatus": "active", "inactiveDate": past},
	}
	var news []store.NewObject
	for id, c := range people {
		news = append(news, store.NewObject{ID: id, Content: c})
	}
	if _, err := objs.CreateObjects(context.Background(), store.CreateObjectsParams{Type: "user", Objects: news}); err != nil {
		t.Fatal(err)
	}
	s := newScanner(objs)
	wait := true
	for _, id := range []string{"taskscan_activate", "taskscan_expire"} {
		sched := desired.Schedules[id]
		if sched == nil {
			t.Fatalf("conf has no %s", id)
		}
		st, err := s.Execute(context.Background(), taskscanner.ExecuteParams{Name: "schedule/" + id, InvokeContext: sched.InvokeContext.Map(), Wait: &wait})
		if err != nil {
			t.Fatal(err)
		}
		if st.Progress.State != "COMPLETED" || st.Progress.Failures != 0 {
			t.Fatalf("%s: %+v", id, st.Progress)
		}
	}
	want := map[string]string{"starts": "active", "between": "active", "notyet": "inactive", "leaves": "inactive", "leftlong": "inactive"}
	for id, status := range want {
		o, err := objs.ReadObject(context.Background(), store.ReadObjectParams{Type: "user", ID: id})
		if err != nil {
			t.Fatal(err)
		}
		if o.Content["accountStatus"] != status {
			t.Errorf("%s is %v, want %s", id, o.Content["accountStatus"], status)
		}
	}
}
