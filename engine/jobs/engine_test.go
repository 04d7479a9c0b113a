package jobs_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sundial/engine/config"
	"sundial/engine/jobs"
	"sundial/engine/script"
	"sundial/engine/store"
	"sundial/engine/store/sqlite"
)

// harness is a job engine over a real SQLite store, real goja scripts and
// objectSync, a real reconciliation of managed objects. The provisioner
// service (liveSync) is a gate the test opens, so that a test can act
// while a task runs.
type harness struct {
	t       *testing.T
	ctx     context.Context
	db      *sqlite.Store
	objects store.Objects
	sync    *objectSync
	eng     *jobs.Engine
	gate    *gate
}

type gate struct {
	entered chan string   // a task id, when its run starts
	release chan struct{} // closed to let every gated run end
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sundial.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	objects, err := store.ObjectsOf(db)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, ctx: ctx, db: db, objects: objects, sync: newObjectSync(objects),
		gate: &gate{entered: make(chan string, 16), release: make(chan struct{})}}
	scripts := script.New(script.Config{})
	h.eng = jobs.New(jobs.Options{
		Store: db, Sync: h.sync, Node: "node1", Workers: 4,
		Services: map[string]jobs.Service{
			"script": func(ctx context.Context, c jobs.Call) error {
				return scripts.InvokeSchedule(ctx, "job/"+c.JobID+"/"+c.Task.ID, "info", c.Task.InvokeContext.Map(), map[string]any{"jobInstanceId": c.JobInstanceID})
			},
			"provisioner": func(ctx context.Context, c jobs.Call) error {
				h.gate.entered <- c.Task.ID
				select {
				case <-h.gate.release:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			},
		},
	})
	t.Cleanup(h.eng.Close)
	return h
}

// job loads a job file through the config loader, as the daemon does.
func (h *harness) job(body string) *config.Job {
	h.t.Helper()
	dir := h.t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "job-j.yaml"), []byte(body), 0o644); err != nil {
		h.t.Fatal(err)
	}
	d, err := config.Load(dir, config.LoadOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	if !d.Valid() {
		h.t.Fatalf("job file: %v", d.AllErrors())
	}
	return d.Jobs["j"]
}

