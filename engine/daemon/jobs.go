package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"sundial/engine/actor"
	"sundial/engine/api"
	"sundial/engine/api/crest"
	"sundial/engine/config"
	"sundial/engine/jobs"
	"sundial/engine/scheduler"
	"sundial/engine/script"
	"sundial/engine/store"
	"sundial/engine/taskscanner"
)

// JobServiceName is the invokeService of a schedule that starts a job.
const JobServiceName = "job"

// newJobs makes the job engine over Options.DB (none with the memory
// store): its tasks run the scheduler's script and taskscanner services,
// its reconciliations Options.Synchronizer, on a pool of the first
// snapshot's threadCount. Job instances this node left running when it
// last stopped are marked interrupted first.
func (d *Daemon) newJobs(ctx context.Context, first *config.Desired) error {
	if d.opts.DB == nil {
		return nil
	}
	js, err := store.JobInstancesOf(d.opts.DB)
	if err != nil {
		return nil // a store without job tables: no jobs on this node
	}
	stale, err := js.InterruptJobInstances(ctx, store.InterruptJobInstancesParams{Node: d.nodeID})
	if err != nil {
		return fmt.Errorf("mark the job instances of the last run interrupted: %w", err)
	}
	for _, ji := range stale {
		d.log.Warn("job instance interrupted by the node's stop", "job", ji.JobID, "job_instance_id", ji.ID, "message", ji.Message)
	}
	service := func(svc scheduler.Service) jobs.Service {
		return func(ctx context.Context, c jobs.Call) error {
			now := d.opts.Clock.Now()
			id := fmt.Sprintf("%s/%s", config.JobScheduleID(c.JobID), c.Task.ID)
			return svc.Invoke(ctx, scheduler.Run{
				FireID:     fmt.Sprintf("%s#%d", id, c.TaskInstanceID),
				ScheduleID: id,
				Schedule: &config.Schedule{ID: id, Enabled: true, Type: config.TypeSimple, InvokeService: c.Task.InvokeService,
					InvokeContext: c.Task.InvokeContext, InvokeLogLevel: "info", Location: first.Scheduler.Location},
				ScheduledFireTime: now, ActualFireTime: now, Manual: true, NodeID: d.nodeID,
			})
		}
	}
	d.jobs = jobs.New(jobs.Options{
		Store: js,
		Services: map[string]jobs.Service{
			script.ServiceName:      service(scheduler.ServiceFunc(d.invokeScript)),
			taskscanner.ServiceName: service(d.scanner),
			syncServiceName:         service(scheduler.ServiceFunc(d.invokeSync)),
		},
		Sync:    d.synchronizer(),
		Workers: first.Scheduler.ThreadCount,
		Node:    d.nodeID,
		Clock:   d.opts.Clock,
		Logger:  d.log,
	})
	d.jobsJS = js
	return nil
}

// invokeJob is the "job" service: it runs the job its invokeContext names
// (the current snapshot's definition) and waits for its end. A job that
// ends completed or in warning is a successful run.
func (d *Daemon) invokeJob(ctx context.Context, run scheduler.Run) error {
	ctx = actor.With(ctx, scheduleActor(run))
	if d.jobs == nil {
		return errors.New("jobs need a store: this node runs with the memory store")
	}
	id, _ := run.Schedule.InvokeContext.Map()["job"].(string)
	j := d.current.Load().Jobs[id]
	if j == nil {
		return fmt.Errorf("job %q is not defined (no valid conf job-%s file)", id, id)
	}
	// The instance ends with the node or when the scheduler gives up on
	// the fire (its grace at the stop is over), whichever comes first.
	jctx, cancel := context.WithCancel(d.jobsCtx)
	defer cancel()
	defer context.AfterFunc(ctx, cancel)()
	ji, err := d.jobs.Run(jctx, j, jobs.StartOptions{})
	if err != nil {
		return err
	}
	switch ji.State {
	case store.JobCompleted, store.JobWarning:
		return nil
	}
	return fmt.Errorf("job instance %d of %s ended %s: %s", ji.ID, id, ji.State, ji.Message)
}

// mountJobs serves /openidm/jobs on mux.
func (d *Daemon) mountJobs(mux *http.ServeMux) {
	h := api.NewJobRuns(api.JobRunsOptions{Jobs: jobRuns{d}, Auth: d.auth, Logger: d.log})
	mux.Handle("/openidm/jobs/", h)
}

// jobRuns serves /openidm/jobs from the job engine and the current
// snapshot's job files.
type jobRuns struct{ d *Daemon }

var _ api.JobRuns = jobRuns{}

