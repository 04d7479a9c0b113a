package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"sundial/engine/clock"
	"sundial/engine/config"
	"sundial/engine/store"
)

// Service runs one task's invokeService (script, taskscanner, ...). A
// returned error fails the task.
type Service func(ctx context.Context, call Call) error

// Call is one task run as a Service receives it.
type Call struct {
	JobID          string
	JobInstanceID  int64
	TaskInstanceID int64
	Task           config.JobTask
}

// Options configure an Engine.
type Options struct {
	Store    store.JobInstances
	Services map[string]Service // by short service name
	// Sync runs the reconciliations; nil fails every task that needs one.
	Sync Synchronizer
	// Workers is the pool's size, shared by every job (default 10, the
	// scheduler's default threadCount).
	Workers int
	Node    string
	Clock   clock.Clock
	Logger  *slog.Logger
}

// Engine starts, cancels and resumes job instances on one node.
type Engine struct {
	opts Options
	log  *slog.Logger
	pool chan struct{} // one token per running task

	mu   sync.Mutex
	runs map[int64]*run // the instances running on this node
	wg   sync.WaitGroup
}

// Errors of the engine's calls, besides ErrInvalidOptions and the store's.
var (
	ErrNotBlocked = errors.New("job instance is not blocked")
	ErrFinished   = errors.New("job instance is over")
)

