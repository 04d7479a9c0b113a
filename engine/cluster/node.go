package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sundial/engine/clock"
	"sundial/engine/scheduler"
	"sundial/engine/store"
)

// Defaults.
const (
	// DefaultCheckInInterval is how often a node checks in.
	DefaultCheckInInterval = 2 * time.Second
	// DefaultNodeTimeout is how long a node may go without checking in
	// before the others declare it dead and recover its runs.
	DefaultNodeTimeout = 15 * time.Second
	// DefaultMaxSkew is the clock skew against the database beyond which a
	// node reports itself unhealthy (IDM asks for clocks within 1 s).
	DefaultMaxSkew = time.Second
	// DefaultRetryBudget bounds the retries of one store write of a fire
	// (claim, run end) before it is given up as a store error.
	DefaultRetryBudget = 2 * time.Second
	// DefaultMaxBatch caps the claims or run ends written in one transaction.
	DefaultMaxBatch = 256
	// DefaultUnclaimedTimeout is how long a recovered run that its
	// recoverer could not run (it lacked the schedule) waits for a node
	// that has the schedule, e.g. during a config rollout.
	DefaultUnclaimedTimeout = 2 * time.Minute
	// DefaultRecoveryConcurrency bounds the recovery runs a node executes at
	// once.
	DefaultRecoveryConcurrency = 8
)

// Options configure a Node. Zero values take the defaults.
type Options struct {
	// Store is the database; the Node does not close it.
	Store store.Store
	// NodeID names this node in the store; required.
	NodeID string
	// CheckInInterval is how often the node checks in; NodeTimeout how long
	// a node may stay silent before it is declared dead. NodeTimeout must be
	// at least twice CheckInInterval.
	CheckInInterval time.Duration
	NodeTimeout     time.Duration
	// MaxSkew is the clock skew against the database that is reported.
	MaxSkew time.Duration
	// RetryBudget bounds the retries of a fire's store writes.
	RetryBudget time.Duration
	// MaxBatch caps the fires claimed (or runs ended) per transaction.
	MaxBatch int
	// Grace is how long Stop lets recovery runs finish before cancelling
	// them.
	Grace time.Duration
	// Info is reported at every check-in (JSON: version, address, ...).
	Info json.RawMessage
	// PreviousGone reports whether the process that last checked in under
	// this node id (another instance, seen at Start checking in less than
	// NodeTimeout ago) is provably gone, e.g. it ran on this host and its
	// pid no longer exists: Start then takes over at once. Otherwise (or
	// when nil) Start waits for that process's check-in to go stale, and
	// refuses to start if it checks in again meanwhile.
	PreviousGone func(stored store.Node) bool
	// Has reports whether this node can run the runs of a schedule (it has
	// it in its configuration); nil: every schedule. Recoveries of runs of
	// the other schedules are handed back, unclaimed, for another node.
	Has func(scheduleID string) bool
	// UnclaimedTimeout is how long a run handed back unclaimed waits for a
	// node that has its schedule before it is recorded abandoned; default
	// DefaultUnclaimedTimeout. A run whose schedule no node has (no trigger
	// or API schedule stored) is abandoned at once.
	UnclaimedTimeout time.Duration
	// Logger receives the node's lines; default: discard.
	Logger *slog.Logger
	// Clock times check-ins, fencing, retries and waits; default the real
	// clock. The database keeps its own time for check-ins and node
	// timeouts.
	Clock clock.Clock
	// Registerer receives the node's metrics; nil: not registered.
	Registerer prometheus.Registerer

	// What the node asks of the process around it; nil: nothing. They may
	// be called from Start on, on the node's goroutines.

	// Adopt continues schedules from stored states (scheduler.Adopt).
	Adopt func(states []scheduler.TriggerState) int
	// Recover runs a recovered run: a run of a persisted schedule that a
	// dead node (or this node's previous process) left running. The run is
	// recorded as running on this node; its outcome is recorded from the
	// returned error. Runs of schedules this node does not have should
	// return an error saying so.
	Recover func(ctx context.Context, run store.Run) error
	// ConfigHash returns the config version the node applied, reported at
	// every check-in.
	ConfigHash func() string
	// OnChanges receives, in order, what the change log recorded after the
	// node started: REST schedules put or deleted and triggers paused or
	// resumed, by any node (this one included). It is called from one
	// goroutine, every ChangesInterval while there are changes; nil: the
	// log is not read. A change is handed over once, unless the store
	// fails between reads (then the batch is read again, whole).
	OnChanges func(ctx context.Context, changes []store.Change)
	// ChangesInterval is how often the change log is read; default
	// DefaultChangesInterval.
	ChangesInterval time.Duration
	// ExecutePersisted reports scheduler.json's executePersistentSchedules:
	// when false the node recovers no runs of others (and abandons its own
	// leftover runs at start).
	ExecutePersisted func() bool
}

