package scheduler

import (
	"sync"
	"time"
)

// Outcome is how a fire ended.
type Outcome string

// Outcomes.
const (
	OutcomeSuccess Outcome = "success"
	OutcomeError   Outcome = "error"
	// OutcomeCancelled: the run's context was cancelled (shutdown) and the
	// service returned an error.
	OutcomeCancelled Outcome = "cancelled"
	// OutcomeSkipped: the fire did not run; RunRecord.Reason says why.
	OutcomeSkipped Outcome = "skipped"
)

// Reason says why a fire did not run.
type Reason string

// Reasons a fire does not run.
const (
	// ReasonMisfire: the fire was late by the misfire threshold or more
	// (the scheduler was stopped, or every worker was busy) and the misfire
	// policy dropped it.
	ReasonMisfire Reason = "misfire"
	// ReasonOverlap: the schedule does not allow concurrent execution and
	// was running when the fire came due.
	ReasonOverlap Reason = "overlap"
	// ReasonPaused: the fire came due while the schedule was paused.
	ReasonPaused Reason = "paused"
	// ReasonDisabled: the schedule is disabled (a manual trigger of it).
	ReasonDisabled Reason = "disabled"
	// ReasonServiceNotFound: no service is registered for invokeService.
	ReasonServiceNotFound Reason = "service-not-found"
	// ReasonStoreError: the store could not be asked whether this node may
	// run the fire until it was late by the misfire threshold, and the
	// misfire policy dropped it.
	ReasonStoreError Reason = "store-error"
)

// reason indexes Reason in counters; reasonNone is "not held / no reason".
type reason uint8

const (
	reasonNone reason = iota
	reasonMisfire
	reasonOverlap
	reasonPaused
	reasonDisabled
	reasonServiceNotFound
	reasonStoreError
	numReasons
)

var reasonNames = [numReasons]Reason{
	reasonMisfire:         ReasonMisfire,
	reasonOverlap:         ReasonOverlap,
	reasonPaused:          ReasonPaused,
	reasonDisabled:        ReasonDisabled,
	reasonServiceNotFound: ReasonServiceNotFound,
	reasonStoreError:      ReasonStoreError,
}

// outcome indexes the outcomes of runs that ran.
type outcome uint8

const (
	outcomeSuccess outcome = iota
	outcomeError
	outcomeCancelled
	numOutcomes
)

var outcomeNames = [numOutcomes]Outcome{
	outcomeSuccess:   OutcomeSuccess,
	outcomeError:     OutcomeError,
	outcomeCancelled: OutcomeCancelled,
}

// RunRecord is one entry of the run history: a run that ended, or fire
// times that did not run.
type RunRecord struct {
	FireID            string
	ScheduleID        string
	ScheduledFireTime time.Time
	// ActualFireTime and EndTime are zero for skipped fires.
	ActualFireTime time.Time
	EndTime        time.Time
	Outcome        Outcome
	// Reason and Skipped are set for OutcomeSkipped: Skipped counts the fire
	// times the record stands for (a misfire may drop many), the first of
	// which is ScheduledFireTime.
	Reason  Reason
	Skipped int
	Error   string
	Manual  bool
	NodeID  string
}

// history is a bounded ring of the latest run records.
type history struct {
	mu   sync.Mutex
	buf  []RunRecord
	next int
	full bool
}

func newHistory(size int) *history { return &history{buf: make([]RunRecord, size)} }

func (h *history) add(r RunRecord) {
	if len(h.buf) == 0 {
		return
	}
	h.mu.Lock()
	h.buf[h.next] = r
	h.next++
	if h.next == len(h.buf) {
		h.next, h.full = 0, true
	}
	h.mu.Unlock()
}

// list returns the records, oldest first.
func (h *history) list() []RunRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.full {
		return append([]RunRecord(nil), h.buf[:h.next]...)
	}
	out := make([]RunRecord, 0, len(h.buf))
	out = append(out, h.buf[h.next:]...)
	return append(out, h.buf[:h.next]...)
}