// New returns an engine.
func New(opts Options) *Engine {
	if opts.Workers <= 0 {
		opts.Workers = 10
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Engine{opts: opts, log: opts.Logger, pool: make(chan struct{}, opts.Workers), runs: map[int64]*run{}}
}

// run is one job instance running on this node.
type run struct {
	e      *Engine
	job    *config.Job
	groups []Group
	ji     store.JobInstance
	force  bool // thresholds off for the launch (StartOptions.Force)
	// states is each task's latest outcome in this instance, by task id.
	states    map[string]string
	started   map[string]bool // tasks that have a task instance
	cancel    chan struct{}   // closed by a cancel request
	cancelled sync.Once
	done      chan struct{} // closed when the run ends
}

// Start creates a job instance of j and runs it in the background; it
// returns the instance as created. ctx bounds the run itself: cancelling
// it (the node stopping) stops the tasks, and the instance ends
// interrupted.
func (e *Engine) Start(ctx context.Context, j *config.Job, o StartOptions) (store.JobInstance, error) {
	groups, err := launchPlan(j, o)
	if err != nil {
		return store.JobInstance{}, err
	}
	def, err := json.Marshal(j)
	if err != nil {
		return store.JobInstance{}, fmt.Errorf("start job %s: %w", j.ID, err)
	}
	optsJSON, _ := json.Marshal(o)
	now := e.opts.Clock.Now()
	ji, err := e.opts.Store.CreateJobInstance(ctx, store.JobInstance{JobID: j.ID, State: store.JobRunning, Node: e.opts.Node,
		Started: now, Heartbeat: now, TotalGroups: len(groups), Options: optsJSON, Definition: def})
	if err != nil {
		return store.JobInstance{}, err
	}
	r := e.newRun(j, groups, ji, o.Force)
	e.launch(ctx, r, func(ctx context.Context) { r.groupsFrom(ctx, 0) })
	return ji, nil
}

// Run is Start, then waits for the instance's end.
func (e *Engine) Run(ctx context.Context, j *config.Job, o StartOptions) (store.JobInstance, error) {
	ji, err := e.Start(ctx, j, o)
	if err != nil {
		return ji, err
	}
	return e.Wait(ctx, ji.ID)
}

// Wait waits for the end of a job instance running on this node, then
// returns it as stored; an instance not running here is returned at once.
func (e *Engine) Wait(ctx context.Context, id int64) (store.JobInstance, error) {
	e.mu.Lock()
	r := e.runs[id]
	e.mu.Unlock()
	if r != nil {
		select {
		case <-r.done:
		case <-ctx.Done():
			return store.JobInstance{}, ctx.Err()
		}
	}
	return e.opts.Store.ReadJobInstance(context.WithoutCancel(ctx), id)
}

// Cancel asks a running job instance to stop: its running tasks finish,
// nothing more starts. An instance running on another node sees the
// request before its next group.
func (e *Engine) Cancel(ctx context.Context, id int64) (store.JobInstance, error) {
	ji, err := e.opts.Store.ReadJobInstance(ctx, id)
	if err != nil {
		return ji, err
	}
	if ji.State != store.JobRunning {
		return ji, fmt.Errorf("cancel job instance %d: %w: it ended %s", id, ErrFinished, ji.State)
	}
	if ji, err = e.opts.Store.RequestJobCancel(ctx, id); err != nil {
		return ji, err
	}
	e.mu.Lock()
	r := e.runs[id]
	e.mu.Unlock()
	if r != nil {
		r.requestCancel()
	}
	return ji, nil
}

// Resume continues a blocked job instance on the definition it started
// with: validation runs for its blocked synchronize tasks, forced runs for
// its blocked provisioning tasks, then the tasks that had not started. It
// returns the instance as it starts running again.
func (e *Engine) Resume(ctx context.Context, id int64) (store.JobInstance, error) {
	ji, err := e.opts.Store.ReadJobInstance(ctx, id)
	if err != nil {
		return ji, err
	}
	if ji.State != store.JobBlocked {
		return ji, fmt.Errorf("resume job instance %d: %w: it is %s", id, ErrNotBlocked, ji.State)
	}
	var j config.Job
	if err := json.Unmarshal(ji.Definition, &j); err != nil {
		return ji, fmt.Errorf("resume job instance %d: its definition: %w", id, err)
	}
	var o StartOptions
	if err := json.Unmarshal(ji.Options, &o); err != nil {
		return ji, fmt.Errorf("resume job instance %d: its options: %w", id, err)
	}
	groups, err := launchPlan(&j, o)
	if err != nil {
		return ji, fmt.Errorf("resume job instance %d: %w", id, err)
	}
	tasks, err := e.opts.Store.ListTaskInstances(ctx, id)
	if err != nil {
		return ji, err
	}
	r := e.newRun(&j, groups, ji, o.Force)
	// The run is registered before the instance is saved running, so that
	// a second resume of it on this node is refused.
	e.mu.Lock()
	_, already := e.runs[id]
	if !already {
		e.runs[id] = r
	}
	e.mu.Unlock()
	if already {
		return ji, fmt.Errorf("resume job instance %d: %w: it is being resumed", id, ErrNotBlocked)
	}
	ji.State, ji.Node, ji.Ended, ji.Message, ji.StoppedAt = store.JobRunning, e.opts.Node, time.Time{}, "", ""
	ji.Resumed++
	ji.Heartbeat = e.opts.Clock.Now()
	if err := e.opts.Store.SaveJobInstance(ctx, ji); err != nil {
		e.mu.Lock()
		delete(e.runs, id)
		e.mu.Unlock()
		return ji, err
	}
	r.ji = ji
	var blocked []store.TaskInstance
	for _, ti := range tasks {
		r.started[ti.TaskID] = true
		r.states[ti.TaskID] = ti.State
		if ti.State == store.JobBlocked {
			blocked = append(blocked, ti)
		}
		if ti.ResumeOf != 0 {
			// A validation or forced run that succeeded unblocked its task.
			r.states[ti.TaskID] = ti.State
			blocked = removeResumed(blocked, ti.ResumeOf, ti.State)
		}
	}
	from := max(ji.CurrentGroup-1, 0)
	e.launch(ctx, r, func(ctx context.Context) {
		if !r.repair(ctx, blocked) {
			return
		}
		r.groupsFrom(ctx, from)
	})
	return ji, nil
}

// removeResumed drops from blocked the task instance id once a resume run
// of it completed.
func removeResumed(blocked []store.TaskInstance, id int64, state string) []store.TaskInstance {
	if state != store.JobCompleted {
		return blocked
	}
	out := blocked[:0]
	for _, b := range blocked {
		if b.ID != id {
			out = append(out, b)
		}
	}
	return out
}

// Close waits for the runs of this node to end (their context ends them).
func (e *Engine) Close() { e.wg.Wait() }

func (e *Engine) newRun(j *config.Job, groups []Group, ji store.JobInstance, force bool) *run {
	return &run{e: e, job: j, groups: groups, ji: ji, force: force, states: map[string]string{}, started: map[string]bool{},
		cancel: make(chan struct{}), done: make(chan struct{})}
}

// launch runs body in the background as the instance's run, then ends it.
func (e *Engine) launch(ctx context.Context, r *run, body func(ctx context.Context)) {
	e.mu.Lock()
	e.runs[r.ji.ID] = r
	e.mu.Unlock()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer close(r.done)
		defer func() {
			e.mu.Lock()
			delete(e.runs, r.ji.ID)
			e.mu.Unlock()
		}()
		e.log.Info("job instance running", "job", r.job.ID, "job_instance_id", r.ji.ID, "groups", len(r.groups), "resumed", r.ji.Resumed)
		body(ctx)
		e.log.Info("job instance ended", "job", r.job.ID, "job_instance_id", r.ji.ID, "state", r.ji.State, "message", r.ji.Message)
	}()
}

