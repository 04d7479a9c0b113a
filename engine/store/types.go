package store

import (
	"encoding/json"
	"fmt"
	"time"
)

// TriggerState is where a persisted trigger is in its life.
type TriggerState string

// Trigger states.
const (
	// TriggerWaiting: its next fire may be claimed once due (unless paused).
	TriggerWaiting TriggerState = "waiting"
	// TriggerBlocked: fired with concurrentExecution false and its run
	// (BlockingRunID) has not finished; FinishRuns returns it to waiting.
	TriggerBlocked TriggerState = "blocked"
	// TriggerComplete: no more fires (a one-shot fired, or past its end time).
	TriggerComplete TriggerState = "complete"
)

// Trigger is the stored state of one persisted schedule's trigger.
type Trigger struct {
	ScheduleID string
	// Definition is the schedule as the scheduler persisted it (JSON, opaque
	// to the store); ConfigHash identifies it.
	Definition json.RawMessage
	ConfigHash string

	State  TriggerState
	Paused bool
	// NextFireAt is the next scheduled fire time; zero when there is none.
	NextFireAt time.Time
	// PrevFireAt is the scheduled time of the last fire; zero before the first.
	PrevFireAt     time.Time
	TimesTriggered int64
	// Data is the scheduler's own part of the trigger state (JSON, opaque to
	// the store, "null" when unset), written by UpsertTriggers and
	// ClaimFires.
	Data json.RawMessage

	// LastNodeID is the node that recorded the last fire.
	LastNodeID string
	// BlockingRunID is the run blocking the trigger in state blocked: the
	// fire at PrevFireAt. Derived, not stored.
	BlockingRunID string

	// Revision grows with every change.
	Revision  int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TriggerDef is a trigger as a config file defines it.
type TriggerDef struct {
	ScheduleID string
	Definition json.RawMessage // valid JSON; "null" when empty
	ConfigHash string
	// NextFireAt is the first fire time for a new or changed definition (zero:
	// none). Ignored when the stored ConfigHash is the same.
	NextFireAt time.Time
	// Paused is the initial paused flag of a new trigger; a stored trigger
	// keeps its own.
	Paused bool
	// Data is the scheduler's state of a new or changed definition (see
	// Trigger.Data); ignored, like NextFireAt, when the ConfigHash is the same.
	Data json.RawMessage
}

// UpsertAction says what UpsertTriggers did with one TriggerDef.
type UpsertAction string

// Upsert actions.
const (
	UpsertInserted  UpsertAction = "inserted"
	UpsertUpdated   UpsertAction = "updated"
	UpsertUnchanged UpsertAction = "unchanged"
)

// UpsertTriggersParams are the params of Store.UpsertTriggers.
type UpsertTriggersParams struct {
	Triggers []TriggerDef
	Now      time.Time // created/updated time; zero: time.Now()
}

// UpsertTriggerResult is one UpsertTriggers item's outcome, with the trigger as
// stored afterwards.
type UpsertTriggerResult struct {
	Action  UpsertAction
	Trigger Trigger
}

// ListTriggersParams are the params of Store.ListTriggers.
type ListTriggersParams struct {
	// ScheduleIDs keeps the triggers of these schedules (unknown ids are
	// left out); nil: every trigger.
	ScheduleIDs []string
}

// DeleteTriggersParams are the params of Store.DeleteTriggers.
type DeleteTriggersParams struct {
	ScheduleIDs []string
}

// PauseTriggersParams are the params of Store.PauseTriggers.
type PauseTriggersParams struct {
	// ScheduleIDs to change; ignored when All is set.
	ScheduleIDs []string
	All         bool
	Paused      bool
	Now         time.Time
}

// ClaimFiresParams are the params of Store.ClaimFires.
type ClaimFiresParams struct {
	Node  string
	Fires []ClaimFire
}

// ClaimFire is one fire that a node's own scheduler found due, with the
// trigger state it leaves behind. The claim succeeds only if no node has
// fired the trigger past it (see Store.ClaimFires).
type ClaimFire struct {
	ScheduleID string
	// ConfigHash must be the stored one: a node running another version of
	// the schedule does not fire it.
	ConfigHash string
	// FireID is the run id; zero: FireID(ScheduleID, ScheduledAt).
	FireID string
	// ScheduledAt is the fire's scheduled time (after a misfire that fires
	// now, the moment of the misfire). The trigger's stored NextFireAt must
	// not be after it.
	ScheduledAt time.Time
	// StartedAt is when the run starts; zero: time.Now().
	StartedAt time.Time
	// NextFireAt, TimesTriggered and Data are the trigger's state after the
	// fire; a zero NextFireAt completes it. PrevFireAt becomes ScheduledAt.
	NextFireAt     time.Time
	TimesTriggered int64
	// Data replaces the stored Data when set.
	Data json.RawMessage
	// Block keeps the trigger blocked until the run finishes
	// (concurrentExecution false).
	Block bool
	// Recoverable marks the run for re-run if the node dies during it.
	Recoverable bool
}

// ClaimResult is one ClaimFires item's outcome.
type ClaimResult struct {
	// Run is the run recorded when Err is nil; with ErrAlreadyFired, the run
	// recorded before under the fire id.
	Run Run
	// Trigger is the trigger after the claim, or, with ErrConflict, the
	// stored trigger that refused it (zero with ErrNotFound).
	Trigger Trigger
	Err     error
}

// RunStatus is a run's state.
type RunStatus string

// Run statuses. Every status but RunRunning is terminal.
const (
	RunRunning   RunStatus = "running"
	RunSucceeded RunStatus = "succeeded"
	RunFailed    RunStatus = "failed"
	RunSkipped   RunStatus = "skipped"
	// RunAbandoned: the node died during a non-recoverable run (or the run
	// was abandoned explicitly); it is not re-run.
	RunAbandoned RunStatus = "abandoned"
)

// Terminal reports whether the status ends a run.
func (s RunStatus) Terminal() bool {
	switch s {
	case RunSucceeded, RunFailed, RunSkipped, RunAbandoned:
		return true
	}
	return false
}

// Run is one fire of a schedule.
type Run struct {
	// ID is the fire id, FireID(ScheduleID, ScheduledAt) for persisted fires.
	ID          string
	ScheduleID  string
	ScheduledAt time.Time
	StartedAt   time.Time // start of the current attempt
	EndedAt     time.Time // zero while running
	Node        string    // the node running it (the recovering node after recovery)
	Status      RunStatus
	Error       string
	// Recoverable runs are re-run when their node dies; Recovery marks a run
	// handed to another node (or the restarted node) by RecoverNode, and
	// RecoveredFrom is the node that died. Attempt counts executions.
	Recoverable   bool
	Recovery      bool
	RecoveredFrom string
	Attempt       int
}

// StartRunParams are the params of Store.StartRun.
type StartRunParams struct {
	// ID of the run; zero: FireID(ScheduleID, ScheduledAt). Runs of
	// non-persisted schedules fire on every node, so their callers should add
	// the node to the id.
	ID          string
	ScheduleID  string
	ScheduledAt time.Time
	StartedAt   time.Time // zero: time.Now()
	Node        string
	Recoverable bool
	// Status: zero means RunRunning; a terminal status records a finished run
	// (EndedAt = StartedAt) with Error.
	Status RunStatus
	Error  string
}

// FinishRunsParams are the params of Store.FinishRuns.
type FinishRunsParams struct {
	Node string
	Runs []FinishRun
}

// FinishRun records one run's outcome.
type FinishRun struct {
	ID      string
	Status  RunStatus // terminal
	EndedAt time.Time // zero: time.Now()
	Error   string
}

// FinishResult is one FinishRuns item's outcome.
type FinishResult struct {
	Run Run
	Err error
}

// ListRunsParams are the params of Store.ListRuns.
type ListRunsParams struct {
	// ScheduleID keeps the runs of one schedule; empty: every schedule.
	ScheduleID string
	// Limit caps the result; zero: 100.
	Limit int
}

// AbandonRunsParams are the params of Store.AbandonRuns.
type AbandonRunsParams struct {
	Node   string
	At     time.Time // ended time; zero: time.Now()
	Reason string    // recorded as the run's error
}

// DefaultKeepPerSchedule is how many finished runs per schedule PruneRuns
// keeps when KeepPerSchedule is zero: as many as IDM keeps completed task
// scans.
const DefaultKeepPerSchedule = 100

// DefaultPruneLimit is the most rows one PruneRuns call deletes when Limit
// is zero.
const DefaultPruneLimit = 1000

// PruneRunsParams are the params of Store.PruneRuns.
type PruneRunsParams struct {
	// KeepPerSchedule is how many of a schedule's newest finished runs are
	// kept whatever their age; zero: DefaultKeepPerSchedule, negative: no
	// limit by count.
	KeepPerSchedule int
	// EndedBefore, when set, deletes the finished runs that ended before it
	// (the maximum age), even among the newest of their schedule.
	EndedBefore time.Time
	// Limit caps the rows deleted by one call; zero: DefaultPruneLimit.
	Limit int
}

// NodeState is a node's cluster membership state.
type NodeState string

// Node states.
const (
	NodeActive NodeState = "active"
	// NodeDead: recovered by RecoverNode; its next CheckIn makes it active.
	NodeDead NodeState = "dead"
)

// Node is a cluster member's heartbeat record.
type Node struct {
	ID    string
	State NodeState
	// StartedAt is when the node's process started (node clock).
	StartedAt   time.Time
	FirstSeenAt time.Time
	// CheckedInAt is the last check-in in database time; ReportedAt is the
	// same instant in the node's time. Skew = ReportedAt - CheckedInAt.
	CheckedInAt time.Time
	ReportedAt  time.Time
	Skew        time.Duration
	// SinceCheckIn is the database's now minus CheckedInAt when read.
	SinceCheckIn time.Duration
	// ConfigHash is the config version the node last reported applying.
	ConfigHash string
	// Instance identifies the process that last checked in under this id
	// (CheckInParams.Instance); empty for none.
	Instance string
	// Info is free-form JSON the node reports (version, address, ...).
	Info json.RawMessage

	RecoveredAt time.Time
	RecoveredBy string
	// WasDeclaredDead is set in CheckIn's result when the node was recovered
	// by the cluster since its previous check-in: its running runs are no
	// longer its own.
	WasDeclaredDead bool
}

// CheckInParams are the params of Store.CheckIn.
type CheckInParams struct {
	Node string
	// Now is the node's own clock; zero: time.Now().
	Now        time.Time
	StartedAt  time.Time
	ConfigHash string
	Info       json.RawMessage // optional JSON
	// Instance identifies the checking-in process among the processes that
	// use this node id (e.g. random per process); it is recorded in the row.
	Instance string
	// LiveFor > 0 refuses the check-in with a *NodeInUseError, writing
	// nothing, when the row is active, was last checked in by a non-empty
	// instance other than Instance and Replace, and that check-in is less
	// than LiveFor old in database time: another live process uses the id.
	// (A check-in with an empty Instance clears the row's instance: the
	// process left, and the next one may join at once.)
	LiveFor time.Duration
	// Replace is an instance that LiveFor does not protect: the caller
	// proved it gone. The check-in still refuses any other live instance.
	Replace string
}

// NodeInUseError is CheckIn's refusal when another live process checks in
// under the same node id. It matches ErrNodeInUse.
type NodeInUseError struct {
	Node Node // the stored row, as the other process left it
}

func (e *NodeInUseError) Error() string {
	return fmt.Sprintf("node id %q is in use by a live process (last check-in %s ago)",
		e.Node.ID, e.Node.SinceCheckIn.Round(100*time.Millisecond))
}

// Is makes errors.Is(err, ErrNodeInUse) true.
func (e *NodeInUseError) Is(target error) bool { return target == ErrNodeInUse }

// ListNodesParams are the params of Store.ListNodes.
type ListNodesParams struct{}

// DeadNodesParams are the params of Store.DeadNodes.
type DeadNodesParams struct {
	// Timeout: nodes silent this long (database time) are dead.
	Timeout time.Duration
	// Exclude leaves out this node (the caller).
	Exclude string
}

// RecoverNodeParams are the params of Store.RecoverNode.
type RecoverNodeParams struct {
	Dead      string
	Recoverer string
	// Now stamps recovered and abandoned runs; zero: time.Now().
	Now time.Time
	// StaleAfter > 0 refuses (ErrNodeAlive) unless Dead's last check-in is at
	// least this old in database time. A node recovering its own previous
	// incarnation at start passes 0.
	StaleAfter time.Duration
	// Reason is recorded on abandoned runs; zero: a default message.
	Reason string
	// Has reports whether the recoverer can run a schedule's runs (it has
	// the schedule in its configuration); nil: every schedule. Recoverable
	// runs of the other schedules are not claimed: they are handed back
	// unclaimed (Node Unclaimed, RecoveredFrom Dead, StartedAt the hand-back
	// time) for ClaimUnclaimed.
	Has func(scheduleID string) bool
}

// Unclaimed is the Node of a recoverable run that a recovery handed back
// because the recovering node lacked its schedule.
const Unclaimed = ""

// ClaimUnclaimedParams are the params of Store.ClaimUnclaimed.
type ClaimUnclaimedParams struct {
	Node string
	// Has reports whether Node can run a schedule's runs; nil: every schedule.
	Has func(scheduleID string) bool
	// Now stamps claimed and abandoned runs; zero: time.Now().
	Now time.Time
	// AbandonAfter > 0 abandons the unclaimed runs that Node cannot run once
	// they have waited that long (since StartedAt) for a node that can.
	AbandonAfter time.Duration
}

// Recovery is what RecoverNode did.
type Recovery struct {
	// Recovered are the runs now running on the recoverer as recovery runs;
	// it must execute them.
	Recovered []Run
	// Abandoned are the non-recoverable runs marked abandoned.
	Abandoned []Run
	// Unclaimed are the recoverable runs handed back unclaimed (see
	// RecoverNodeParams.Has).
	Unclaimed []Run
}

// APISchedule is a schedule created over REST with persisted: true.
type APISchedule struct {
	ID string
	// Body is the definition as accepted (a JSON object, opaque to the
	// store).
	Body json.RawMessage
	// Rev is 1 on create and grows by one on every put.
	Rev       int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Revision checks of PutAPIScheduleParams.IfRev and
// DeleteAPIScheduleParams.IfRev; any value > 0 must equal the stored Rev.
const (
	// AnyRev: no check.
	AnyRev int64 = 0
	// MustNotExist: create only.
	MustNotExist int64 = -1
)

// PutAPIScheduleParams are the params of Store.PutAPISchedule.
type PutAPIScheduleParams struct {
	ID   string
	Body json.RawMessage // a JSON object
	// IfRev: AnyRev, MustNotExist, or the Rev the stored row must have.
	IfRev int64
	Now   time.Time // created/updated time; zero: time.Now()
}

// DeleteAPIScheduleParams are the params of Store.DeleteAPISchedule.
type DeleteAPIScheduleParams struct {
	ID string
	// IfRev: AnyRev, or the Rev the stored row must have.
	IfRev int64
	// Now stamps the change log entry; zero: time.Now().
	Now time.Time
}

// ListAPISchedulesParams are the params of Store.ListAPISchedules.
type ListAPISchedulesParams struct {
	// IDs keeps these schedules (unknown ids are left out); nil: all.
	IDs []string
}

// APIScheduleConflictError is the refusal of a put or delete whose IfRev
// does not hold. It matches ErrConflict; Current is the stored row (zero
// when there is none).
type APIScheduleConflictError struct {
	ID      string
	IfRev   int64
	Current APISchedule
}

func (e *APIScheduleConflictError) Error() string {
	if e.Current.ID == "" {
		return fmt.Sprintf("api schedule %q: want revision %d, none stored", e.ID, e.IfRev)
	}
	if e.IfRev == MustNotExist {
		return fmt.Sprintf("api schedule %q exists (revision %d)", e.ID, e.Current.Rev)
	}
	return fmt.Sprintf("api schedule %q: want revision %d, stored %d", e.ID, e.IfRev, e.Current.Rev)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *APIScheduleConflictError) Is(target error) bool { return target == ErrConflict }

// ChangeKind says what a Change is about.
type ChangeKind string

// Change kinds.
const (
	// ChangeSchedule: an API schedule was put or deleted; read it again.
	ChangeSchedule ChangeKind = "schedule"
	// ChangePause: a trigger's paused flag changed; read the trigger.
	ChangePause ChangeKind = "pause"
)

// Change is one entry of the change log.
type Change struct {
	Seq  int64
	Kind ChangeKind
	ID   string // schedule id
	At   time.Time
}

// DefaultChangesLimit is how many changes one Changes call returns at most
// when Limit is zero.
const DefaultChangesLimit = 1000

// ChangesParams are the params of Store.Changes.
type ChangesParams struct {
	// AfterSeq is the last seq the caller has seen; < 0: return no items,
	// only LastSeq (where a new reader starts).
	AfterSeq int64
	// Limit caps the items; zero: DefaultChangesLimit.
	Limit int
}

// Changes is what Store.Changes returns.
type Changes struct {
	Items []Change
	// LastSeq is the seq to pass as AfterSeq next time: the last item's, or
	// with no items the newest seq readable (never below AfterSeq).
	LastSeq int64
}

// PruneChangesParams are the params of Store.PruneChanges.
type PruneChangesParams struct {
	// Before: entries recorded before it are deleted.
	Before time.Time
	// Limit caps the rows deleted by one call; zero: DefaultPruneLimit.
	Limit int
}
