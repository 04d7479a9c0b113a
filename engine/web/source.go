package web

import (
	"context"
	"time"

	"sundial/engine/config"
	"sundial/engine/scheduler"
)

// Source is what the pages read; the daemon implements it over its
// scheduler, conf directory, store and cluster node. Actions never go
// through it: they call the same services as the REST API
// (api.Schedules, api.TaskScans).
type Source interface {
	// Schedules returns every schedule, sorted by id, with a row for each
	// invalid schedule file that has no good version running.
	Schedules(ctx context.Context) []ScheduleRow
	// Schedule returns the row of one schedule.
	Schedule(ctx context.Context, id string) (ScheduleRow, bool)
	// LastRuns returns the latest run of each of ids that has one.
	LastRuns(ctx context.Context, ids []string) map[string]RunView
	// Runs returns a schedule's recent runs, newest first.
	Runs(ctx context.Context, id string, limit int) ([]RunView, error)
	// Missed returns the fire times of a schedule that did not run (kept
	// in this node's memory), newest first.
	Missed(ctx context.Context, id string) []RunView
	// File returns a file of the conf directory by its path relative to
	// it.
	File(path string) ([]byte, error)
	// Config returns the state of the configuration.
	Config(ctx context.Context) ConfigView
	// Nodes returns the cluster's nodes (this one alone without a
	// cluster), ordered by id.
	Nodes(ctx context.Context) ([]NodeView, error)
}

// ScheduleRow is one schedule as the schedules page lists it.
type ScheduleRow struct {
	ID string
	// Schedule is the applied version; nil for an invalid file with no
	// good version.
	Schedule *config.Schedule
	Status   scheduler.Status
	Paused   bool
	Running  int
	Next     time.Time
	Previous time.Time
	// Runs, Failures and Skips count since this node started.
	Runs, Failures, Skips uint64
	// File is the schedule's file relative to the conf directory; "" for a
	// schedule created over REST.
	File string
	// Errors are the errors of the schedule's file (file:line:col:
	// message); the last good version, if any, keeps running.
	Errors []string
	// Location is the zone the trigger fires in.
	Location *time.Location
}

// RunView is one run, or fire times that did not run (Outcome skipped).
type RunView struct {
	FireID     string
	ScheduleID string
	Scheduled  time.Time
	Started    time.Time // zero for a skipped fire
	Ended      time.Time // zero while running
	// Outcome: running, success, error, cancelled, abandoned, skipped.
	Outcome string
	Node    string
	Error   string
	Manual  bool
	// Reason and Skipped are set for a skipped fire: why, and how many
	// fire times the record stands for.
	Reason  string
	Skipped int
}

// Delay is how late the run started.
func (r RunView) Delay() time.Duration {
	if r.Started.IsZero() {
		return 0
	}
	return r.Started.Sub(r.Scheduled)
}

// Duration is how long the run took (0 while running).
func (r RunView) Duration() time.Duration {
	if r.Ended.IsZero() || r.Started.IsZero() {
		return 0
	}
	return r.Ended.Sub(r.Started)
}

// ConfigView is the configuration's state.
type ConfigView struct {
	Dir       string
	Hash      string
	AppliedAt time.Time
	// ThreadCount is scheduler.json's threadPool.threadCount.
	ThreadCount int
	// Invalid are the files that failed validation, by path.
	Invalid []InvalidFile
	// Reloads are the latest reloads, newest first.
	Reloads []Reload
}

// InvalidFile is a file that failed validation.
type InvalidFile struct {
	Path   string
	Errors []string
	// LastGood is the definition of the version that keeps running, as
	// indented JSON; "" when none does.
	LastGood string
}

// Reload is one load of the conf directory.
type Reload struct {
	At time.Time
	// Result: applied, unchanged, invalid or failed.
	Result string
	Hash   string
	Error  string
}

// NodeView is one node of the cluster.
type NodeView struct {
	ID    string
	State string // active, dead
	// Self is the node serving the page.
	Self       bool
	CheckInAge time.Duration
	Skew       time.Duration
	Fenced     bool
	ConfigHash string
	// Running are the fire ids the node runs.
	Running []string
}