func (r *run) requestCancel() { r.cancelled.Do(func() { close(r.cancel) }) }

func (r *run) isCancelled() bool {
	select {
	case <-r.cancel:
		return true
	default:
		return false
	}
}

// finish records the instance's end.
func (r *run) finish(ctx context.Context, state, stoppedAt, msg string) {
	r.ji.State, r.ji.StoppedAt, r.ji.Message = state, stoppedAt, msg
	r.ji.Ended = r.e.opts.Clock.Now()
	r.ji.Heartbeat = r.ji.Ended
	if err := r.e.opts.Store.SaveJobInstance(context.WithoutCancel(ctx), r.ji); err != nil {
		r.e.log.Error("cannot record a job instance's end", "job_instance_id", r.ji.ID, "state", state, "err", err)
	}
}

// checkCancel reads a cancel request made on another node.
func (r *run) checkCancel(ctx context.Context) bool {
	if r.isCancelled() {
		return true
	}
	ji, err := r.e.opts.Store.ReadJobInstance(ctx, r.ji.ID)
	if err == nil && ji.CancelRequested {
		r.requestCancel()
	}
	return r.isCancelled()
}

// groupsFrom runs the launch groups from index from, then ends the
// instance.
func (r *run) groupsFrom(ctx context.Context, from int) {
	warned := ""
	for _, st := range r.states {
		if st == store.JobWarning {
			warned = "some tasks ended in warning"
		}
	}
	for gi := from; gi < len(r.groups); gi++ {
		if ctx.Err() != nil {
			r.finish(ctx, store.JobInterrupted, "", fmt.Sprintf("interrupted: the node stopped before launch group %d of %d", gi+1, len(r.groups)))
			return
		}
		if r.checkCancel(ctx) {
			r.finish(ctx, store.JobCancelled, "", fmt.Sprintf("cancelled before launch group %d of %d", gi+1, len(r.groups)))
			return
		}
		r.ji.CurrentGroup = gi + 1
		r.ji.Heartbeat = r.e.opts.Clock.Now()
		if err := r.e.opts.Store.SaveJobInstance(ctx, r.ji); err != nil {
			r.finish(ctx, store.JobErrored, "", fmt.Sprintf("cannot record launch group %d: %v", gi+1, err))
			return
		}
		results := r.runGroup(ctx, r.groups[gi])
		var errored, blocked, warning, cancelled []string
		for _, res := range results {
			switch res.state {
			case store.JobErrored:
				errored = append(errored, res.task+": "+res.message)
			case store.JobBlocked:
				blocked = append(blocked, res.task+": "+res.message)
			case store.JobWarning:
				warning = append(warning, res.task)
			case store.JobCancelled:
				cancelled = append(cancelled, res.task)
			case store.JobInterrupted:
				r.finish(ctx, store.JobInterrupted, res.task, fmt.Sprintf("interrupted: the node stopped while running %s", res.task))
				return
			}
		}
		switch {
		case len(errored) > 0:
			r.finish(ctx, store.JobErrored, taskOf(errored[0]), "errored at "+errored[0])
			return
		case len(blocked) > 0:
			r.finish(ctx, store.JobBlocked, taskOf(blocked[0]), "blocked at "+blocked[0])
			return
		case len(cancelled) > 0 || r.isCancelled():
			r.finish(ctx, store.JobCancelled, "", fmt.Sprintf("cancelled during launch group %d of %d: its running tasks finished, nothing more started", gi+1, len(r.groups)))
			return
		}
		if len(warning) > 0 {
			warned = fmt.Sprintf("%d task(s) ended in warning, first %s", len(warning), warning[0])
		}
	}
	if warned != "" {
		r.finish(ctx, store.JobWarning, "", "completed with warnings: "+warned)
		return
	}
	r.finish(ctx, store.JobCompleted, "", "completed")
}

func taskOf(line string) string {
	for i := range len(line) {
		if line[i] == ':' {
			return line[:i]
		}
	}
	return line
}

type taskResult struct {
	task, state, message string
}

