package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sundial/engine/clock"
	"sundial/engine/config"
	"sundial/engine/trigger"
)

// Defaults and limits.
const (
	// DefaultThreadCount is IDM's threadPool.threadCount default.
	DefaultThreadCount = 10
	// MaxThreadCount caps the worker pool.
	MaxThreadCount = 4096
	// DefaultMisfireThreshold is OpenIDM RepoJobStore's misfire threshold.
	DefaultMisfireThreshold = 10 * time.Second
	// DefaultHistorySize is the number of run records kept in memory.
	DefaultHistorySize = 1000
	// DefaultCancelWait is how long Stop waits for runs to return once their
	// context is cancelled.
	DefaultCancelWait = 5 * time.Second
)

// Sentinel errors of the operations; test with errors.Is.
var (
	ErrNotFound        = errors.New("schedule not found")
	ErrDisabled        = errors.New("schedule is disabled")
	ErrOverlap         = errors.New("schedule is running and does not allow concurrent execution")
	ErrServiceNotFound = errors.New("service not found")
	ErrNotRunning      = errors.New("scheduler is not running")
	ErrStarted         = errors.New("scheduler already started")
)

// Options configure a Scheduler. Zero values take the defaults.
type Options struct {
	// Clock gives the time and the timers; default clock.Real{}.
	Clock clock.Clock
	// Logger receives run start/end lines (info) and skipped fires (warn);
	// default: discard.
	Logger *slog.Logger
	// Registerer receives the scheduler's metrics; nil: not registered.
	Registerer prometheus.Registerer
	// Services by invokeService short name (script, taskscanner, sync,
	// provisioner, job). The map is copied.
	Services map[string]Service
	// Store persists the triggers of persisted schedules and the runs;
	// default: a new MemoryStore.
	Store StateStore
	// NodeID names this node in runs and in the store.
	NodeID string
	// ThreadCount and MisfireThreshold apply until the first Reconcile, which
	// takes them from scheduler.json.
	ThreadCount      int
	MisfireThreshold time.Duration
	// HistorySize is the number of run records kept; default
	// DefaultHistorySize, negative: none.
	HistorySize int
	// CancelWait is how long Stop waits for runs to return after cancelling
	// them; default DefaultCancelWait.
	CancelWait time.Duration
}

type phase uint8

const (
	phaseNew phase = iota
	phaseRunning
	phaseStopped
)

// Scheduler runs the triggers of a desired state. Create it with New.
type Scheduler struct {
	clock      clock.Clock
	log        *slog.Logger
	store      StateStore
	services   map[string]Service // by short name
	svcList    []Service          // the services, indexed by entry.svc; svcList[0] is nil
	svcIndex   map[string]uint16  // short name → index in svcList
	nodeID     string
	cancelWait time.Duration
	metrics    *metrics
	history    *history

	work      chan *job     // fires handed to the workers
	wake      chan struct{} // capacity 1: "the inbox has something"
	claimWake chan struct{} // capacity 1: "toClaim has something"
	claimStop chan struct{} // closed when the loop exits: the claimers stop
	// adopts counts the Adopt calls applied (on the loop); a claimer reads
	// it before it asks the store (see holdUnclaimed).
	adopts atomic.Uint64

	// mu guards phase and the inbox; while the loop is not running, it also
	// guards the loop-owned state below (see do).
	mu       sync.Mutex
	phase    phase
	requests []request
	finished []*job
	toClaim  []*job // fires for the claimers, oldest first
	claimed  []*job // fires the claimers are done with
	started  chan struct{}
	loopDone chan struct{}
	stopped  chan struct{}
	stopOnce sync.Once
	stopErr  error

	// reconcileMu makes Reconciles one at a time: each decides what to
	// delete from the store against the running set it then changes.
	reconcileMu sync.Mutex

	runCtx     context.Context
	cancelRuns context.CancelFunc
	// recordCtx is runCtx without its cancellation: a run's end, and a
	// claim in flight, are recorded at shutdown, also for a run cancelled
	// at the end of the grace period;
	// cancelRecords ends it once runs had CancelWait to return, so that a
	// stalled store does not hold shutdown up (the store keeps an end it
	// could not write for later, see RunEnded).
	recordCtx     context.Context
	cancelRecords context.CancelFunc

	// Loop-owned state: only the loop goroutine touches it while it runs;
	// before Start and after the loop exits, do runs functions on it under mu.
	entries       map[string]*entry
	draining      map[string]*entry // removed while running; kept until the run ends
	heap          triggerHeap
	manual        []manualFire // TriggerNow fires, oldest first
	jobs          []*job       // every job ever made
	free          []*job       // jobs not in use
	busy          int          // jobs in use: being claimed, waiting for a worker or running
	claiming      int          // jobs with the claimers
	ready         []*job       // claimed fires waiting for a worker, oldest first
	running       int          // jobs handed to the workers
	workers       int
	threadCount   int
	threshold     time.Duration
	pausedAll     bool
	execPersisted bool
	defaultLoc    *time.Location
	seq           uint32
	active        bool // started and not stopping: fires are dispatched
	stopping      bool // Stop has begun
	exit          bool
	idle          chan struct{} // closed when busy reaches 0 while stopping
	timer         clock.Timer
	armed         bool
	armedAt       time.Time
	spareRequests []request
	spareFinished []*job
	spareClaimed  []*job
	// claimingOf (loop-owned) counts, by schedule, its fires with the
	// claimers: its next fire waits for them, so that a schedule's fires are
	// claimed in order (a store takes a fire only if the trigger has not
	// fired past it).
	claimingOf map[*entry]int32

	// calendarFor replaces the cron calendars of schedules in tests.
	calendarFor func(*config.Schedule) (trigger.Calendar, error)
	// onFinished, when set (tests), receives the fire id of every run the
	// loop has finished processing.
	onFinished chan<- string
}

