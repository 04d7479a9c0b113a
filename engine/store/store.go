package store

import (
	"context"
)

// Store is Sundial's persistence. Implementations are safe for concurrent use
// by many goroutines, and several Store values (in one process or many) may
// share one database: every guarantee below holds across them.
//
// Batch methods (UpsertTriggers, ClaimFires, FinishRuns) return one result
// per input item, in input order; an item's Err is nil, or wraps
// ErrConflict, ErrNotFound or ErrAlreadyFired. The method's own error is for
// failures of the whole call (database unreachable, invalid params), in
// which case nothing was written. Each call is one transaction.
type Store interface {
	// Close releases the handle's connections. It is idempotent.
	Close() error

	// UpsertTriggers inserts or updates the triggers of persisted schedules
	// defined in config files, keyed by schedule id. An unknown id is inserted
	// (state waiting, or complete without a next fire time). A known id with the
	// same ConfigHash is left untouched, so its fire state survives restarts and
	// concurrent starts of several nodes; with a different ConfigHash the
	// definition, next fire time and data are replaced, counters and paused
	// are kept, and the revision is bumped.
	UpsertTriggers(ctx context.Context, params UpsertTriggersParams) ([]UpsertTriggerResult, error)
	// ListTriggers returns the triggers (every one, or those of
	// ScheduleIDs), ordered by schedule id.
	ListTriggers(ctx context.Context, params ListTriggersParams) ([]Trigger, error)
	// DeleteTriggers removes triggers (a schedule file was removed); it returns
	// how many existed. Runs stay in the history.
	DeleteTriggers(ctx context.Context, params DeleteTriggersParams) (int, error)
	// PauseTriggers sets or clears paused and returns the triggers changed,
	// each at a new revision, with a ChangePause entry in the change log for
	// each in the same transaction. A paused trigger refuses ClaimFires.
	PauseTriggers(ctx context.Context, params PauseTriggersParams) ([]Trigger, error)

	// ClaimFires records fires that the nodes' own schedulers found due:
	// every node keeps the schedule's timer and races for each fire, and the
	// store picks one. For each item, atomically, the fire is recorded (run
	// running under FireID, trigger advanced to the item's state, LastNodeID
	// = Node) only if the trigger has ConfigHash, is waiting and not paused,
	// its NextFireAt is set and not after ScheduledAt (no node has fired it
	// past this fire), and no run has the fire id. Items of one schedule
	// apply in order.
	// ErrAlreadyFired: the fire id was recorded before (Run is that run);
	// ErrConflict: the trigger refused (Trigger is its stored state, which
	// the loser should continue from); ErrNotFound: no such trigger.
	// Concurrent calls for the same trigger, from any Store sharing the
	// database, wait for each other, so exactly one of them records each
	// fire: a node executes a fire only after ClaimFires reported it
	// without an error.
	ClaimFires(ctx context.Context, params ClaimFiresParams) ([]ClaimResult, error)

	// StartRun records a run that does not come from a claimed fire (a
	// non-persisted schedule, a manual trigger). ErrAlreadyFired if the id is
	// taken.
	StartRun(ctx context.Context, params StartRunParams) (Run, error)
	// FinishRuns records outcomes. Each run must be running on Node
	// (ErrConflict otherwise, ErrNotFound if absent). A trigger blocked by the
	// run returns to waiting.
	FinishRuns(ctx context.Context, params FinishRunsParams) ([]FinishResult, error)
	// ListRuns returns the run history, newest scheduled time first.
	ListRuns(ctx context.Context, params ListRunsParams) ([]Run, error)
	// AbandonRuns marks every running run of Node abandoned and unblocks the
	// triggers they blocked. It returns the runs changed.
	AbandonRuns(ctx context.Context, params AbandonRunsParams) ([]Run, error)
	// PruneRuns applies the run history's retention: it deletes finished
	// runs that ended before EndedBefore, and those beyond the
	// KeepPerSchedule newest finished runs of their schedule (by scheduled
	// time), at most Limit rows per call, and returns how many it deleted.
	// Running runs are never deleted, and deleting history never lets a fire
	// be claimed again (the triggers, not the runs, remember how far each
	// schedule has fired).
	//
	// A call deletes at most Limit rows in one short transaction, so that it
	// can run beside the fires: a background loop calls it with the same
	// params until it returns less than Limit, then waits (a minute, say)
	// before the next pass. Finding the runs beyond the count reads the
	// index of finished runs in schedule order until Limit are found, so a
	// pass with little to delete reads one index entry per run kept (about
	// schedules × KeepPerSchedule). Several nodes may prune at once; each
	// row is deleted once.
	PruneRuns(ctx context.Context, params PruneRunsParams) (int, error)

	// CheckIn records a node's heartbeat: the database's time and the node's
	// own, the config hash it applied. It returns the node as stored; its
	// WasDeclaredDead tells a node that the cluster recovered it meanwhile.
	CheckIn(ctx context.Context, params CheckInParams) (Node, error)
	// ListNodes returns every known node, ordered by id.
	ListNodes(ctx context.Context, params ListNodesParams) ([]Node, error)
	// DeadNodes returns active nodes whose last check-in, in database time, is
	// at least Timeout old.
	DeadNodes(ctx context.Context, params DeadNodesParams) ([]Node, error)
	// RecoverNode atomically hands Dead's running recoverable runs to
	// Recoverer (as recovery runs; exactly one recovering node gets each),
	// marks its other running runs abandoned (unblocking their triggers),
	// and marks the node dead. With StaleAfter > 0 it first checks, in
	// database time and under lock, that Dead's check-in is at least that
	// old, and returns ErrNodeAlive otherwise. A run whose end was recorded
	// is never handed out again.
	RecoverNode(ctx context.Context, params RecoverNodeParams) (Recovery, error)
	// ClaimUnclaimed hands the unclaimed runs (see RecoverNodeParams.Has) of
	// schedules Node has to Node as recovery runs (exactly one caller gets
	// each; Recovery.Recovered), and records abandoned (Recovery.Abandoned)
	// those whose schedule no node has (no trigger stored under its id) and,
	// with AbandonAfter, those Node cannot run that waited longer than that.
	ClaimUnclaimed(ctx context.Context, params ClaimUnclaimedParams) (Recovery, error)

	// PutAPISchedule creates or replaces a schedule created over REST, at
	// Rev 1 or the stored Rev + 1, and appends a ChangeSchedule entry to the
	// change log in the same transaction. A failed IfRev check writes
	// nothing and returns an *APIScheduleConflictError (ErrConflict).
	PutAPISchedule(ctx context.Context, params PutAPIScheduleParams) (APISchedule, error)
	// DeleteAPISchedule deletes a REST schedule and returns the deleted row,
	// appending a ChangeSchedule entry in the same transaction. ErrNotFound
	// if absent; an *APIScheduleConflictError if IfRev does not hold.
	DeleteAPISchedule(ctx context.Context, params DeleteAPIScheduleParams) (APISchedule, error)
	// ListAPISchedules returns the REST schedules (all, or those of IDs),
	// ordered by id.
	ListAPISchedules(ctx context.Context, params ListAPISchedulesParams) ([]APISchedule, error)
	// Changes returns, in seq order, the change log entries after AfterSeq
	// written by any Store sharing the database. A reader that polls it
	// from the LastSeq it was given never misses a committed entry: an
	// entry becomes readable only once every entry with a lower seq has
	// committed or rolled back. AfterSeq < 0 returns no items and the
	// current LastSeq. Reading nothing new is one index lookup.
	Changes(ctx context.Context, params ChangesParams) (Changes, error)
	// PruneChanges deletes change log entries recorded before Before, at
	// most Limit per call, and returns how many it deleted (a background
	// loop calls it like PruneRuns). A reader whose seq fell behind the
	// pruned entries misses them; readers poll far more often than entries
	// are pruned.
	PruneChanges(ctx context.Context, params PruneChangesParams) (int, error)
	// SigningKey returns the cluster's secret for signing API tokens (32
	// random bytes), creating it on the first call; every Store sharing the
	// database returns the same key.
	SigningKey(ctx context.Context) ([]byte, error)
}