// runGroup runs a group's tasks in parallel on the pool and returns their
// outcomes, in the group's order.
func (r *run) runGroup(ctx context.Context, g Group) []taskResult {
	results := make([]taskResult, len(g.Tasks))
	var wg sync.WaitGroup
	var mu sync.Mutex // guards r.states
	for k, i := range g.Tasks {
		t := r.job.Tasks[i]
		if r.isStarted(t.ID) {
			// Resumed: the task ran before the block (and, if it was the
			// blocked one, its validation or forced run completed).
			results[k] = taskResult{task: t.ID, state: r.states[t.ID]}
			continue
		}
		mu.Lock()
		reason := r.parentProblem(t)
		mu.Unlock()
		if reason != "" {
			r.record(ctx, store.TaskInstance{TaskID: t.ID, Type: t.Type, State: store.TaskSkipped, Group: g.Order, Message: reason})
			mu.Lock()
			r.states[t.ID] = store.TaskSkipped
			mu.Unlock()
			results[k] = taskResult{task: t.ID, state: store.TaskSkipped, message: reason}
			continue
		}
		wg.Go(func() {
			select {
			case r.e.pool <- struct{}{}:
			case <-r.cancel:
				results[k] = taskResult{task: t.ID, state: store.JobCancelled}
				return
			case <-ctx.Done():
				results[k] = taskResult{task: t.ID, state: store.JobInterrupted}
				return
			}
			defer func() { <-r.e.pool }()
			if r.isCancelled() {
				results[k] = taskResult{task: t.ID, state: store.JobCancelled}
				return
			}
			res := r.runTask(ctx, t, g.Order, runKind{})
			mu.Lock()
			r.states[t.ID] = res.state
			mu.Unlock()
			results[k] = res
		})
	}
	wg.Wait()
	return results
}

// parentProblem says why t must be skipped ("" when it may run): a parent
// that ran in this instance and did not end completed (a warning is an
// error the job went on after: what the parent should have produced is
// missing, so its children do not run).
func (r *run) parentProblem(t config.JobTask) string {
	for _, p := range t.DependsOn {
		st, ran := r.states[p]
		if !ran || st == store.JobCompleted {
			continue
		}
		return fmt.Sprintf("skipped: parent task %s ended %s", p, st)
	}
	return ""
}

// record inserts a finished task instance (a skipped task).
func (r *run) record(ctx context.Context, ti store.TaskInstance) {
	now := r.e.opts.Clock.Now()
	ti.JobInstanceID, ti.Node, ti.Started, ti.Ended = r.ji.ID, r.e.opts.Node, now, now
	ti.Log = []string{ti.Message}
	if _, err := r.e.opts.Store.CreateTaskInstance(store.WithDeferredSync(ctx), ti); err != nil {
		r.e.log.Error("cannot record a skipped task", "job_instance_id", r.ji.ID, "task", ti.TaskID, "err", err)
	}
}

// runKind marks the virtual runs of a resume.
type runKind struct {
	validation bool               // apply the staged changes of resumeOf
	forced     bool               // thresholds ignored
	resumeOf   store.TaskInstance // the blocked task instance
}

// runTask runs one task as a new task instance and records its outcome.
func (r *run) runTask(ctx context.Context, t config.JobTask, order int, kind runKind) taskResult {
	wctx := store.WithDeferredSync(ctx)
	ti := store.TaskInstance{JobInstanceID: r.ji.ID, TaskID: t.ID, Type: t.Type, State: store.JobRunning, Group: order,
		Node: r.e.opts.Node, Started: r.e.opts.Clock.Now(), Validation: kind.validation, Forced: kind.forced || (config.HasThresholds(t.Type) && r.force),
		ResumeOf: kind.resumeOf.ID}
	ti, err := r.e.opts.Store.CreateTaskInstance(wctx, ti)
	if err != nil {
		return taskResult{task: t.ID, state: store.JobErrored, message: fmt.Sprintf("cannot record the task's start: %v", err)}
	}
	r.mark(t.ID)
	log := func(format string, args ...any) {
		ti.Log = append(ti.Log, r.e.opts.Clock.Now().UTC().Format(time.RFC3339Nano)+" "+fmt.Sprintf(format, args...))
	}
	switch {
	case kind.validation:
		log("validation of task instance %d: applying its staged changes %s", kind.resumeOf.ID, kind.resumeOf.ReconID)
	case kind.forced:
		log("forced run after task instance %d was blocked: thresholds ignored", kind.resumeOf.ID)
	default:
		log("started (launch group %d)", order)
	}
	state, msg := r.execute(ctx, t, &ti, kind, log)
	if ctx.Err() != nil && state == store.JobErrored {
		state, msg = store.JobInterrupted, "interrupted: the node stopped while the task ran"
	}
	ti.State, ti.Message, ti.Ended = state, msg, r.e.opts.Clock.Now()
	log("%s%s", state, prefixColon(msg))
	if err := r.e.opts.Store.SaveTaskInstance(store.WithDeferredSync(context.WithoutCancel(ctx)), ti); err != nil {
		r.e.log.Error("cannot record a task's end", "job_instance_id", r.ji.ID, "task_instance_id", ti.ID, "err", err)
	}
	r.e.log.Info("task ended", "job", r.job.ID, "job_instance_id", r.ji.ID, "task", t.ID, "task_instance_id", ti.ID, "state", state, "message", msg)
	return taskResult{task: t.ID, state: state, message: msg}
}

