package config

import (
	"time"

	"sundial/engine/cron"
)

// Trigger types.
const (
	TypeCron   = "cron"
	TypeSimple = "simple"
)

// Misfire policies.
const (
	MisfireFireAndProceed = "fireAndProceed"
	MisfireDoNothing      = "doNothing"
)

// Desired is an immutable snapshot of a conf directory: what should run. It is
// the only input of the scheduler's Reconcile. Nothing in it may be modified
// after Load returns it.
type Desired struct {
	// Dir is the conf directory the snapshot was loaded from.
	Dir string
	// Scheduler is scheduler.json with defaults applied.
	Scheduler SchedulerConfig
	// Schedules by id. For a file that failed validation this holds its last
	// good version when the loader was given one (see LoadOptions.Previous).
	Schedules map[string]*Schedule
	// Clients are the API clients of access.json (or .yaml), in file
	// order; nil without an access file. A bad access file keeps the
	// previous snapshot's clients.
	Clients []Client
	// Managed is managed.json: the declared managed object types.
	Managed ManagedConfig
	// Jobs are the job-<id> files' multi-step jobs, by id (a file that
	// failed keeps its last good version, as schedules do). A job's own
	// schedule key is in Schedules as JobScheduleID(id).
	Jobs map[string]*Job
	// Mappings are sync.json's mappings, in file order; nil without the
	// file. A bad sync file keeps the previous snapshot's mappings.
	Mappings []*Mapping
	// Provisioners are the provisioner.openicf-<name> files, by
	// provisioner name. A bad file keeps its previous version.
	Provisioners map[string]*Provisioner
	// Properties are the resolved boot properties (boot.properties over
	// built-in defaults; the environment wins over both).
	Properties map[string]string
	// Errors per file (path relative to Dir); a file with errors contributed
	// its last good version, or nothing.
	Errors map[string][]error
	// Warnings per file; they do not make the directory invalid.
	Warnings map[string][]error
	// Hash is a content hash of every file that made the snapshot, so a
	// cluster can record which config version each node applied.
	Hash string
}

// SchedulerConfig is scheduler.json. DefaultSchedulerConfig gives the
// values used when there is no scheduler.json.
type SchedulerConfig struct {
	ThreadCount                int            // threadPool.threadCount, default 10
	ExecutePersistentSchedules bool           // scheduler.executePersistentSchedules, default true
	MisfireThreshold           time.Duration  // advancedProperties, default 10s
	Location                   *time.Location // zone for Time.nowWithOffset and schedules without timeZone
}

// Schedule is one validated schedule-<id>.json|yaml file, with IDM's defaults
// applied.
type Schedule struct {
	ID   string // <id> from schedule-<id>.json
	File string // path relative to the conf directory
	// Hash is the sha256 hex of the file's bytes, the values of the
	// properties it references and its effective zone: equal hash =
	// unchanged schedule. A different hash may still be a cosmetic change
	// (comments, layout); Equal and Diff compare meaning.
	Hash string

	Enabled             bool
	Persisted           bool
	Recoverable         bool
	ConcurrentExecution bool
	// How StartTime and EndTime were written, for Config. (They fit in
	// the padding after the bools.)
	startForm, endForm timeForm

	Type     string           // TypeCron or TypeSimple
	CronSpec string           // the "schedule" key, for cron
	Cron     *cron.Expression // parsed CronSpec, for cron

	RepeatInterval time.Duration // simple: between fires; 0 = all at once
	RepeatCount    int           // simple: repeats after the first fire; -1 = forever

	StartTime time.Time // zero when unset
	EndTime   time.Time // zero when unset

	Location      *time.Location // timeZone, or the scheduler's default zone
	TimeZone      string         // the timeZone key as written ("" when absent)
	MisfirePolicy string         // MisfireFireAndProceed or MisfireDoNothing

	InvokeService  string        // short name: script, taskscanner, sync, provisioner, job, or as written when unknown
	InvokeContext  InvokeContext // as written, after property substitution; decoded by the service that runs it
	InvokeLogLevel string        // trace, debug, info, warn, error, fatal
	Description    string        // Sundial's addition, optional

	// The normalised ForgeRock resource shape for the REST API is built by
	// the Config method.

	// Warnings are the schedule's warnings (e.g. an unknown service); they
	// are also in Desired.Warnings under the schedule's file.
	Warnings []error
}
