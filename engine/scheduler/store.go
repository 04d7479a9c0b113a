package scheduler

import (
	"context"
	"sync"
	"time"

	"sundial/engine/trigger"
)

// StateStore is the scheduler's seam to persistence and clustering. The
// in-memory MemoryStore is the default; engine/store backs it with SQLite or
// PostgreSQL through an adapter.
//
// Only schedules with persisted: true reach the trigger methods (SyncTriggers,
// DeleteTriggers, SetPaused, AcquireFires); every run reaches RunStarted or
// AcquireFires, then RunEnded. The scheduler never calls the store from its
// loop: trigger methods run on the goroutine of the operation that needs them
// (Reconcile, Pause, ...), AcquireFires on the scheduler's claimers, the run
// methods on the worker running the fire. An implementation must be safe for
// concurrent use.
type StateStore interface {
	// SyncTriggers makes the stored triggers of persisted schedules match a
	// new desired state. For each item: an unknown schedule is stored with
	// the given state; a known one with the same Hash keeps its stored state
	// (its fires survive restarts and concurrent starts of several nodes); a
	// known one with another Hash gets the given state but keeps its paused
	// flag. It returns one TriggerState per item, in order, as stored
	// afterwards; the scheduler continues schedules it did not have running
	// from it, so fires missed while the node was down follow the misfire
	// policy. (store.Store.UpsertTriggers)
	SyncTriggers(ctx context.Context, params SyncTriggersParams) ([]TriggerState, error)
	// DeleteTriggers forgets the triggers of schedules whose files were
	// removed. It is never called on shutdown. (store.Store.DeleteTriggers)
	DeleteTriggers(ctx context.Context, params DeleteTriggersParams) error
	// SetPaused records pause and resume. (store.Store.PauseTriggers)
	SetPaused(ctx context.Context, params SetPausedParams) error
	// AcquireFires claims fires of persisted schedules for this node before
	// they run, in one round trip to the store where it can: per fire, Won
	// is false when another node has fired, or is firing, that trigger at
	// that scheduled time (cluster exactly-once), and true when the store
	// recorded the run as started and stored State as the trigger's new
	// state, in one step. Err means the store could not be asked (it gives
	// up when ctx ends): the scheduler holds the schedule at that fire,
	// neither run nor skipped, until the store calls Adopt once it answers
	// again (a fire whose claim was in flight during an Adopt is tried again
	// at once instead); the fire then runs late or, past the misfire
	// threshold, misfires. It returns one result per fire, in order.
	// (store.Store.ClaimFires)
	AcquireFires(ctx context.Context, fires []AcquireFireParams) []AcquireResult
	// RunStarted records the start of a run that AcquireFire did not record:
	// a non-persisted schedule's or a manual one. (store.Store.StartRun)
	RunStarted(ctx context.Context, params RunStartedParams) error
	// RunEnded records a run's outcome. (store.Store.FinishRuns)
	RunEnded(ctx context.Context, params RunEndedParams) error
}

// TriggerState is the stored state of one persisted schedule's trigger.
type TriggerState struct {
	ScheduleID string
	// Hash is the schedule's config hash the state belongs to.
	Hash   string
	State  trigger.State
	Paused bool
}

// SyncTriggersParams are the params of StateStore.SyncTriggers.
type SyncTriggersParams struct {
	// Triggers holds, per persisted schedule, the state a new trigger starts
	// from (its first fire time) and its initial paused flag.
	Triggers []TriggerState
	Now      time.Time
}

// DeleteTriggersParams are the params of StateStore.DeleteTriggers.
type DeleteTriggersParams struct {
	ScheduleIDs []string
}

// SetPausedParams are the params of StateStore.SetPaused.
type SetPausedParams struct {
	// ScheduleIDs to change; ignored when All is set.
	ScheduleIDs []string
	All         bool
	Paused      bool
	Now         time.Time
}

// AcquireResult is the outcome of one fire of StateStore.AcquireFires.
type AcquireResult struct {
	Won bool
	Err error
}