func (h *harness) seed(typ string, ids ...string) {
	h.t.Helper()
	var objs []store.NewObject
	for _, id := range ids {
		objs = append(objs, store.NewObject{ID: id, Content: map[string]any{"name": id}})
	}
	if _, err := h.objects.CreateObjects(h.ctx, store.CreateObjectsParams{Type: typ, Objects: objs}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) count(typ string) int {
	h.t.Helper()
	res, err := h.objects.QueryObjects(h.ctx, store.QueryObjectsParams{Type: typ})
	if err != nil {
		h.t.Fatal(err)
	}
	return len(res.Objects)
}

func (h *harness) run(j *config.Job, o jobs.StartOptions) store.JobInstance {
	h.t.Helper()
	ji, err := h.eng.Run(h.ctx, j, o)
	if err != nil {
		h.t.Fatal(err)
	}
	return ji
}

// states renders a job instance's task instances as "task=state" by launch
// group, then task id, then creation (the tasks of a group start in any
// order), virtual runs marked "+validation" or "+forced".
func (h *harness) states(id int64) string {
	h.t.Helper()
	tis, err := h.db.ListTaskInstances(h.ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	sort.SliceStable(tis, func(a, b int) bool {
		if tis[a].Group != tis[b].Group {
			return tis[a].Group < tis[b].Group
		}
		return tis[a].TaskID < tis[b].TaskID
	})
	var parts []string
	for _, ti := range tis {
		s := ti.TaskID + "=" + ti.State
		switch {
		case ti.Validation:
			s = ti.TaskID + "+validation=" + ti.State
		case ti.ResumeOf != 0:
			s = ti.TaskID + "+forced=" + ti.State
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

const (
	ok    = `{script: {type: text/javascript, source: "logger.info('ok')"}}`
	throw = `{script: {type: text/javascript, source: "throw new Error('export failed')"}}`
)

func task(id, typ string, level int, extra string) string {
	return "  - {id: " + id + ", type: " + typ + ", level: " + strconv.Itoa(level) + extra + "}\n"
}

func scriptTask(id, typ string, level int, ctx, extra string) string {
	return task(id, typ, level, ", invokeService: script, invokeContext: "+ctx+extra)
}

func syncTask(id, typ string, level int, mapping, extra string) string {
	return task(id, typ, level, ", invokeService: sync, invokeContext: {mapping: "+mapping+"}"+extra)
}

// TestStateTable is the seed's state table, each outcome end to end.
func TestStateTable(t *testing.T) {
	for _, tc := range []struct {
		name, tasks string
		seed        func(h *harness)
		state       string
		stoppedAt   string
		tis         string
	}{
		{
			name:  "every task succeeds: the job completes",
			tasks: scriptTask("Export", "export", 0, ok, "") + scriptTask("Prepare", "prepareSynchronization", 1, ok, ", dependsOn: [Export]") + syncTask("Sync", "synchronize", 2, "csv_user", ", dependsOn: [Prepare], thresholds: {maxInsertedPercent: 0}"),
			seed:  func(h *harness) { h.seed("csv", "a", "b") },
			state: store.JobCompleted,
			tis:   "Export=completed Prepare=completed Sync=completed",
		},
		{
			name:      "an error stops the job after its group",
			tasks:     scriptTask("Export", "export", 0, throw, "") + scriptTask("Other", "script", 0, ok, "") + scriptTask("Later", "script", 1, ok, ""),
			state:     store.JobErrored,
			stoppedAt: "Export",
			tis:       "Export=errored Other=completed",
		},
		{
			name:  "continueOnError makes an export error a warning; the job goes on, its children are skipped",
			tasks: scriptTask("Export", "export", 0, throw, ", continueOnError: true") + scriptTask("Child", "script", 1, ok, ", dependsOn: [Export]") + scriptTask("Grandchild", "script", 2, ok, ", dependsOn: [Child]") + scriptTask("Other", "script", 2, ok, ""),
			state: store.JobWarning,
			tis:   "Export=warning Child=skipped Grandchild=skipped Other=completed",
		},
		{
			name:      "a synchronization over its deletion threshold blocks, nothing applied",
			tasks:     syncTask("Sync", "synchronize", 0, "csv_user", ", thresholds: {maxDeleted: 2}") + scriptTask("After", "script", 1, ok, ""),
			seed:      func(h *harness) { h.seed("csv", "a"); h.seed("user", "a", "x", "y", "z") },
			state:     store.JobBlocked,
			stoppedAt: "Sync",
			tis:       "Sync=blocked",
		},
		{
			name:  "a percentage threshold counts against the target's objects",
			tasks: syncTask("Sync", "synchronize", 0, "csv_user", ", thresholds: {maxInserted: 0, maxInsertedPercent: 50}"),
			seed:  func(h *harness) { h.seed("csv", "a", "b", "c", "d"); h.seed("user", "a", "b", "c") },
			state: store.JobCompleted, // 1 of 3 = 33 % ≤ 50 %
			tis:   "Sync=completed",
		},
		{
			name:      "an empty target makes any creation exceed a percentage",
			tasks:     syncTask("Sync", "synchronize", 0, "csv_user", ""),
			seed:      func(h *harness) { h.seed("csv", "a") },
			state:     store.JobBlocked,
			stoppedAt: "Sync",
			tis:       "Sync=blocked",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			if tc.seed != nil {
				tc.seed(h)
			}
			j := h.job("id: j\ntasks:\n" + tc.tasks)
			ji := h.run(j, jobs.StartOptions{})
			if ji.State != tc.state || ji.StoppedAt != tc.stoppedAt || ji.Ended.IsZero() {
				t.Errorf("job instance %s stopped at %q (%s), want %s at %q", ji.State, ji.StoppedAt, ji.Message, tc.state, tc.stoppedAt)
			}
			if got := h.states(ji.ID); got != tc.tis {
				t.Errorf("task instances %q, want %q", got, tc.tis)
			}
		})
	}
}

// TestResumeSynchronize: a blocked synchronization's staged changes are
// reviewable, a resume applies exactly them (a validation task instance)
// and runs the tasks that had not started, in the same job instance.
func TestResumeSynchronize(t *testing.T) {
	h := newHarness(t)
	h.seed("csv", "a")
	h.seed("user", "a", "x", "y", "z")
	j := h.job("id: j\ntasks:\n" + scriptTask("Export", "export", 0, ok, "") + syncTask("Sync", "synchronize", 1, "csv_user", ", dependsOn: [Export], thresholds: {maxDeleted: 2}") +
		scriptTask("Roles", "computeRoleModel", 2, ok, ", dependsOn: [Sync]"))
	ji := h.run(j, jobs.StartOptions{})
	if ji.State != store.JobBlocked || !strings.Contains(ji.Message, "3 deleted > max 2") {
		t.Fatalf("job instance %s: %s", ji.State, ji.Message)
	}
	if n := h.count("user"); n != 4 {
		t.Fatalf("a blocked synchronization applied changes: %d users", n)
	}
	tis, _ := h.db.ListTaskInstances(h.ctx, ji.ID)
	blocked := tis[1]
	if blocked.Counters.Deleted != 3 || blocked.ReconID == "" {
		t.Fatalf("blocked task instance %+v", blocked)
	}
	changes, err := h.sync.Changes(h.ctx, blocked.ReconID)
	if err != nil || len(changes) != 3 || changes[0].Action != "delete" {
		t.Fatalf("staged changes %+v, %v", changes, err)
	}

	if _, err := h.eng.Resume(h.ctx, ji.ID); err != nil {
		t.Fatal(err)
	}
	ji, err = h.eng.Wait(h.ctx, ji.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ji.State != store.JobCompleted || ji.Resumed != 1 {
		t.Errorf("resumed job instance %s (%s), resumed %d", ji.State, ji.Message, ji.Resumed)
	}
	if got, want := h.states(ji.ID), "Export=completed Sync=blocked Sync+validation=completed Roles=completed"; got != want {
		t.Errorf("task instances %q, want %q", got, want)
	}
	if n := h.count("user"); n != 1 {
		t.Errorf("after the validation %d users, want 1", n)
	}
	if _, err := h.eng.Resume(h.ctx, ji.ID); err == nil {
		t.Error("a completed instance was resumed")
	}
}

// TestResumeProvisioning: a blocked provisioning task is rerun forced.
func TestResumeProvisioning(t *testing.T) {
	h := newHarness(t)
	h.seed("user", "a", "b", "c", "d")
	h.seed("ldap", "a", "b", "c")
	j := h.job("id: j\ntasks:\n" + syncTask("Provision", "generateProvisioningOrders", 0, "user_ldap", ", thresholds: {maxInsertedPercent: 10}") + scriptTask("Fulfill", "fulfill", 1, ok, ""))
	ji := h.run(j, jobs.StartOptions{})
	if ji.State != store.JobBlocked || h.count("ldap") != 3 {
		t.Fatalf("job instance %s (%s), %d ldap entries", ji.State, ji.Message, h.count("ldap"))
	}
	applies := h.sync.applies.Load()
	if _, err := h.eng.Resume(h.ctx, ji.ID); err != nil {
		t.Fatal(err)
	}
	ji, _ = h.eng.Wait(h.ctx, ji.ID)
	if got, want := h.states(ji.ID), "Provision=blocked Provision+forced=completed Fulfill=completed"; got != want || ji.State != store.JobCompleted {
		t.Errorf("%s: task instances %q, want %q", ji.State, got, want)
	}
	tis, _ := h.db.ListTaskInstances(h.ctx, ji.ID)
	if !tis[1].Forced || h.count("ldap") != 4 || h.sync.applies.Load() != applies+1 {
		t.Errorf("forced run %+v; %d ldap entries", tis[1], h.count("ldap"))
	}
}

// TestForce: a forced launch applies past the thresholds.
func TestForce(t *testing.T) {
	h := newHarness(t)
	h.seed("csv", "a", "b")
	j := h.job("id: j\ntasks:\n" + syncTask("Sync", "synchronize", 0, "csv_user", ""))
	ji := h.run(j, jobs.StartOptions{Force: true})
	if ji.State != store.JobCompleted || h.count("user") != 2 {
		t.Errorf("forced launch %s (%s); %d users", ji.State, ji.Message, h.count("user"))
	}
}

// TestCancelDuringGroup: the running task finishes, the next group never
// starts, and a task of the group still waiting for the pool does not
// start either.
func TestCancelDuringGroup(t *testing.T) {
	h := newHarness(t)
	live := `{action: liveSync, source: system/ldap/account}`
	j := h.job("id: j\ntasks:\n" + task("Live", "liveSync", 0, ", invokeService: provisioner, invokeContext: "+live) + scriptTask("Next", "script", 1, ok, ""))
	ji, err := h.eng.Start(h.ctx, j, jobs.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.gate.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the task never started")
	}
	got, err := h.eng.Cancel(h.ctx, ji.ID)
	if err != nil || !got.CancelRequested {
		t.Fatalf("cancel: %+v, %v", got, err)
	}
	close(h.gate.release)
	ji, _ = h.eng.Wait(h.ctx, ji.ID)
	if ji.State != store.JobCancelled {
		t.Errorf("job instance %s: %s", ji.State, ji.Message)
	}
	if got := h.states(ji.ID); got != "Live=completed" {
		t.Errorf("task instances %q", got)
	}
	if _, err := h.eng.Cancel(h.ctx, ji.ID); err == nil {
		t.Error("a cancelled instance accepted another cancel")
	}
}

// TestInterrupted: the node stopping ends the instance interrupted at the
// task it was running.
func TestInterrupted(t *testing.T) {
	h := newHarness(t)
	live := `{action: liveSync, source: system/ldap/account}`
	j := h.job("id: j\ntasks:\n" + task("Live", "liveSync", 0, ", invokeService: provisioner, invokeContext: "+live))
	ctx, stop := context.WithCancel(h.ctx)
	ji, err := h.eng.Start(ctx, j, jobs.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	<-h.gate.entered
	stop()
	ji, _ = h.eng.Wait(h.ctx, ji.ID)
	if ji.State != store.JobInterrupted || ji.StoppedAt != "Live" {
		t.Errorf("job instance %s at %q: %s", ji.State, ji.StoppedAt, ji.Message)
	}
}

// TestSelectors: begin and end steps, a single task, the first task of a
// type, the tasks whose id contains a text; parents left out do not skip.
func TestSelectors(t *testing.T) {
	body := "id: j\ntasks:\n" + scriptTask("AD_Export", "export", 0, ok, "") + scriptTask("HR_Export", "export", 0, ok, "") +
		scriptTask("AD_Prepare", "prepareSynchronization", 1, ok, ", dependsOn: [AD_Export]") + scriptTask("Roles", "computeRoleModel", 2, ok, "") +
		scriptTask("AD_Fulfill", "fulfill", 3, ok, "")
	for _, tc := range []struct {
		name string
		o    jobs.StartOptions
		tis  string
		err  string
	}{
		{"all", jobs.StartOptions{}, "AD_Export=completed HR_Export=completed AD_Prepare=completed Roles=completed AD_Fulfill=completed", ""},
		{"begin and end by order", jobs.StartOptions{Begin: "1", End: "2"}, "AD_Prepare=completed Roles=completed", ""},
		{"begin by task id", jobs.StartOptions{Begin: "Roles"}, "Roles=completed AD_Fulfill=completed", ""},
		{"single task", jobs.StartOptions{Task: "HR_Export"}, "HR_Export=completed", ""},
		{"first of a type", jobs.StartOptions{Type: "export"}, "AD_Export=completed", ""},
		{"id contains", jobs.StartOptions{Contains: "AD_"}, "AD_Export=completed AD_Prepare=completed AD_Fulfill=completed", ""},
		{"contains inside a window", jobs.StartOptions{Contains: "AD_", Begin: "1"}, "AD_Prepare=completed AD_Fulfill=completed", ""},
		{"two selectors", jobs.StartOptions{Task: "Roles", Type: "export"}, "", "choose one of"},
		{"unknown step", jobs.StartOptions{Begin: "Nope"}, "", `begin step "Nope" is neither`},
		{"end before begin", jobs.StartOptions{Begin: "3", End: "1"}, "", "is after the end step"},
		{"nothing selected", jobs.StartOptions{Type: "synchronize"}, "", "no task of job j is selected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			ji, err := h.eng.Run(h.ctx, h.job(body), tc.o)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := h.states(ji.ID); got != tc.tis || ji.State != store.JobCompleted {
				t.Errorf("%s: task instances %q, want %q", ji.State, got, tc.tis)
			}
		})
	}
}

// TestPlan: levels group, maxParallel splits, no levels means document
// order.
func TestPlan(t *testing.T) {
	h := newHarness(t)
	j := h.job("id: j\nmaxParallel: 2\ntasks:\n" + scriptTask("A", "script", 5, ok, "") + scriptTask("B", "script", 1, ok, "") +
		scriptTask("C", "script", 1, ok, "") + scriptTask("D", "script", 1, ok, "") + scriptTask("E", "script", 5, ok, ""))
	if got, want := renderPlan(j), "0:B,C 1:D 2:A,E"; got != want {
		t.Errorf("plan %s, want %s", got, want)
	}
	j = h.job("id: j\ntasks:\n" +
		"  - {id: X, type: script, invokeService: script, invokeContext: " + ok + "}\n  - {id: Y, type: script, invokeService: script, invokeContext: " + ok + "}\n")
	if got, want := renderPlan(j), "0:X 1:Y"; got != want {
		t.Errorf("plan without levels %s, want %s", got, want)
	}
}

func renderPlan(j *config.Job) string {
	var parts []string
	for _, g := range jobs.Plan(j) {
		var ids []string
		for _, i := range g.Tasks {
			ids = append(ids, j.Tasks[i].ID)
		}
		parts = append(parts, strconv.Itoa(g.Order)+":"+strings.Join(ids, ","))
	}
	return strings.Join(parts, " ")
}

// TestDefinitionSnapshot: a resume runs the definition the instance
// started with, not a newer one.
func TestDefinitionSnapshot(t *testing.T) {
	h := newHarness(t)
	h.seed("csv", "a")
	j := h.job("id: j\ntasks:\n" + syncTask("Sync", "synchronize", 0, "csv_user", "") + scriptTask("After", "script", 1, ok, ""))
	ji := h.run(j, jobs.StartOptions{})
	if ji.State != store.JobBlocked {
		t.Fatalf("%s: %s", ji.State, ji.Message)
	}
	// The file changes meanwhile: the resumed instance does not see it.
	_ = h.job("id: j\ntasks:\n" + syncTask("Sync", "synchronize", 0, "csv_user", "") + scriptTask("After", "script", 1, throw, ""))
	if _, err := h.eng.Resume(h.ctx, ji.ID); err != nil {
		t.Fatal(err)
	}
	ji, _ = h.eng.Wait(h.ctx, ji.ID)
	if ji.State != store.JobCompleted {
		t.Errorf("%s: %s", ji.State, ji.Message)
	}
}

// TestManyJobsAtOnce: jobs started together share the pool and all end.
func TestManyJobsAtOnce(t *testing.T) {
	h := newHarness(t)
	j := h.job("id: j\ntasks:\n" + scriptTask("A", "script", 0, ok, "") + scriptTask("B", "script", 0, ok, "") + scriptTask("C", "script", 1, ok, ""))
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			ji, err := h.eng.Run(h.ctx, j, jobs.StartOptions{})
			if err == nil && ji.State != store.JobCompleted {
				err = &stateError{ji.State}
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

type stateError struct{ state string }

func (e *stateError) Error() string { return "job ended " + e.state }