type request struct {
	fn   func()
	done chan struct{}
}

// New returns a Scheduler with no schedules.
func New(opts Options) (*Scheduler, error) {
	s := &Scheduler{
		clock:         opts.Clock,
		log:           opts.Logger,
		store:         opts.Store,
		services:      make(map[string]Service, len(opts.Services)),
		nodeID:        opts.NodeID,
		cancelWait:    opts.CancelWait,
		work:          make(chan *job, MaxThreadCount),
		wake:          make(chan struct{}, 1),
		claimWake:     make(chan struct{}, 1),
		claimStop:     make(chan struct{}),
		started:       make(chan struct{}),
		loopDone:      make(chan struct{}),
		stopped:       make(chan struct{}),
		entries:       map[string]*entry{},
		draining:      map[string]*entry{},
		claimingOf:    map[*entry]int32{},
		threshold:     opts.MisfireThreshold,
		execPersisted: true,
	}
	if s.clock == nil {
		s.clock = clock.Real{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.store == nil {
		s.store = NewMemoryStore()
	}
	if s.cancelWait <= 0 {
		s.cancelWait = DefaultCancelWait
	}
	if s.threshold <= 0 {
		s.threshold = DefaultMisfireThreshold
	}
	for name, svc := range opts.Services {
		s.services[serviceKey(name)] = svc
	}
	names := make([]string, 0, len(s.services))
	for name, svc := range s.services {
		if svc != nil { // a nil service is no service
			names = append(names, name)
		}
	}
	sort.Strings(names)
	if len(names) >= 1<<16 {
		return nil, fmt.Errorf("too many services: %d", len(names))
	}
	s.svcList = make([]Service, 1, len(names)+1)
	s.svcIndex = make(map[string]uint16, len(names))
	for _, name := range names {
		s.svcIndex[name] = uint16(len(s.svcList))
		s.svcList = append(s.svcList, s.services[name])
	}
	switch {
	case opts.HistorySize == 0:
		s.history = newHistory(DefaultHistorySize)
	case opts.HistorySize > 0:
		s.history = newHistory(opts.HistorySize)
	default:
		s.history = newHistory(0)
	}
	var err error
	if s.metrics, err = newMetrics(s, opts.Registerer); err != nil {
		return nil, err
	}
	s.resize(opts.ThreadCount)
	return s, nil
}

// Start starts the loop and the workers. It returns once the loop runs and
// has armed its timer for the earliest fire. Cancelling ctx stops the
// scheduler at once: no grace, running runs are cancelled (runs get a context
// derived from ctx). Start fails with ErrStarted when called twice or after
// Stop.
func (s *Scheduler) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.phase != phaseNew {
		s.mu.Unlock()
		return ErrStarted
	}
	s.runCtx, s.cancelRuns = context.WithCancel(ctx)
	s.recordCtx, s.cancelRecords = context.WithCancel(context.WithoutCancel(s.runCtx))
	s.active = true
	s.ensureWorkers()
	s.phase = phaseRunning
	close(s.started)
	s.mu.Unlock()
	go s.loop(ctx)
	s.do(func() {}) // returns after the first dispatch and arm
	return nil
}

// Started is closed once Start has started the loop.
func (s *Scheduler) Started() <-chan struct{} { return s.started }

// Stop stops firing, lets running runs finish for up to grace on the
// scheduler's clock, then cancels their contexts and waits up to
// Options.CancelWait for them to return. It returns an error when some did
// not. A claimed fire still waiting for a worker once the runs are
// cancelled is not started: it ends cancelled, its service not called. Stop is idempotent, safe before Start and from several goroutines;
// every call returns once the scheduler has stopped. Persisted triggers are
// left in the store as they are.
func (s *Scheduler) Stop(grace time.Duration) error {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		p := s.phase
		if p == phaseNew {
			s.phase = phaseStopped
		}
		s.mu.Unlock()
		if p == phaseRunning {
			s.stopErr = s.shutdown(grace)
		}
		close(s.stopped)
	})
	<-s.stopped
	return s.stopErr
}

// Stopped is closed once Stop has returned.
func (s *Scheduler) Stopped() <-chan struct{} { return s.stopped }