// AcquireFireParams are one fire of StateStore.AcquireFires.
type AcquireFireParams struct {
	ScheduleID string
	FireID     string
	// Hash is the schedule's config hash: a fire of a definition the store no
	// longer holds must not be acquired.
	Hash          string
	ScheduledTime time.Time
	// State is the trigger's state once this fire is taken: its Next is the
	// following fire time (zero: none), Previous the ScheduledTime.
	State trigger.State
	// Block is set for concurrentExecution false: the trigger stays blocked
	// until RunEnded.
	Block       bool
	Recoverable bool
	NodeID      string
	StartedAt   time.Time
}

// RunStartedParams are the params of StateStore.RunStarted.
type RunStartedParams struct {
	FireID        string
	ScheduleID    string
	ScheduledTime time.Time
	StartedAt     time.Time
	NodeID        string
	Manual        bool
	Recoverable   bool
}

// RunEndedParams are the params of StateStore.RunEnded.
type RunEndedParams struct {
	FireID     string
	ScheduleID string
	NodeID     string
	EndedAt    time.Time
	Outcome    Outcome
	Error      string
}

// MemoryStore is the in-memory StateStore: trigger states live as long as
// the process, and AcquireFire gives each (schedule, scheduled time) to one
// caller, so several schedulers in one process sharing a MemoryStore behave
// as a cluster. It records no runs; the scheduler keeps its own bounded
// history. The zero value is ready to use.
type MemoryStore struct {
	mu       sync.Mutex
	triggers map[string]TriggerState
	// fired is, per schedule, the last fire acquired: a fire is acquired
	// only if it comes after it.
	fired map[string]fireKey
}

type fireKey struct {
	scheduled int64
	times     int
}

var _ StateStore = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{} }

// SyncTriggers implements StateStore.
func (m *MemoryStore) SyncTriggers(_ context.Context, p SyncTriggersParams) ([]TriggerState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.triggers == nil {
		m.triggers = map[string]TriggerState{}
	}
	out := make([]TriggerState, len(p.Triggers))
	for i, t := range p.Triggers {
		old, ok := m.triggers[t.ScheduleID]
		switch {
		case !ok:
			m.triggers[t.ScheduleID] = t
		case old.Hash != t.Hash:
			t.Paused = old.Paused
			m.triggers[t.ScheduleID] = t
			// m.fired stays: a new version never fires a time the old one
			// already fired.
		}
		out[i] = m.triggers[t.ScheduleID]
	}
	return out, nil
}

// DeleteTriggers implements StateStore.
func (m *MemoryStore) DeleteTriggers(_ context.Context, p DeleteTriggersParams) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range p.ScheduleIDs {
		delete(m.triggers, id)
		delete(m.fired, id)
	}
	return nil
}

// SetPaused implements StateStore.
func (m *MemoryStore) SetPaused(_ context.Context, p SetPausedParams) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	set := func(id string) {
		if t, ok := m.triggers[id]; ok {
			t.Paused = p.Paused
			m.triggers[id] = t
		}
	}
	if p.All {
		for id := range m.triggers {
			set(id)
		}
		return nil
	}
	for _, id := range p.ScheduleIDs {
		set(id)
	}
	return nil
}

// AcquireFires implements StateStore.
func (m *MemoryStore) AcquireFires(_ context.Context, fires []AcquireFireParams) []AcquireResult {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]AcquireResult, len(fires))
	for i, p := range fires {
		out[i].Won = m.acquireLocked(p)
	}
	return out
}

func (m *MemoryStore) acquireLocked(p AcquireFireParams) bool {
	if t, ok := m.triggers[p.ScheduleID]; ok && t.Hash != p.Hash {
		return false
	}
	k := fireKey{scheduled: p.ScheduledTime.UnixNano(), times: p.State.TimesTriggered}
	if last, ok := m.fired[p.ScheduleID]; ok && (k.scheduled < last.scheduled ||
		(k.scheduled == last.scheduled && k.times <= last.times)) {
		return false
	}
	if m.fired == nil {
		m.fired = map[string]fireKey{}
	}
	m.fired[p.ScheduleID] = k
	if t, ok := m.triggers[p.ScheduleID]; ok {
		t.State = p.State
		m.triggers[p.ScheduleID] = t
	}
	return true
}