// Node is one node's persistence and cluster membership. It implements
// scheduler.StateStore and scheduler.SkipRecorder. Create it with New,
// then Start; Stop when done.
type Node struct {
	st store.Store
	id string
	// instance tells this process's check-ins from those of another
	// process using the same node id.
	instance string
	opts     Options
	log      *slog.Logger
	clock    clock.Clock
	metrics  *metrics
	// storeBack gets a value when the store answers again (see StoreBack).
	storeBack chan struct{}
	// staleAfter: a node whose own last check-in is this old stops firing
	// persisted schedules; the others declare it dead at NodeTimeout.
	staleAfter time.Duration

	claims   *batcher[store.ClaimFire, store.ClaimResult]
	finishes *batcher[store.FinishRun, store.FinishResult]
	rec      *recorder

	// persisted holds the persisted schedules of the last SyncTriggers, so
	// that skipped fires of persisted schedules are recorded once for the
	// cluster.
	persistedMu sync.RWMutex
	persisted   map[string]bool
	// runs maps the fire id of each run in progress to how it is recorded.
	runs sync.Map // string → runRef
	// ending counts the run ends being written in the background.
	ending sync.WaitGroup

	mu     sync.Mutex
	health health
	// pending are run ends the store did not take; the loop retries them.
	pending []store.FinishRun

	started   chan struct{}
	startOnce sync.Once
	stopOnce  sync.Once
	stopped   chan struct{}
	cancel    context.CancelFunc
	loopDone  chan struct{}
	// changesDone is closed when watchChanges returns (at once without
	// Options.OnChanges).
	changesDone chan struct{}
	recoverCtx  context.Context
	recoverEnd  context.CancelFunc
	recovering  sync.WaitGroup
	recoverSem  chan struct{}
}

// runRef is how a run in progress is recorded.
type runRef struct {
	id        string // run id in the store
	persisted bool   // its end is retried until recorded
	blocks    bool   // its trigger stays blocked until its end is recorded
}

// health is what Status reports; guarded by Node.mu.
type health struct {
	started     bool
	stopped     bool
	down        bool      // the last store call failed
	lastErr     string    // its error
	failures    int       // consecutive failed check-ins
	lastOK      time.Time // local time when the last successful check-in began
	lastCheckIn time.Time // database time of the last check-in
	skew        time.Duration
	skewed      bool
	resync      bool // stored triggers must be read back when the store answers
	configHash  string
}