func (j jobRuns) ready() error {
	if j.d.jobs == nil {
		return crest.Errorf(http.StatusNotImplemented, "jobs need a store: this node runs with the memory store")
	}
	return nil
}

// jobView is a job definition as the API shows it: the definition and its
// launch plan, one step per task as job-steps prints it.
type jobView struct {
	*config.Job
	File  string      `json:"file"`
	Steps []jobs.Step `json:"steps"`
}

func (j jobRuns) Jobs(context.Context) ([]any, error) {
	cur := j.d.current.Load()
	var out []any
	for _, id := range cur.JobIDs() {
		job := cur.Jobs[id]
		out = append(out, jobView{Job: job, File: job.File, Steps: jobs.Steps(job)})
	}
	return out, nil
}

func (j jobRuns) Job(_ context.Context, id string) (any, error) {
	job := j.d.current.Load().Jobs[id]
	if job == nil {
		return nil, crest.NotFound("Job '%s' not found", id)
	}
	return jobView{Job: job, File: job.File, Steps: jobs.Steps(job)}, nil
}

func (j jobRuns) Start(ctx context.Context, id string, body []byte) (any, error) {
	if err := j.ready(); err != nil {
		return nil, err
	}
	job := j.d.current.Load().Jobs[id]
	if job == nil {
		return nil, crest.NotFound("Job '%s' not found", id)
	}
	var o jobs.StartOptions
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&o); err != nil {
			return nil, crest.BadRequest("launch options: %v", err)
		}
	}
	ji, err := j.d.jobs.Start(j.d.jobsCtx, job, o)
	return ji, jobError(err)
}

func (j jobRuns) Instances(ctx context.Context) ([]any, error) {
	if err := j.ready(); err != nil {
		return nil, err
	}
	list, err := j.d.jobsJS.ListJobInstances(ctx, store.ListJobInstancesParams{})
	return anys(list), jobError(err)
}

func (j jobRuns) Instance(ctx context.Context, id int64) (any, error) {
	if err := j.ready(); err != nil {
		return nil, err
	}
	ji, err := j.d.jobsJS.ReadJobInstance(ctx, id)
	return ji, jobError(err)
}

func (j jobRuns) Cancel(ctx context.Context, id int64) (any, error) {
	if err := j.ready(); err != nil {
		return nil, err
	}
	ji, err := j.d.jobs.Cancel(ctx, id)
	return ji, jobError(err)
}

func (j jobRuns) Resume(ctx context.Context, id int64) (any, error) {
	if err := j.ready(); err != nil {
		return nil, err
	}
	ji, err := j.d.jobs.Resume(j.d.jobsCtx, id)
	return ji, jobError(err)
}

func (j jobRuns) TaskInstances(ctx context.Context, id int64) ([]any, error) {
	if err := j.ready(); err != nil {
		return nil, err
	}
	if _, err := j.d.jobsJS.ReadJobInstance(ctx, id); err != nil {
		return nil, jobError(err)
	}
	list, err := j.d.jobsJS.ListTaskInstances(ctx, id)
	return anys(list), jobError(err)
}

func (j jobRuns) TaskInstance(ctx context.Context, id int64) (any, error) {
	if err := j.ready(); err != nil {
		return nil, err
	}
	ti, err := j.d.jobsJS.ReadTaskInstance(ctx, id)
	return ti, jobError(err)
}

func (j jobRuns) Changes(ctx context.Context, id int64) ([]any, error) {
	if err := j.ready(); err != nil {
		return nil, err
	}
	ti, err := j.d.jobsJS.ReadTaskInstance(ctx, id)
	if err != nil {
		return nil, jobError(err)
	}
	if ti.State != store.JobBlocked || ti.ReconID == "" {
		return nil, crest.Conflict("task instance %d is %s: only a blocked synchronization has staged changes", id, ti.State)
	}
	sync := j.d.synchronizer()
	if sync == nil {
		return nil, crest.Errorf(http.StatusNotImplemented, "no synchronizer on this node")
	}
	changes, err := sync.Changes(ctx, ti.ReconID)
	return anys(changes), err
}

func anys[T any](list []T) []any {
	out := make([]any, len(list))
	for i, v := range list {
		out[i] = v
	}
	return out
}

// jobError turns the engine's and the store's errors into CREST errors.
func jobError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return crest.NotFound("%v", err)
	case errors.Is(err, jobs.ErrInvalidOptions):
		return crest.BadRequest("%v", err)
	case errors.Is(err, jobs.ErrNotBlocked), errors.Is(err, jobs.ErrFinished):
		return crest.Conflict("%v", err)
	}
	return err
}