// RunStarted implements StateStore; MemoryStore records no runs.
func (m *MemoryStore) RunStarted(context.Context, RunStartedParams) error { return nil }

// RunEnded implements StateStore; MemoryStore records no runs.
func (m *MemoryStore) RunEnded(context.Context, RunEndedParams) error { return nil }

// Trigger returns the stored state of a schedule's trigger.
func (m *MemoryStore) Trigger(scheduleID string) (TriggerState, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.triggers[scheduleID]
	return t, ok
}

// SkipRecorder is implemented by a StateStore that also records the fire
// times that did not run (misfires, overlaps, store errors, ...), each
// RunRecord as the scheduler's own history keeps it. RecordSkipped is called
// on the scheduler's loop and on workers: it must not block.
type SkipRecorder interface {
	RecordSkipped(rec RunRecord)
}

// Adopt continues persisted schedules from trigger states read back from
// the store: a StateStore calls it when this node lost a fire to a trigger
// that had moved on without it (another node fired it, or paused it), or
// came back from losing the store, so that missed fires follow the misfire
// policy. A state applies to a running, enabled, persisted schedule of the
// same Hash; others are ignored. The schedule takes the state's Paused, and
// continues from its State unless that only lags the running one by a
// misfire that fired nothing (see lagsByMisfire): that misfire was already
// applied, and its skipped fires recorded, here. Adopt also releases the
// schedules held at a fire the store could not be asked for (see
// StateStore.AcquireFire). It returns how many schedules changed.
func (s *Scheduler) Adopt(states []TriggerState) int {
	n := 0
	s.do(func() {
		s.adopts.Add(1)
		for _, st := range states {
			e := s.entries[st.ScheduleID]
			if e == nil || e.disabled || e.removed || !e.sched.Persisted || e.sched.Hash != st.Hash {
				continue
			}
			changed := false
			if paused := st.Paused || s.pausedAll; paused != e.paused {
				e.paused, changed = paused, true
			}
			if !sameState(st.State, e.state) && (e.storeHeld || !lagsByMisfire(st.State, e.state)) {
				e.state, changed = st.State, true
			}
			if e.storeHeld {
				e.storeHeld, changed = false, true
			}
			if changed {
				s.rearm(e)
				n++
			}
		}
		// The store answers: the fires it could not be asked for are tried
		// again, from their own state when it gave none.
		for _, e := range s.entries {
			if e.storeHeld {
				e.storeHeld = false
				s.rearm(e)
				n++
			}
		}
	})
	return n
}

// sameState compares trigger states at the store's precision (microseconds).
func sameState(a, b trigger.State) bool {
	return sameMicro(a.Next, b.Next) && sameMicro(a.Previous, b.Previous) && sameMicro(a.Start, b.Start) &&
		a.TimesTriggered == b.TimesTriggered && a.RepeatCount == b.RepeatCount
}

// lagsByMisfire reports whether stored is the running state as it was
// before a misfire that fired nothing, which the store does not hear about:
// the same previous fire, an earlier next fire, and no more fires counted. A
// cron doNothing misfire only moves the next fire time on; a simple trigger
// that repeats forever also counts its missed fires as done.
func lagsByMisfire(stored, running trigger.State) bool {
	return sameMicro(stored.Previous, running.Previous) && stored.TimesTriggered <= running.TimesTriggered &&
		!stored.Next.IsZero() && stored.Next.Before(running.Next.Truncate(time.Microsecond))
}

func sameMicro(a, b time.Time) bool {
	return a.Truncate(time.Microsecond).Equal(b.Truncate(time.Microsecond))
}
