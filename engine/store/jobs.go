package store

import (
	"context"
	"fmt"
	"time"
)

// JobInstances stores the instances of multi-step jobs (engine/jobs): one
// row per launch of a job and one per task instance it ran, each a JSON
// document beside the columns that select it (job, state, node). Both
// backends implement it; JobInstancesOf finds it behind a Store.
//
// Errors wrap ErrNotFound (no such instance) or ErrInvalid.
type JobInstances interface {
	// CreateJobInstance inserts a job instance and returns it with its ID,
	// assigned by the database (ascending).
	CreateJobInstance(ctx context.Context, ji JobInstance) (JobInstance, error)
	// SaveJobInstance replaces the stored instance ji.ID, except its
	// CancelRequested flag, which only RequestJobCancel sets.
	SaveJobInstance(ctx context.Context, ji JobInstance) error
	// ReadJobInstance returns one job instance.
	ReadJobInstance(ctx context.Context, id int64) (JobInstance, error)
	// ListJobInstances returns job instances, newest first.
	ListJobInstances(ctx context.Context, params ListJobInstancesParams) ([]JobInstance, error)
	// RequestJobCancel sets the instance's CancelRequested flag and returns
	// the instance.
	RequestJobCancel(ctx context.Context, id int64) (JobInstance, error)
	// InterruptJobInstances marks interrupted, in one transaction, every
	// job instance of Node still running and its running task instances,
	// with a message naming the tasks that were running (or the group that
	// was next), and returns the job instances changed.
	InterruptJobInstances(ctx context.Context, params InterruptJobInstancesParams) ([]JobInstance, error)

	// CreateTaskInstance inserts a task instance and returns it with its ID.
	CreateTaskInstance(ctx context.Context, ti TaskInstance) (TaskInstance, error)
	// SaveTaskInstance replaces the stored task instance ti.ID.
	SaveTaskInstance(ctx context.Context, ti TaskInstance) error
	// ReadTaskInstance returns one task instance.
	ReadTaskInstance(ctx context.Context, id int64) (TaskInstance, error)
	// ListTaskInstances returns the task instances of a job instance, in ID
	// (creation) order.
	ListTaskInstances(ctx context.Context, jobInstanceID int64) ([]TaskInstance, error)
}

// JobInstancesOf returns the job-instance store of s.
func JobInstancesOf(s Store) (JobInstances, error) {
	j, ok := s.(JobInstances)
	if !ok {
		return nil, fmt.Errorf("%w: the %T store does not hold job instances", ErrInvalid, s)
	}
	return j, nil
}

// Job instance states. A task instance has the same final states, plus
// TaskSkipped.
const (
	JobRunning     = "running"
	JobCompleted   = "completed"
	JobWarning     = "warning"
	JobErrored     = "errored"
	JobBlocked     = "blocked"
	JobCancelled   = "cancelled"
	JobInterrupted = "interrupted"
	TaskSkipped    = "skipped"
)

// JobInstance is one launch of a job.
type JobInstance struct {
	ID    int64  `json:"id"`
	JobID string `json:"jobId"`
	State string `json:"state"`
	// Node is the node running (or that ran) the instance.
	Node      string    `json:"node"`
	Started   time.Time `json:"started"`
	Ended     time.Time `json:"ended,omitzero"`
	Heartbeat time.Time `json:"lastProgressUpdate,omitzero"`
	// CurrentGroup is the launch group running (1-based; 0 before the
	// first), TotalGroups how many the launch runs.
	CurrentGroup int `json:"currentLaunch"`
	TotalGroups  int `json:"totalLaunch"`
	// Message says how the instance ended, and for a blocked, errored or
	// interrupted one, at which task.
	Message string `json:"message,omitempty"`
	// StoppedAt is the task the instance stopped at ("" when it did not).
	StoppedAt       string `json:"stoppedAt,omitempty"`
	CancelRequested bool   `json:"cancelRequested"`
	// Resumed counts the resumes of a blocked instance.
	Resumed int `json:"resumed,omitempty"`
	// Options are the launch options as JSON (selectors, force), and
	// Definition the job's definition the instance runs, as JSON.
	Options    []byte `json:"-"`
	Definition []byte `json:"-"`
}

// TaskInstance is one task run by a job instance; validation and forced
// runs of a resume are task instances too, with no task of the job file of
// their own.
type TaskInstance struct {
	ID            int64     `json:"id"`
	JobInstanceID int64     `json:"jobInstanceId"`
	TaskID        string    `json:"taskId"`
	Type          string    `json:"type"`
	State         string    `json:"state"`
	Group         int       `json:"launchGroup"`
	Node          string    `json:"node"`
	Started       time.Time `json:"started,omitzero"`
	Ended         time.Time `json:"ended,omitzero"`
	// Validation marks a resume's application of the staged changes of a
	// blocked synchronize task; Forced a run with thresholds ignored.
	// ResumeOf is the blocked task instance such a run resumes.
	Validation bool  `json:"isValidation,omitempty"`
	Forced     bool  `json:"forced,omitempty"`
	ResumeOf   int64 `json:"resumeOf,omitempty"`
	// ReconID names the staged changes of a synchronization.
	ReconID  string       `json:"reconId,omitempty"`
	Counters TaskCounters `json:"counters"`
	Message  string       `json:"message,omitempty"`
	// Log holds the task's last MaxTaskLogLines lines.
	Log []string `json:"log,omitempty"`
}

// TaskCounters are what a synchronization planned or applied.
type TaskCounters struct {
	Created     int `json:"created"`
	Updated     int `json:"updated"`
	Deleted     int `json:"deleted"`
	SourceTotal int `json:"sourceTotal"`
	TargetTotal int `json:"targetTotal"`
}

// MaxTaskLogLines bounds TaskInstance.Log.
const MaxTaskLogLines = 200

// ListJobInstancesParams select job instances; zero fields select all.
type ListJobInstancesParams struct {
	JobID string
	State string
	// Limit bounds the answer (0: 1,000).
	Limit int
}

// InterruptJobInstancesParams name the node whose running instances are
// marked interrupted.
type InterruptJobInstancesParams struct {
	Node string
	Now  time.Time
}
