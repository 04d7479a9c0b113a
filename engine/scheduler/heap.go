package scheduler

import (
	"sundial/engine/config"
	"sundial/engine/trigger"
)

// entry is one schedule in the running set. Only the loop touches it, except
// stats, which workers update atomically.
type entry struct {
	id    string
	sched *config.Schedule
	svc   Service // nil: no service registered for sched.InvokeService
	spec  trigger.Spec
	state trigger.State // state.Next is the heap key
	stats *entryStats   // allocated at the first fire or skip

	seq           uint32 // tie-break for equal next fire times, in order of creation
	index         int32  // position in the heap; -1 when not armed
	running       int32  // runs in progress
	manualPending int32  // TriggerNow fires queued, not yet started
	paused        bool
	disabled      bool
	removed       bool
	// late is why the trigger was held while its next fire time may have
	// passed; a misfire at the next dispatch is recorded with this reason.
	late reason
}

// triggerHeap is a min-heap of armed entries by (next, seq), indexed: each
// entry knows its position, so removal and re-keying are O(log n).
type triggerHeap []*entry

func (h triggerHeap) less(i, j int) bool {
	a, b := h[i].state.Next, h[j].state.Next
	if c := a.Compare(b); c != 0 {
		return c < 0
	}
	return h[i].seq < h[j].seq
}

func (h triggerHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = int32(i)
	h[j].index = int32(j)
}

func (h triggerHeap) peek() *entry {
	if len(h) == 0 {
		return nil
	}
	return h[0]
}

func (h *triggerHeap) push(e *entry) {
	e.index = int32(len(*h))
	*h = append(*h, e)
	h.up(len(*h) - 1)
}

func (h *triggerHeap) remove(e *entry) {
	i := int(e.index)
	last := len(*h) - 1
	if i != last {
		h.swap(i, last)
	}
	(*h)[last] = nil
	*h = (*h)[:last]
	e.index = -1
	if i != last {
		h.fix(i)
	}
}

// fix restores the order after the key of the entry at i changed.
func (h triggerHeap) fix(i int) {
	if !h.down(i) {
		h.up(i)
	}
}

func (h triggerHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h triggerHeap) down(i int) bool {
	start, n := i, len(h)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && h.less(r, l) {
			c = r
		}
		if !h.less(c, i) {
			break
		}
		h.swap(i, c)
		i = c
	}
	return i > start
}

// holdOf says why an entry must not be in the heap, or reasonNone.
func (s *Scheduler) holdOf(e *entry) reason {
	switch {
	case e.disabled || e.removed:
		return reasonDisabled
	case e.paused:
		return reasonPaused
	case e.sched.Persisted && !s.execPersisted:
		// executePersistentSchedules false: listed, never fired here.
		return reasonMisfire
	case !e.sched.ConcurrentExecution && (e.running > 0 || e.manualPending > 0):
		// Quartz blocks the triggers of a running non-concurrent job; fires
		// due meanwhile are not queued, the misfire rule decides at its end.
		return reasonOverlap
	}
	return reasonNone
}

// rearm puts e in the heap at its next fire time, or takes it out when it is
// held or complete. Call it after any change to e.
func (s *Scheduler) rearm(e *entry) {
	if hold := s.holdOf(e); hold != reasonNone || e.state.Next.IsZero() {
		if e.index >= 0 {
			s.heap.remove(e)
		}
		if hold != reasonNone && !e.state.Next.IsZero() {
			e.late = hold
		}
		return
	}
	if e.index >= 0 {
		s.heap.fix(int(e.index))
		return
	}
	if e.late != reasonNone && e.state.Next.After(s.clock.Now()) {
		// Released before its fire time: nothing was late because of it.
		e.late = reasonNone
	}
	s.heap.push(e)
}

// status returns the schedule's Quartz-like trigger status.
func (s *Scheduler) status(e *entry) Status {
	switch {
	case e.disabled:
		return StatusNone
	case e.state.Next.IsZero():
		return StatusComplete
	case e.paused:
		return StatusPaused
	case !e.sched.ConcurrentExecution && e.running > 0:
		return StatusBlocked
	}
	return StatusNormal
}

// Status is the state of a schedule's trigger, as Quartz names it.
type Status string

// Trigger statuses.
const (
	StatusNormal   Status = "NORMAL"
	StatusPaused   Status = "PAUSED"
	StatusComplete Status = "COMPLETE"
	StatusBlocked  Status = "BLOCKED"
	// StatusNone: the schedule has no trigger (enabled: false).
	StatusNone Status = "NONE"
)

// Quartz returns the Quartz 1.x trigger state number IDM shows in a
// trigger's "state": NORMAL 0, PAUSED 1, COMPLETE 2, BLOCKED 4, NONE -1.
func (st Status) Quartz() int {
	switch st {
	case StatusNormal:
		return 0
	case StatusPaused:
		return 1
	case StatusComplete:
		return 2
	case StatusBlocked:
		return 4
	}
	return -1
}
