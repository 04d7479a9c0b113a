package store

import (
	"context"
)

// Store is Sundial's persistence. Implementations are safe for concurrent use
// by many goroutines, and several Store values (in one process or many) may
// share one database: every guarantee below holds across them.
//
// Batch methods (UpsertTriggers, CompleteFires, ClaimFires, ReleaseTriggers, FinishRuns)
// return one result per input item, in input order; an item's Err is nil, or
// wraps ErrConflict, ErrNotFound or ErrAlreadyFired. The method's own error is
// for failures of the whole call (database unreachable, invalid params), in
// which case nothing was written.
type Store interface {
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// SchemaVersion returns the newest migration applied to the database.
	SchemaVersion(ctx context.Context) (int, error)
	// Close releases the handle's connections. It is idempotent.
	Close() error

	// UpsertTriggers inserts or updates the triggers of persisted schedules
	// defined in config files, keyed by schedule id. An unknown id is inserted
	// (state waiting, or complete without a next fire time). A known id with the
	// same ConfigHash is left untouched, so its fire state survives restarts and
	// concurrent starts of several nodes; with a different ConfigHash the
	// definition and next fire time are replaced, counters and paused are kept,
	// the revision is bumped (so a node holding it acquired cannot fire the old
	// definition) and an acquired trigger returns to waiting.
	UpsertTriggers(ctx context.Context, params UpsertTriggersParams) ([]UpsertTriggerResult, error)
	// GetTrigger returns one trigger or ErrNotFound.
	GetTrigger(ctx context.Context, params GetTriggerParams) (Trigger, error)
	// ListTriggers returns triggers ordered by schedule id.
	ListTriggers(ctx context.Context, params ListTriggersParams) ([]Trigger, error)
	// DeleteTriggers removes triggers (a schedule file was removed); it returns
	// how many existed. Runs stay in the history.
	DeleteTriggers(ctx context.Context, params DeleteTriggersParams) (int, error)
	// PauseTriggers sets or clears paused and returns the triggers changed. It
	// bumps the revision; a trigger acquired at that moment returns to waiting,
	// so its acquirer's CompleteFires fails with ErrConflict.
	PauseTriggers(ctx context.Context, params PauseTriggersParams) ([]Trigger, error)

	// AcquireDue claims up to Limit triggers that are waiting, not paused and
	// due by NoLaterThan (default Now) for Node, earliest first, and returns
	// them in that order. Each (trigger, scheduled time) is acquired by one
	// caller only, across every Store sharing the database.
	AcquireDue(ctx context.Context, params AcquireParams) ([]Acquired, error)
	// CompleteFires records the fires of acquired triggers: for each item whose
	// trigger is still acquired by Node at Revision it inserts the run under its
	// fire id and advances the trigger, in one transaction. ErrConflict: the
	// trigger was released, recovered, changed or paused meanwhile; nothing was
	// written. ErrAlreadyFired: the fire id was already recorded; the trigger
	// was advanced but the fire must not run.
	CompleteFires(ctx context.Context, params CompleteFiresParams) ([]FireResult, error)
	// ClaimFires records fires that the nodes' own schedulers found due,
	// without a prior AcquireDue: every node keeps the schedule's timer and
	// races for each fire, and the store picks one. For each item, in one
	// transaction per call, the fire is recorded (run running under FireID,
	// trigger advanced to the item's state, LastNodeID = Node) only if the
	// trigger has ConfigHash, is waiting and not paused, its NextFireAt is
	// set and not after ScheduledAt (no node has fired it past this fire),
	// and no run has the fire id. Items of one schedule apply in order.
	// ErrAlreadyFired: the fire id was recorded before (Run is that run);
	// ErrConflict: the trigger refused (Trigger is its stored state, which
	// the loser should continue from); ErrNotFound: no such trigger.
	// Concurrent calls for the same trigger wait for each other, so exactly
	// one of them records each fire.
	ClaimFires(ctx context.Context, params ClaimFiresParams) ([]ClaimResult, error)
	// ReleaseTriggers returns acquired triggers to waiting without firing
	// them, optionally with a new next fire time (a doNothing misfire).
	ReleaseTriggers(ctx context.Context, params ReleaseTriggersParams) ([]ReleaseResult, error)

	// StartRun records a run that does not come from an acquired trigger (a
	// non-persisted schedule, a manual trigger). ErrAlreadyFired if the id is
	// taken.
	StartRun(ctx context.Context, params StartRunParams) (Run, error)
	// FinishRuns records outcomes. Each run must be running on Node
	// (ErrConflict otherwise, ErrNotFound if absent). A trigger blocked by the
	// run returns to waiting.
	FinishRuns(ctx context.Context, params FinishRunsParams) ([]FinishResult, error)
	// GetRun returns one run or ErrNotFound.
	GetRun(ctx context.Context, params GetRunParams) (Run, error)
	// ListRuns returns runs newest scheduled time first.
	ListRuns(ctx context.Context, params ListRunsParams) ([]Run, error)
	// AbandonRuns marks running runs of Node abandoned (all of them, or the
	// IDs given) and unblocks triggers they blocked. It returns the runs changed.
	AbandonRuns(ctx context.Context, params AbandonRunsParams) ([]Run, error)
	// PruneRuns deletes finished runs that ended before a time; it returns how
	// many.
	PruneRuns(ctx context.Context, params PruneRunsParams) (int, error)

	// CreateSchedule stores a schedule created over the API; ErrAlreadyExists
	// if the id is taken.
	CreateSchedule(ctx context.Context, params CreateScheduleParams) (Schedule, error)
	// GetSchedule returns one schedule or ErrNotFound.
	GetSchedule(ctx context.Context, params GetScheduleParams) (Schedule, error)
	// ListSchedules returns schedules ordered by id.
	ListSchedules(ctx context.Context, params ListSchedulesParams) ([]Schedule, error)
	// UpdateSchedule replaces a schedule's config; with a Revision, only if it
	// still matches (ErrConflict otherwise).
	UpdateSchedule(ctx context.Context, params UpdateScheduleParams) (Schedule, error)
	// DeleteSchedule removes a schedule and its trigger, in one transaction;
	// with a Revision, only if it still matches.
	DeleteSchedule(ctx context.Context, params DeleteScheduleParams) error

	// CheckIn records a node's heartbeat: the database's time and the node's
	// own, the config hash it applied. It returns the node as stored; its
	// WasDeclaredDead tells a node that the cluster recovered it meanwhile.
	CheckIn(ctx context.Context, params CheckInParams) (Node, error)
	// ListNodes returns every known node, ordered by id.
	ListNodes(ctx context.Context, params ListNodesParams) ([]Node, error)
	// DeadNodes returns active nodes whose last check-in, in database time, is
	// at least Timeout old.
	DeadNodes(ctx context.Context, params DeadNodesParams) ([]Node, error)
	// RecoverNode atomically releases the triggers Dead has acquired, hands its
	// running recoverable runs to Recoverer (as recovery runs; exactly one
	// recovering node gets each), marks its other running runs abandoned, and
	// marks the node dead. With StaleAfter > 0 it first checks, in database
	// time and under lock, that Dead's check-in is at least that old, and
	// returns ErrNodeAlive otherwise.
	RecoverNode(ctx context.Context, params RecoverNodeParams) (Recovery, error)
	// ClaimUnclaimed hands the unclaimed runs (see RecoverNodeParams.Has) of
	// schedules Node has to Node as recovery runs (exactly one caller gets
	// each; Recovery.Recovered), and records abandoned (Recovery.Abandoned)
	// those whose schedule no node has (no trigger and no API schedule
	// stored under its id) and, with AbandonAfter, those Node cannot run
	// that waited longer than that.
	ClaimUnclaimed(ctx context.Context, params ClaimUnclaimedParams) (Recovery, error)
}