func (s *Scheduler) shutdown(grace time.Duration) error {
	idle := make(chan struct{})
	s.do(func() {
		s.active, s.stopping = false, true
		kept := s.manual[:0]
		for _, m := range s.manual {
			if m.recovery != nil {
				m.e.manualPending--
				m.recovery.end(ErrNotRunning)
				continue
			}
			kept = append(kept, m)
		}
		clear(s.manual[len(kept):])
		s.manual = kept
		if s.busy == 0 {
			close(idle)
		} else {
			s.idle = idle
		}
	})
	var err error
	if !s.waitClock(idle, grace) {
		s.cancelRuns()
		// The ends of the cancelled runs are still recorded; only a store
		// that stalls past CancelWait is given up on.
		if !s.waitClock(idle, s.cancelWait) {
			s.cancelRecords()
			var n int
			s.do(func() { n = s.busy })
			err = fmt.Errorf("stop: %d runs did not return after their context was cancelled", n)
		}
	}
	s.do(func() { s.exit = true })
	<-s.loopDone
	s.cancelRuns()
	s.cancelRecords()
	return err
}

// waitClock waits for ch to close, up to d on the scheduler's clock.
func (s *Scheduler) waitClock(ch <-chan struct{}, d time.Duration) bool {
	if d <= 0 {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	t := s.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C():
		return false
	}
}

// do runs fn with sole access to the loop-owned state and returns after it
// ran: on the loop while it runs, in which case the loop also dispatches due
// fires and re-arms its timer before do returns; otherwise directly, under mu.
// fn must not call do or take mu.
func (s *Scheduler) do(fn func()) {
	s.mu.Lock()
	if s.phase != phaseRunning {
		defer s.mu.Unlock()
		fn()
		return
	}
	r := request{fn: fn, done: make(chan struct{})}
	s.requests = append(s.requests, r)
	s.mu.Unlock()
	s.signal()
	<-r.done
}

// signal wakes the loop without blocking; a pending wake is enough.
func (s *Scheduler) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// loop is the goroutine that owns the trigger set.
func (s *Scheduler) loop(ctx context.Context) {
	ctxDone := ctx.Done()
	for {
		var tick <-chan time.Time
		if s.armed {
			tick = s.timer.C()
		}
		select {
		case <-tick:
			s.armed = false
		case <-s.wake:
		case <-ctxDone:
			ctxDone = nil
			go s.Stop(0)
		}
		s.mu.Lock()
		requests, finished, claimed := s.requests, s.finished, s.claimed
		s.requests, s.finished, s.claimed = s.spareRequests, s.spareFinished, s.spareClaimed
		s.mu.Unlock()

		for _, j := range finished {
			s.finish(j)
		}
		for _, j := range claimed {
			s.claimEnded(j)
		}
		for _, r := range requests {
			r.fn()
		}
		s.dispatch()
		s.arm()
		for _, r := range requests {
			close(r.done)
		}
		clear(requests)
		clear(finished)
		clear(claimed)
		s.spareRequests, s.spareFinished, s.spareClaimed = requests[:0], finished[:0], claimed[:0]
		if s.exit {
			s.exitLoop()
			return
		}
	}
}

func (s *Scheduler) exitLoop() {
	if s.timer != nil {
		s.timer.Stop()
	}
	s.mu.Lock()
	requests := s.requests
	s.requests = nil
	for _, r := range requests {
		r.fn()
	}
	s.phase = phaseStopped
	close(s.loopDone)
	s.mu.Unlock()
	for _, r := range requests {
		close(r.done)
	}
	close(s.work)
	close(s.claimStop)
}

// arm sets the one timer for the earliest fire, or stops it when nothing can
// fire: no trigger armed, nothing to take its fire (see canTake), or
// stopping.
func (s *Scheduler) arm() {
	e := s.heap.peek()
	if !s.active || e == nil || !s.canTake(e) {
		if s.armed {
			s.timer.Stop()
			s.armed = false
		}
		return
	}
	if s.armed && s.armedAt.Equal(e.state.Next) {
		return
	}
	if s.timer == nil {
		// Made armed for the fire: a timer made for any other time would
		// show that time to a fake clock's watchers until it is reset.
		s.timer = s.clock.NewTimer(e.state.Next.Sub(s.clock.Now()))
	}
	// Armed for the instant, not a duration from a Now read a moment ago.
	clock.ResetAt(s.clock, s.timer, e.state.Next)
	s.armed, s.armedAt = true, e.state.Next
}

// resize sets the worker pool size. Workers are never stopped: past a
// smaller size, the loop hands them nothing.
func (s *Scheduler) resize(n int) {
	if n <= 0 {
		n = DefaultThreadCount
	}
	s.threadCount = min(n, MaxThreadCount)
	s.ensureWorkers()
}

// ensureWorkers starts the worker goroutines, and the claimers, once the
// scheduler runs.
func (s *Scheduler) ensureWorkers() {
	if !s.active {
		return
	}
	if s.workers == 0 {
		for range claimers {
			go s.claimer()
		}
	}
	for ; s.workers < s.threadCount; s.workers++ {
		go s.worker()
	}
}