// New returns a Node; it does nothing until Start.
func New(opts Options) (*Node, error) {
	if opts.Store == nil {
		return nil, errors.New("cluster node: no store")
	}
	if opts.NodeID == "" {
		return nil, errors.New("cluster node: no node id")
	}
	if opts.CheckInInterval <= 0 {
		opts.CheckInInterval = DefaultCheckInInterval
	}
	if opts.NodeTimeout <= 0 {
		opts.NodeTimeout = DefaultNodeTimeout
	}
	if opts.NodeTimeout < 2*opts.CheckInInterval {
		return nil, fmt.Errorf("cluster node: node timeout %s must be at least twice the check-in interval %s",
			opts.NodeTimeout, opts.CheckInInterval)
	}
	if opts.MaxSkew <= 0 {
		opts.MaxSkew = DefaultMaxSkew
	}
	if opts.RetryBudget <= 0 {
		opts.RetryBudget = DefaultRetryBudget
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.UnclaimedTimeout <= 0 {
		opts.UnclaimedTimeout = DefaultUnclaimedTimeout
	}
	if opts.Grace <= 0 {
		opts.Grace = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.ChangesInterval <= 0 {
		opts.ChangesInterval = DefaultChangesInterval
	}
	n := &Node{
		st:          opts.Store,
		id:          opts.NodeID,
		opts:        opts,
		log:         opts.Logger,
		clock:       opts.Clock,
		staleAfter:  opts.NodeTimeout - opts.CheckInInterval,
		persisted:   map[string]bool{},
		started:     make(chan struct{}),
		stopped:     make(chan struct{}),
		loopDone:    make(chan struct{}),
		changesDone: make(chan struct{}),
		recoverSem:  make(chan struct{}, DefaultRecoveryConcurrency),
		storeBack:   make(chan struct{}, 1),
		instance:    newInstance(),
	}
	n.recoverCtx, n.recoverEnd = context.WithCancel(context.Background())
	var err error
	if n.metrics, err = newMetrics(n, opts.Registerer); err != nil {
		return nil, err
	}
	n.claims = newBatcher(opts.MaxBatch, 2, n.claimBatch)
	n.finishes = newBatcher(opts.MaxBatch, 1, n.finishBatch)
	n.rec = newRecorder(n)
	return n, nil
}

// StoreBack receives a value when the store answers again after failing,
// e.g. to retry a config reload that failed meanwhile; several such moments
// before a receive make one value.
func (n *Node) StoreBack() <-chan struct{} { return n.storeBack }

// Start checks the node in, recovers the runs that its previous process left
// running (handing the recoverable ones to Options.Recover), and starts the
// check-in loop. It returns once that is done, or the first check-in's error:
// a node that cannot reach its database does not start. Start fails when
// called twice or after Stop.
func (n *Node) Start(ctx context.Context) error {
	var err error = errors.New("cluster node: node already started or stopped")
	n.startOnce.Do(func() { err = n.start(ctx) })
	return err
}

func (n *Node) start(ctx context.Context) error {
	select {
	case <-n.stopped:
		return errors.New("cluster node: node stopped")
	default:
	}
	node, err := n.join(ctx)
	if errors.Is(err, store.ErrNodeInUse) {
		return err
	}
	if err != nil {
		return fmt.Errorf("check in node %s: %w", n.id, err)
	}
	if node.WasDeclaredDead {
		n.log.Warn("this node was declared dead by the cluster while it was away; its runs were recovered elsewhere",
			"node", n.id, "recoveredBy", node.RecoveredBy)
	}
	seq, err := n.startSeq(ctx)
	if err != nil {
		return fmt.Errorf("read where node %s's change log starts: %w", n.id, err)
	}
	if err := n.recoverSelf(ctx); err != nil {
		return fmt.Errorf("recover the runs of node %s's previous process: %w", n.id, err)
	}
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n.cancel = cancel
	n.mu.Lock()
	n.health.started = true
	n.mu.Unlock()
	close(n.started)
	go n.loop(loopCtx)
	if n.opts.OnChanges != nil {
		go n.watchChanges(loopCtx, seq)
	} else {
		close(n.changesDone)
	}
	return nil
}

// Started is closed once Start has succeeded.
func (n *Node) Started() <-chan struct{} { return n.started }

// Stop stops the check-in loop, lets recovery runs finish for up to
// Options.Grace (then cancels them), writes the run ends still pending, and
// stops the batchers. Stop the scheduler first: its run ends go through the
// Node. Stop is idempotent and safe before Start; it does not close the
// store.
func (n *Node) Stop() {
	n.stopOnce.Do(func() {
		close(n.stopped)
		n.startOnce.Do(func() {}) // a later Start fails
		if n.cancel != nil {
			n.cancel()
			<-n.loopDone
			<-n.changesDone
		}
		done := make(chan struct{})
		go func() {
			n.recovering.Wait()
			close(done)
		}()
		grace := n.clock.NewTimer(n.opts.Grace)
		select {
		case <-done:
		case <-grace.C():
			n.recoverEnd()
			<-done
		}
		grace.Stop()
		n.recoverEnd()
		n.ending.Wait() // each bounded by the retry budget
		ctx, cancel := context.WithTimeout(context.Background(), n.opts.RetryBudget)
		n.flushPending(ctx)
		n.leave(ctx)
		cancel()
		n.rec.stop(n.opts.RetryBudget)
		n.claims.shutdown()
		n.finishes.shutdown()
		n.mu.Lock()
		n.health.stopped = true
		n.mu.Unlock()
	})
}

// Stopped is closed once Stop has begun.
func (n *Node) Stopped() <-chan struct{} { return n.stopped }

// Status is what /healthz shows about the store and the cluster.
type Status struct {
	// Store describes the database (backend, host, database or file).
	Store string `json:"store"`
	Node  string `json:"node"`
	// Reachable is false while store calls fail.
	Reachable bool `json:"reachable"`
	// Firing is true while the node may fire persisted schedules: started,
	// the store reachable and its own check-in fresh.
	Firing bool `json:"firing"`
	// LastCheckIn is the database time of the last successful check-in;
	// CheckInAge how long ago (node time) it began.
	LastCheckIn time.Time `json:"lastCheckIn"`
	CheckInAge  float64   `json:"checkInAgeSeconds"`
	// ClockSkew is node time minus database time at the last check-in;
	// ClockSkewed is set beyond Options.MaxSkew.
	ClockSkew   float64 `json:"clockSkewSeconds"`
	ClockSkewed bool    `json:"clockSkewed"`
	// ConfigHash is the config version reported at the last check-in.
	ConfigHash string `json:"configHash"`
	// Error is the last store error, while the store fails.
	Error string `json:"error,omitempty"`
	// PendingRunEnds counts run outcomes waiting for the store.
	PendingRunEnds int `json:"pendingRunEnds"`
}

// Healthy reports a node that reaches its store, fires its persisted
// schedules and keeps its clock within the skew limit.
func (s Status) Healthy() bool { return s.Reachable && s.Firing && !s.ClockSkewed }

// Status returns the node's current status.
func (n *Node) Status() Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	h := n.health
	st := Status{
		Store:          describe(n.st),
		Node:           n.id,
		Reachable:      !h.down,
		Firing:         n.firingLocked(n.clock.Now()) == nil,
		LastCheckIn:    h.lastCheckIn,
		ClockSkew:      h.skew.Seconds(),
		ClockSkewed:    h.skewed,
		ConfigHash:     h.configHash,
		PendingRunEnds: len(n.pending),
	}
	if !h.lastOK.IsZero() {
		st.CheckInAge = n.clock.Now().Sub(h.lastOK).Seconds()
	}
	if h.down {
		st.Error = h.lastErr
	}
	return st
}

func describe(s store.Store) string {
	if d, ok := s.(fmt.Stringer); ok {
		return d.String()
	}
	return fmt.Sprintf("%T", s)
}

// ErrFenced: the node may not fire persisted schedules now (the store fails,
// or its own check-in is stale). The fire is retried from the stored state
// once the node checks in again.
var ErrFenced = errors.New("not firing persisted schedules")

// firingLocked returns nil when the node may fire persisted schedules.
func (n *Node) firingLocked(now time.Time) error {
	h := &n.health
	switch {
	case !h.started:
		return fmt.Errorf("%w: node not started", ErrFenced)
	case h.stopped:
		return fmt.Errorf("%w: node stopped", ErrFenced)
	case h.down:
		return fmt.Errorf("%w: store unavailable: %s", ErrFenced, h.lastErr)
	case now.Sub(h.lastOK) >= n.staleAfter:
		return fmt.Errorf("%w: last check-in %s ago", ErrFenced, now.Sub(h.lastOK).Round(time.Millisecond))
	}
	return nil
}

// fenced returns ErrFenced (wrapped) when the node may not fire, and then
// asks for a resync at the next successful check-in.
func (n *Node) fenced() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	err := n.firingLocked(n.clock.Now())
	if err != nil {
		n.health.resync = true
	}
	return err
}

// storeFailed records a failed store call: the node fences itself until a
// check-in succeeds, then reads the stored triggers back.
func (n *Node) storeFailed(op string, err error) {
	if errors.Is(err, errStopped) || errors.Is(err, store.ErrInvalid) || errors.Is(err, context.Canceled) {
		return // not the store's failure: a stop, a bad request, a caller that gave up
	}
	n.metrics.storeErrors.WithLabelValues(op).Inc()
	n.mu.Lock()
	was := n.health.down
	n.health.down, n.health.lastErr, n.health.resync = true, err.Error(), true
	n.mu.Unlock()
	n.metrics.up.Set(0)
	if !was {
		n.log.Error("store unavailable: persisted schedules stop firing on this node until it checks in again",
			"node", n.id, "op", op, "err", err)
	}
}