// mark notes that a task has an instance (so a resume does not start it
// again).
func (r *run) mark(task string) {
	r.e.mu.Lock()
	r.started[task] = true
	r.e.mu.Unlock()
}

func (r *run) isStarted(task string) bool {
	r.e.mu.Lock()
	defer r.e.mu.Unlock()
	return r.started[task]
}

func prefixColon(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

// execute runs the task's work and returns its state and message.
func (r *run) execute(ctx context.Context, t config.JobTask, ti *store.TaskInstance, kind runKind, log func(string, ...any)) (string, string) {
	fail := func(err error) (string, string) {
		if t.ContinueOnError {
			return store.JobWarning, "error (continueOnError): " + err.Error()
		}
		return store.JobErrored, err.Error()
	}
	if t.InvokeService == "sync" {
		s := r.e.opts.Sync
		if s == nil {
			return fail(errors.New("no synchronizer on this node: the sync service is not available"))
		}
		mapping, _ := t.InvokeContext.Map()["mapping"].(string)
		var out SyncOutcome
		var err error
		switch {
		case kind.validation:
			out, err = s.Apply(ctx, kind.resumeOf.ReconID)
		case kind.forced || ti.Forced || !config.HasThresholds(t.Type):
			out, err = s.Reconcile(ctx, mapping)
		default:
			out, err = s.Plan(ctx, mapping)
			if err == nil {
				setCounters(ti, out)
				log("planned %s: %d created, %d updated, %d deleted (source %d, target %d)", out.ReconID, out.Created, out.Updated, out.Deleted, out.SourceTotal, out.TargetTotal)
				if why := exceeded(t.Thresholds, out); why != "" {
					return store.JobBlocked, "threshold exceeded: " + why + "; the changes are staged, not applied"
				}
				out, err = s.Apply(ctx, out.ReconID)
			}
		}
		if err != nil {
			return fail(err)
		}
		setCounters(ti, out)
		log("applied %s: %d created, %d updated, %d deleted", out.ReconID, out.Created, out.Updated, out.Deleted)
		return store.JobCompleted, ""
	}
	svc := r.e.opts.Services[t.InvokeService]
	if svc == nil {
		return fail(fmt.Errorf("service %q is not available on this node", t.InvokeService))
	}
	err := svc(ctx, Call{JobID: r.job.ID, JobInstanceID: r.ji.ID, TaskInstanceID: ti.ID, Task: t})
	if err != nil {
		return fail(err)
	}
	return store.JobCompleted, ""
}

func setCounters(ti *store.TaskInstance, o SyncOutcome) {
	ti.ReconID = o.ReconID
	ti.Counters = store.TaskCounters{Created: o.Created, Updated: o.Updated, Deleted: o.Deleted, SourceTotal: o.SourceTotal, TargetTotal: o.TargetTotal}
}

// repair runs the resume runs of the blocked task instances; false when
// one failed (the instance is then ended errored).
func (r *run) repair(ctx context.Context, blocked []store.TaskInstance) bool {
	byID := map[string]config.JobTask{}
	for _, t := range r.job.Tasks {
		byID[t.ID] = t
	}
	for _, b := range blocked {
		t, ok := byID[b.TaskID]
		if !ok {
			r.finish(ctx, store.JobErrored, b.TaskID, fmt.Sprintf("cannot resume: task %s is not in the instance's definition", b.TaskID))
			return false
		}
		kind := runKind{resumeOf: b}
		if t.Type == config.TaskSynchronize {
			kind.validation = true
		} else {
			kind.forced = true
		}
		t.ContinueOnError = false
		res := r.runTask(ctx, t, b.Group, kind)
		r.states[t.ID] = res.state
		if res.state != store.JobCompleted {
			what := "validation"
			if kind.forced {
				what = "forced run"
			}
			state := store.JobErrored
			if res.state == store.JobInterrupted {
				state = store.JobInterrupted
			}
			r.finish(ctx, state, t.ID, fmt.Sprintf("the %s of %s ended %s%s", what, t.ID, res.state, prefixColon(res.message)))
			return false
		}
	}
	return true
}

// Running returns the ids of the job instances running on this node.
func (e *Engine) Running() []int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	ids := make([]int64, 0, len(e.runs))
	for id := range e.runs {
		ids = append(ids, id)
	}
	return ids
}
