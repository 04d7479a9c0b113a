package scheduler

import (
	"math"
	"slices"
	"time"

	"sundial/engine/config"
	"sundial/engine/trigger"
)

// entry is one schedule in the running set. Only the loop touches it, except
// stats, which workers update atomically. A daemon holds one per schedule,
// so it is kept small (160 bytes): the trigger's Spec is shared by the
// schedules that have the same one, and the service is an index.
type entry struct {
	id    string
	sched *config.Schedule
	spec  *trigger.Spec // immutable, shared (see specCache); never nil
	state trigger.State // state.Next is the heap key
	stats *entryStats   // allocated at the first fire or skip

	armedKey      int64  // heapKey(state.Next) of its valid heap item, when armed
	seq           uint32 // tie-break for equal next fire times, in order of creation
	gen           uint32 // generation of its latest heap item
	running       int32  // runs in progress
	manualPending int32  // TriggerNow fires queued, not yet started
	svc           uint16 // index in Scheduler.svcList; 0: no service registered for sched.InvokeService
	armed         bool   // it has a valid item in the heap
	paused        bool
	disabled      bool
	removed       bool
	// storeHeld: the store could not be asked for its fire at state.Next;
	// it waits for the store to answer again (Adopt).
	storeHeld bool
	// late is why the trigger was held while its next fire time may have
	// passed; a misfire at the next dispatch is recorded with this reason.
	late reason
}

// noTrigger is the Spec of disabled entries, which never fire.
var noTrigger = &trigger.Spec{}

// heapItem is an entry armed at a fire time. The key is inline, so sifting
// compares items in the array without touching the entries (with 100,000
// entries, every dereference is a cache miss).
type heapItem struct {
	key int64  // the fire time in Unix nanoseconds (see heapKey)
	seq uint32 // the entry's seq
	gen uint32 // the entry's gen when pushed: the item is stale once it changed
	e   *entry
}

// heapKey orders fire times. Times past 2262 (far beyond any real fire)
// saturate and tie, which only matters for times that never come.
func heapKey(t time.Time) int64 {
	switch sec := t.Unix(); {
	case sec >= math.MaxInt64/int64(time.Second)-1:
		return math.MaxInt64
	case sec <= math.MinInt64/int64(time.Second)+1:
		return math.MinInt64
	}
	return t.UnixNano()
}

// triggerHeap is a min-heap of armed entries by (next fire time, seq).
// Deletion is lazy: taking an entry out or moving it marks its item stale
// (the entry's gen moves on, or it is no longer armed); stale items are
// dropped when they reach the top, or all at once when they are the
// majority. A fire costs one sift-down of inline keys.
type triggerHeap struct {
	items []heapItem
	stale int
}

func (h *triggerHeap) valid(it *heapItem) bool { return it.e.armed && it.e.gen == it.gen }

func (h *triggerHeap) less(i, j int) bool {
	a, b := &h.items[i], &h.items[j]
	if a.key != b.key {
		return a.key < b.key
	}
	return a.seq < b.seq
}

// peek returns the entry with the earliest fire time, or nil.
func (h *triggerHeap) peek() *entry {
	for len(h.items) > 0 {
		if it := &h.items[0]; h.valid(it) {
			return it.e
		}
		h.pop()
		h.stale--
	}
	return nil
}

// push arms e at its next fire time; an item it had becomes stale.
func (h *triggerHeap) push(e *entry) {
	if e.armed {
		h.stale++
	}
	e.gen++
	e.armed = true
	e.armedKey = heapKey(e.state.Next)
	h.items = append(h.items, heapItem{key: e.armedKey, seq: e.seq, gen: e.gen, e: e})
	h.up(len(h.items) - 1)
	h.compact()
}

// remove disarms e.
func (h *triggerHeap) remove(e *entry) {
	if !e.armed {
		return
	}
	e.armed = false
	h.stale++
	h.compact()
}

// pop drops the top item.
func (h *triggerHeap) pop() {
	last := len(h.items) - 1
	h.items[0] = h.items[last]
	h.items[last] = heapItem{}
	h.items = h.items[:last]
	if last > 0 {
		h.down(0)
	}
}

// compact drops the stale items once they are the majority.
func (h *triggerHeap) compact() {
	if h.stale < 64 || h.stale*2 < len(h.items) {
		return
	}
	live := h.items[:0]
	for i := range h.items {
		if h.valid(&h.items[i]) {
			live = append(live, h.items[i])
		}
	}
	clear(h.items[len(live):])
	if cap(h.items) > 4*len(live) && cap(h.items) > 1024 {
		live = slices.Clone(live) // give back the memory of a large removal
	}
	h.items, h.stale = live, 0
	for i := len(h.items)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h *triggerHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h.items[i], h.items[p] = h.items[p], h.items[i]
		i = p
	}
}

func (h *triggerHeap) down(i int) {
	n := len(h.items)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && h.less(r, l) {
			c = r
		}
		if !h.less(c, i) {
			return
		}
		h.items[i], h.items[c] = h.items[c], h.items[i]
		i = c
	}
}

// holdOf says why an entry must not be in the heap, or reasonNone.
func (s *Scheduler) holdOf(e *entry) reason {
	switch {
	case e.disabled || e.removed:
		return reasonDisabled
	case e.paused:
		return reasonPaused
	case e.storeHeld:
		return reasonStoreError
	case e.sched.Persisted && !s.execPersisted:
		// executePersistentSchedules false: listed, never fired here.
		return reasonMisfire
	case s.claimingOf[e] > 0:
		// A fire of it is being claimed: the next one is claimed after.
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
		s.heap.remove(e)
		if hold != reasonNone && !e.state.Next.IsZero() {
			e.late = hold
		}
		return
	}
	if e.armed {
		if e.armedKey != heapKey(e.state.Next) {
			s.heap.push(e)
		}
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
