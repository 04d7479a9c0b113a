package taskscanner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"sundial/engine/actor"
	"sundial/engine/clock"
	"sundial/engine/managed"
	"sundial/engine/query"
	"sundial/engine/scheduler"
	"sundial/engine/script"
	"sundial/engine/store"
	syncsvc "sundial/engine/sync"
)

// ServiceName is the invokeService short name of the task scanner.
const ServiceName = "taskscanner"

// DefaultMaxCompletedRuns is how many completed runs are kept when
// Options.MaxCompletedRuns is nil or says 0 or less (IDM's
// openidm.taskscanner.maxcompletedruns).
const DefaultMaxCompletedRuns = 100

// pageSize is how many matches a scan reads per query: the scan streams
// the matches page by page and never holds more than a page and the
// objects in flight.
const pageSize = 500

// The states of a run.
const (
	StateInitialized = "INITIALIZED"
	StateActive      = "ACTIVE"
	StateCompleted   = "COMPLETED"
	StateCancelled   = "CANCELLED"
	StateError       = "ERROR"
)

// Sentinel errors.
var (
	// ErrNotFound: no run with that id.
	ErrNotFound = errors.New("task scan run not found")
	// ErrNoObjects: the node has no store of managed objects.
	ErrNoObjects = errors.New("no store holds managed objects (the store is memory)")
)

// Options configure a Scanner.
type Options struct {
	// Objects holds the managed objects; nil fails every scan with
	// ErrNoObjects. Through implicit sync (the daemon's
	// sync.SyncedObjects), a claim or a unit that committed and whose sync
	// failed has an error wrapping sync.ErrSyncFailed: a failure of that
	// object, as in IDM.
	Objects store.Objects
	// Declared reports whether managed.json declares a type; nil declares
	// none.
	Declared func(typ string) bool
	// Scripts returns the script engine of the moment (it changes on
	// reloads); each scan takes one at its start.
	Scripts func() *script.Engine
	Clock   clock.Clock
	Logger  *slog.Logger
	// MaxCompletedRuns bounds the COMPLETED runs kept (in memory and in
	// Runs), asked at each new run (nil, or 0 or less:
	// DefaultMaxCompletedRuns); other runs are kept until they complete.
	MaxCompletedRuns func() int
	// Runs stores the runs and their progress, so that a restart or
	// another node lists them; nil keeps them in memory only.
	Runs store.ScanRuns
	// Node is this node's id, stored with its runs.
	Node string
}

// progressInterval is how often a run's progress is stored while it goes
// on (and once more at its end): seldom enough to cost the scan nothing.
const progressInterval = time.Second

// Scanner is the task scanner: it runs task scans (from the scheduler, as
// a scheduler.Service, or from Execute) and keeps their progress in
// memory and, with Options.Runs, in the store: started, then once a
// progressInterval and at the end, the newest MaxCompletedRuns COMPLETED
// ones kept. Runs and Run list the stored runs of every node, this
// node's own as it sees them now. A run a node left unfinished (killed
// mid-scan) is listed as it was stored, ACTIVE with its node, until that
// node starts again: New marks its unfinished runs ERROR, ended then.
type Scanner struct {
	opts Options
	// base is the context of runs that outlive their caller
	// (waitForCompletion false); Close cancels it.
	base     context.Context
	stopAll  context.CancelFunc
	inFlight sync.WaitGroup

	mu   sync.Mutex
	runs []*run // in start order
	byID map[string]*run
}

var _ scheduler.Service = (*Scanner)(nil)

// New returns a Scanner.
func New(opts Options) *Scanner {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	base, stop := context.WithCancel(context.Background())
	s := &Scanner{opts: opts, base: base, stopAll: stop, byID: map[string]*run{}}
	if opts.Runs != nil {
		ctx, cancel := context.WithTimeout(base, storeTimeout)
		defer cancel()
		n, err := opts.Runs.InterruptScanRuns(ctx, store.InterruptScanRunsParams{Node: opts.Node,
			States: []string{StateInitialized, StateActive}, State: StateError, At: opts.Clock.Now()})
		switch {
		case err != nil:
			opts.Logger.Warn("task scanner could not mark this node's unfinished runs", "node", opts.Node, "err", err)
		case n > 0:
			opts.Logger.Warn("task scan runs this node left unfinished are marked ERROR", "node", opts.Node, "runs", n)
		}
	}
	return s
}

// storeTimeout bounds each store call about runs.
const storeTimeout = 10 * time.Second

// Close cancels the runs going on in the background and waits for them
// (their objects in flight finish or are interrupted with the context).
func (s *Scanner) Close() {
	s.stopAll()
	s.inFlight.Wait()
}

// Invoke runs one fire of a schedule with invokeService taskscanner, named
// schedule/<id>, with the fire id as the run id. Without
// waitForCompletion it returns once the scan has started; with it, when
// the scan is over.
func (s *Scanner) Invoke(ctx context.Context, r scheduler.Run) error {
	_, err := s.Execute(ctx, ExecuteParams{
		ID:            r.FireID,
		Name:          "schedule/" + r.ScheduleID,
		InvokeContext: r.Schedule.InvokeContext.Map(),
		LogLevel:      r.Schedule.InvokeLogLevel,
	})
	return err
}

// ExecuteParams describe a scan to start.
type ExecuteParams struct {
	ID            string // "" for a random UUID
	Name          string // schedule/<id>
	InvokeContext map[string]any
	LogLevel      string // the scripts' log level
	// Wait overrides the invokeContext's waitForCompletion when set.
	Wait *bool
}

// Execute starts a scan and returns its status: at once when the scan
// runs in the background, at its end otherwise. A scan that cannot start
// (a bad invokeContext, an undeclared type, a script that does not
// compile) is an error and leaves no run.
func (s *Scanner) Execute(ctx context.Context, p ExecuteParams) (Status, error) {
	now := s.opts.Clock.Now()
	sc, err := parseScan(p.InvokeContext, now)
	if err != nil {
		return Status{}, fmt.Errorf("%s: %w", p.Name, err)
	}
	if p.Wait != nil {
		sc.wait = *p.Wait
	}
	if s.opts.Objects == nil {
		return Status{}, fmt.Errorf("%s: %w", p.Name, ErrNoObjects)
	}
	if s.opts.Declared == nil || !s.opts.Declared(sc.typ) {
		return Status{}, fmt.Errorf("%s: %s: %w", p.Name, sc.object, managed.ErrUnknownType)
	}
	engine := s.opts.Scripts()
	if engine == nil {
		return Status{}, fmt.Errorf("%s: no script engine", p.Name)
	}
	if sc.spec, err = engine.Load(sc.spec); err != nil {
		return Status{}, fmt.Errorf("%s: invokeContext.task.script: %w", p.Name, err)
	}
	id := p.ID
	if id == "" {
		id = uuid.NewString()
	}
	r := &run{id: id, name: p.Name, node: s.opts.Node, started: now, state: StateInitialized, total: -1, cancelled: make(chan struct{})}
	if err := s.add(r); err != nil {
		return Status{}, err
	}
	s.store(r)
	x := &execution{s: s, run: r, scan: sc, engine: engine, logLevel: p.LogLevel,
		logger:    s.opts.Logger.With("taskscan", r.id, "name", r.name),
		resources: managed.Resources{Objects: s.opts.Objects, Declared: s.opts.Declared}}
	// The scan (schedule/<id>) is who changes what its claims and
	// scripts change.
	who := actor.Actor{UserID: p.Name, TransactionID: id}
	if sc.wait {
		x.execute(actor.With(ctx, who))
		return r.status(), nil
	}
	s.inFlight.Add(1)
	go func() {
		defer s.inFlight.Done()
		x.execute(actor.With(s.base, who))
	}()
	return r.status(), nil
}

// add records a new run, first forgetting the oldest COMPLETED runs beyond
// MaxCompletedRuns.
func (s *Scanner) add(r *run) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byID[r.id]; ok {
		return fmt.Errorf("%s: a run with id %q exists", r.name, r.id)
	}
	completed := 0
	for _, x := range s.runs {
		if x.status().Progress.State == StateCompleted {
			completed++
		}
	}
	if excess := completed - s.keepCompleted() + 1; excess > 0 {
		kept := s.runs[:0]
		for _, x := range s.runs {
			if excess > 0 && x.status().Progress.State == StateCompleted {
				excess--
				delete(s.byID, x.id)
				continue
			}
			kept = append(kept, x)
		}
		clear(s.runs[len(kept):])
		s.runs = kept
	}
	s.runs = append(s.runs, r)
	s.byID[r.id] = r
	return nil
}

// keepCompleted is how many COMPLETED runs are kept.
func (s *Scanner) keepCompleted() int {
	if s.opts.MaxCompletedRuns != nil {
		if n := s.opts.MaxCompletedRuns(); n > 0 {
			return n
		}
	}
	return DefaultMaxCompletedRuns
}

// Runs returns the status of every run kept, in start order: the stored
// runs of every node, this node's as it sees them now (and only those
// when the store cannot be read, which is logged).
func (s *Scanner) Runs() []Status {
	s.mu.Lock()
	mine := make(map[string]Status, len(s.runs))
	out := make([]Status, 0, len(s.runs))
	for _, r := range s.runs {
		st := r.status()
		mine[r.id] = st
		out = append(out, st)
	}
	s.mu.Unlock()
	if s.opts.Runs == nil {
		return out
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	stored, err := s.opts.Runs.ListScanRuns(ctx)
	if err != nil {
		s.opts.Logger.Warn("task scanner could not list the stored runs", "err", err)
		return out
	}
	for _, sr := range stored {
		if _, ok := mine[sr.ID]; !ok {
			out = append(out, statusOf(sr))
		}
	}
	slices.SortStableFunc(out, func(a, b Status) int { return a.Started.Compare(b.Started) })
	return out
}

// Run returns one run's status: this node's, or a stored one.
func (s *Scanner) Run(id string) (Status, error) {
	if r, err := s.find(id); err == nil {
		return r.status(), nil
	}
	sr, err := s.stored(id)
	if err != nil {
		return Status{}, err
	}
	return statusOf(sr), nil
}

// stored reads a run from the store.
func (s *Scanner) stored(id string) (store.ScanRun, error) {
	notFound := fmt.Errorf("task with id '%s' not found: %w", id, ErrNotFound)
	if s.opts.Runs == nil {
		return store.ScanRun{}, notFound
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	sr, err := s.opts.Runs.ReadScanRun(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return sr, notFound
	}
	return sr, err
}

// statusOf is a stored run's status.
func statusOf(sr store.ScanRun) Status {
	return Status{ID: sr.ID, Name: sr.Name, Node: sr.Node, Started: sr.Started, Ended: sr.Ended,
		Progress: Progress{State: sr.State, Processed: sr.Processed, Total: sr.Total, Successes: sr.Successes, Failures: sr.Failures}}
}

// store writes r's status to the store (a failure is logged: the run goes
// on, listed by this node).
func (s *Scanner) store(r *run) {
	if s.opts.Runs == nil {
		return
	}
	st := r.status()
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	err := s.opts.Runs.PutScanRun(ctx, store.ScanRun{ID: st.ID, Name: st.Name, Node: st.Node, State: st.Progress.State,
		Processed: st.Progress.Processed, Total: st.Progress.Total, Successes: st.Progress.Successes, Failures: st.Progress.Failures,
		Started: st.Started, Ended: st.Ended})
	if err != nil {
		s.opts.Logger.Warn("task scanner could not store a run's progress", "taskscan", st.ID, "err", err)
	}
}

// pruneStored deletes the oldest stored COMPLETED runs beyond
// MaxCompletedRuns.
func (s *Scanner) pruneStored() {
	if s.opts.Runs == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := s.opts.Runs.PruneScanRuns(ctx, store.PruneScanRunsParams{State: StateCompleted, Keep: s.keepCompleted()}); err != nil {
		s.opts.Logger.Warn("task scanner could not prune the stored runs", "err", err)
	}
}

func (s *Scanner) find(id string) (*run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.byID[id]
	if !ok {
		return nil, fmt.Errorf("task with id '%s' not found: %w", id, ErrNotFound)
	}
	return r, nil
}

// Cancel cancels a run: it claims no more objects, and the objects in
// flight finish. It reports false for a run that is over already (a
// completed run cannot be cancelled).
func (s *Scanner) Cancel(id string) (bool, error) {
	r, err := s.find(id)
	if err == nil {
		return r.cancel(s.opts.Clock.Now()), nil
	}
	sr, err := s.stored(id)
	switch {
	case err != nil:
		return false, err
	case !sr.Ended.IsZero():
		return false, nil
	}
	return false, fmt.Errorf("task scan run %s runs on node %s: cancel it there", id, sr.Node)
}

// Wait waits for a run to end (or ctx to be done) and returns its status.
func (s *Scanner) Wait(ctx context.Context, id string) (Status, error) {
	r, err := s.find(id)
	if err != nil {
		return Status{}, err
	}
	select {
	case <-r.done():
		return r.status(), nil
	case <-ctx.Done():
		return r.status(), ctx.Err()
	}
}

// Progress is a run's counts: processed = successes + failures; objects
// another scanner owns are not counted, so a completed run may have
// processed < total. Total is -1 until the scan has counted its matches.
type Progress struct {
	State     string `json:"state"`
	Processed int64  `json:"processed"`
	Total     int64  `json:"total"`
	Successes int64  `json:"successes"`
	Failures  int64  `json:"failures"`
}

// Status is a run as the REST API shows it.
type Status struct {
	ID       string
	Name     string
	Node     string // the node that runs (or ran) it
	Progress Progress
	Started  time.Time
	Ended    time.Time // zero while the run goes on
}

// Map is the status in IDM's JSON shape: _id, name, progress, started
// and ended (ISO 8601 UTC with milliseconds; ended null while running),
// and Sundial's node.
func (st Status) Map() map[string]any {
	var ended any
	if !st.Ended.IsZero() {
		ended = isoMillis(st.Ended)
	}
	return map[string]any{
		"_id":  st.ID,
		"name": st.Name,
		"progress": map[string]any{
			"state": st.Progress.State, "processed": st.Progress.Processed, "total": st.Progress.Total,
			"successes": st.Progress.Successes, "failures": st.Progress.Failures,
		},
		"started": isoMillis(st.Started),
		"ended":   ended,
		"node":    st.Node,
	}
}

// isoMillis is IDM's timestamp format.
func isoMillis(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// run is one scan's progress; the counters are atomic, the rest under mu.
type run struct {
	id, name string
	node     string
	started  time.Time

	successes, failures atomic.Int64

	mu        sync.Mutex
	state     string
	total     int64
	ended     time.Time
	cancelled chan struct{} // closed by cancel
	finished  chan struct{} // closed at the end; made lazily by done
	over      bool
}

func (r *run) status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, f := r.successes.Load(), r.failures.Load()
	return Status{ID: r.id, Name: r.name, Node: r.node, Started: r.started, Ended: r.ended,
		Progress: Progress{State: r.state, Processed: s + f, Total: r.total, Successes: s, Failures: f}}
}

func (r *run) setState(state string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state != StateCancelled {
		r.state = state
	}
}

func (r *run) setTotal(n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.total = n
}

// cancel marks the run CANCELLED unless it is over.
func (r *run) cancel(now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.over {
		return false
	}
	if r.state != StateCancelled {
		r.state = StateCancelled
		close(r.cancelled)
	}
	return true
}

func (r *run) isCancelled() bool {
	select {
	case <-r.cancelled:
		return true
	default:
		return false
	}
}

// finish ends the run in state (a cancelled run stays CANCELLED).
func (r *run) finish(state string, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state != StateCancelled {
		r.state = state
	}
	r.ended = now
	r.over = true
	if r.finished != nil {
		close(r.finished)
	}
}

func (r *run) done() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished == nil {
		r.finished = make(chan struct{})
		if r.over {
			close(r.finished)
		}
	}
	return r.finished
}

// execution is one scan going on.
type execution struct {
	s         *Scanner
	run       *run
	scan      *scan
	engine    *script.Engine
	logLevel  string
	logger    *slog.Logger
	resources managed.Resources
	program   *query.Program
}

// claimBatchMax bounds how many matches one claim transaction takes; a
// scan claims min(claimBatchMax, 4×numberOfThreads) at a time, so the
// claims waiting for a worker stay few and young next to any recovery
// timeout.
const claimBatchMax = 100

// completionBatchMax and completionDelay bound a completion batch: the
// completer commits once it holds completionBatchMax completions, or
// completionDelay after the first of them, whichever comes first.
const (
	completionBatchMax = 1000
	completionDelay    = 5 * time.Millisecond
)

// claimed is an object this scan owns: as the claim wrote it, with the
// claim's started stamp.
type claimed struct {
	object store.Object
	stamp  string
}

// completion is a success to record: the task's unit of work, its
// completion included.
type completion struct {
	objectID string
	writes   []store.ObjectWrite
}

// execute streams the matches to the claimer, the claims to the scan's
// threads, and their successes to the completer, and waits for all.
func (x *execution) execute(ctx context.Context) {
	var err error
	if x.program, err = query.Compile(x.scan.filter); err != nil {
		x.logger.Error("task scan failed", "err", err)
		x.run.finish(StateError, x.s.opts.Clock.Now())
		x.s.store(x.run)
		return
	}
	if ix, ok := x.s.opts.Objects.(store.ObjectIndexer); ok {
		// The fields the filter compares are indexed before the first
		// scan pages through them (once per field and process).
		if err := ix.IndexObjectFilter(ctx, store.IndexObjectFilterParams{Type: x.scan.typ, Filter: x.scan.filter}); err != nil {
			x.logger.Warn("task scan could not index its filter's fields", "err", err)
		}
	}
	x.run.setState(StateActive)
	x.s.store(x.run)
	progressDone := make(chan struct{})
	progressStopped := make(chan struct{})
	go func() {
		defer close(progressStopped)
		tick := time.NewTicker(progressInterval)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				x.s.store(x.run)
			case <-progressDone:
				return
			}
		}
	}()
	defer func() {
		close(progressDone)
		<-progressStopped
		x.s.store(x.run)
		x.s.pruneStored()
	}()
	x.logger.Info("task scan started", "object", x.scan.object, "filter", x.scan.filterText, "threads", x.scan.threads)
	batch := min(claimBatchMax, 4*x.scan.threads)
	work := make(chan claimed, batch)
	completions := make(chan completion, completionBatchMax)
	completerDone := make(chan struct{})
	go func() {
		defer close(completerDone)
		// Completions are written even when ctx ends: their scripts ran.
		x.complete(context.WithoutCancel(ctx), completions)
	}()
	// Claims and scripts commit without waiting for the disk; each
	// completion batch's durable commit makes them durable with it
	// before its successes count, so a power loss loses only what a
	// crash of the process loses (store.WithDeferredSync).
	deferred := store.WithDeferredSync(ctx)
	var wg sync.WaitGroup
	for range x.scan.threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				if ctx.Err() != nil {
					continue // drain: the claimer stops soon
				}
				x.process(deferred, c, completions)
			}
		}()
	}
	err = x.stream(deferred, batch, work)
	close(work)
	wg.Wait()
	close(completions)
	<-completerDone
	st := x.run.status()
	state := StateCompleted
	if err != nil {
		state = StateError
		x.logger.Error("task scan failed", "err", err, "successes", st.Progress.Successes, "failures", st.Progress.Failures)
	}
	x.run.finish(state, x.s.opts.Clock.Now())
	st = x.run.status()
	x.logger.Info("task scan ended", "state", st.Progress.State, "total", st.Progress.Total,
		"successes", st.Progress.Successes, "failures", st.Progress.Failures)
}

// stream pages through the matches, at most maxRecords of them, claims
// them batch by batch and sends the claimed ones on, until the run is
// cancelled. What is claimed is sent even when the run is cancelled
// meanwhile: those objects are in flight.
func (x *execution) stream(ctx context.Context, batch int, out chan<- claimed) error {
	sent := 0
	cookie := ""
	for first := true; ; first = false {
		page, err := x.s.opts.Objects.QueryObjects(ctx, store.QueryObjectsParams{
			Type: x.scan.typ, Filter: x.scan.filter, PageSize: pageSize, Cookie: cookie, CountTotal: first})
		if err != nil {
			return fmt.Errorf("query %s: %w", x.scan.object, err)
		}
		if first {
			total := int64(page.Total)
			if x.scan.maxRecords >= 0 {
				total = min(total, int64(x.scan.maxRecords))
			}
			x.run.setTotal(total)
		}
		objs := page.Objects
		if x.scan.maxRecords >= 0 {
			objs = objs[:min(len(objs), x.scan.maxRecords-sent)]
		}
		for len(objs) > 0 {
			if x.run.isCancelled() {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			n := min(batch, len(objs))
			for _, c := range x.claimBatch(ctx, objs[:n]) {
				select {
				case out <- c:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			sent += n
			objs = objs[n:]
		}
		if x.scan.maxRecords >= 0 && sent >= x.scan.maxRecords {
			return nil
		}
		if cookie = page.Cookie; cookie == "" {
			return nil
		}
	}
}

// errNotClaimable is a claim that finds the object owned by another scan.
var errNotClaimable = errors.New("claimed by another scan")

// maxClaimAttempts bounds the claims of one object that lose a revision
// race and find it still claimable.
const maxClaimAttempts = 5

// claimBatch claims the objects in one transaction: claimModify on each
// object as the query read it, committed as one unit per object checked
// against the revision the query read (so the store reads no document
// again). It returns those claimed. An object whose revision changed
// since is read again and claimed on its own (claim).
func (x *execution) claimBatch(ctx context.Context, objs []store.Object) []claimed {
	stamp := isoMillis(x.s.opts.Clock.Now())
	modify := x.claimModify(stamp)
	units := make([]store.ObjectUnit, 0, len(objs))
	tried := make([]store.Object, 0, len(objs))
	for _, o := range objs {
		c, err := modify(o.Content)
		switch {
		case errors.Is(err, errNotClaimable):
			continue
		case err != nil:
			x.run.failures.Add(1)
			x.logger.Warn("task scan could not claim an object", "objectID", x.scan.object+"/"+o.ID, "err", err)
			continue
		}
		o.Content = c
		units = append(units, store.ObjectUnit{Writes: []store.ObjectWrite{{Type: x.scan.typ, ID: o.ID, Rev: o.Rev, Content: c}}})
		tried = append(tried, o)
	}
	if len(units) == 0 {
		return nil
	}
	res, err := x.s.opts.Objects.CommitObjectUnits(ctx, store.CommitObjectUnitsParams{Units: units})
	if err != nil {
		x.run.failures.Add(int64(len(units)))
		x.logger.Warn("task scan could not claim objects", "objects", len(units), "err", err)
		return nil
	}
	var out []claimed
	for i, err := range res {
		o := tried[i]
		switch {
		case err == nil:
			o.Rev = nextRev(o.Rev)
			o.Content["_rev"] = o.Rev
			out = append(out, claimed{object: o, stamp: stamp})
		case errors.Is(err, store.ErrNotFound):
		case errors.Is(err, store.ErrConflict):
			if rev, ok := x.stillClaimable(ctx, o.ID); ok {
				if c, ok := x.claim(ctx, o.ID, rev); ok {
					out = append(out, c)
				}
			}
		default:
			// So is a claim made whose implicit sync failed: IDM's claim
			// write answers that error and the task does not run; the
			// object is claimed again after the recovery timeout.
			x.run.failures.Add(1)
			x.logger.Warn("task scan could not claim an object", "objectID", x.scan.object+"/"+o.ID, "err", err)
		}
	}
	return out
}

// nextRev is the revision a store writes after rev.
func nextRev(rev string) string {
	n, _ := strconv.ParseInt(rev, 10, 64)
	return strconv.FormatInt(n+1, 10)
}

// claimModify is the claim's change: started (stamp) and completed (null),
// unless another scan owns the object.
func (x *execution) claimModify(stamp string) func(map[string]any) (map[string]any, error) {
	return func(c map[string]any) (map[string]any, error) {
		if !x.claimable(c) {
			return nil, errNotClaimable
		}
		return c, managed.ApplyPatch(c, []managed.PatchOperation{
			{Operation: "add", Field: x.scan.startedText, Value: stamp, HasValue: true},
			{Operation: "add", Field: x.scan.completedText, Value: nil, HasValue: true}})
	}
}

// process runs the script on a claimed object in a unit of work (its
// openidm writes buffered, managed.Unit) and, when it succeeds, adds the
// completion to the unit and hands the unit to the completer; a failure
// is counted at once and writes nothing.
func (x *execution) process(ctx context.Context, c claimed, completions chan<- completion) {
	objectID := x.scan.object + "/" + c.object.ID
	unit := managed.NewUnit(x.resources)
	unit.Seed(c.object)
	result, err := x.engine.Run(ctx, x.scan.spec, script.Request{
		Name:      x.run.name,
		LogLevel:  x.logLevel,
		Bindings:  map[string]any{"input": c.object.Content, "objectID": objectID},
		Resources: unit,
	})
	if err != nil {
		x.run.failures.Add(1)
		x.logger.Warn("task script failed", "objectID", objectID, "err", err)
		return
	}
	if ok, _ := result.(bool); !ok {
		x.run.failures.Add(1)
		x.logger.Debug("task script did not return true", "objectID", objectID, "result", result)
		return
	}
	done := isoMillis(x.s.opts.Clock.Now())
	err = unit.Modify(ctx, x.scan.typ, c.object.ID, func(content map[string]any) (map[string]any, error) {
		if v, _ := query.ValueAt(content, x.scan.started); v != c.stamp {
			return nil, fmt.Errorf("%s %s is %v, not this scan's %s: another scan reclaimed it", objectID, x.scan.startedText, v, c.stamp)
		}
		return content, managed.ApplyPatch(content, []managed.PatchOperation{
			{Operation: "add", Field: x.scan.completedText, Value: done, HasValue: true}})
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) { // a script that deleted its object completed it
		x.run.failures.Add(1)
		x.logger.Warn("task scan could not record the completion", "objectID", objectID, "err", err)
		return
	}
	completions <- completion{objectID: objectID, writes: unit.Writes()}
}

// complete commits the units it receives in batches (group commit: at
// most completionBatchMax a transaction, none waiting longer than
// completionDelay for its batch to fill) until completions is closed, and
// counts each as a success once its batch is committed. A success is so
// counted only when durable, and a task's writes and its completion commit
// together or not at all: a crash before the commit leaves the object
// claimed, uncompleted and as it was, for the recovery timeout to hand to
// another scan, which runs its task for the first time as far as the
// store can tell.
func (x *execution) complete(ctx context.Context, completions <-chan completion) {
	var batch []completion
	for first := range completions {
		batch = append(batch[:0], first)
		timer := time.NewTimer(completionDelay)
	fill:
		for len(batch) < completionBatchMax {
			select {
			case c, ok := <-completions:
				if !ok {
					break fill
				}
				batch = append(batch, c)
			case <-timer.C:
				break fill
			}
		}
		timer.Stop()
		x.writeCompletions(ctx, batch)
	}
}

// writeCompletions commits the batch's units in one transaction.
func (x *execution) writeCompletions(ctx context.Context, batch []completion) {
	units := make([]store.ObjectUnit, len(batch))
	for i, c := range batch {
		units[i] = store.ObjectUnit{Writes: c.writes}
	}
	res, err := x.s.opts.Objects.CommitObjectUnits(ctx, store.CommitObjectUnitsParams{Units: units})
	if err != nil {
		x.run.failures.Add(int64(len(batch)))
		x.logger.Warn("task scan could not record completions", "objects", len(batch), "err", err)
		return
	}
	for i, err := range res {
		switch {
		case errors.Is(err, syncsvc.ErrSyncFailed):
			// Committed, completed: a failure as in IDM, whose completion
			// write answers the sync's error, and not scanned again.
			x.run.failures.Add(1)
			x.logger.Warn("task scan committed the task's writes and completion; their implicit sync failed", "objectID", batch[i].objectID, "err", err)
		case err != nil:
			x.run.failures.Add(1)
			x.logger.Warn("task scan could not commit the task's writes and completion", "objectID", batch[i].objectID, "err", err)
		default:
			x.run.successes.Add(1)
		}
	}
}

// stillClaimable reads an object again after a lost revision race: it
// returns its revision when it still matches the filter and is not
// completed.
func (x *execution) stillClaimable(ctx context.Context, id string) (string, bool) {
	cur, err := x.s.opts.Objects.ReadObject(ctx, store.ReadObjectParams{Type: x.scan.typ, ID: id})
	if err != nil {
		return "", false
	}
	if v, ok := query.ValueAt(cur.Content, x.scan.completed); (ok && v != nil) || !x.program.Match(cur.Content) {
		return "", false
	}
	return cur.Rev, true
}

// claim claims one object at revision rev on its own, as claimBatch does,
// rereading it after each lost revision race (stillClaimable).
func (x *execution) claim(ctx context.Context, id, rev string) (claimed, bool) {
	stamp := isoMillis(x.s.opts.Clock.Now())
	for attempt := 0; attempt < maxClaimAttempts; attempt++ {
		if x.run.isCancelled() {
			return claimed{}, false
		}
		got, err := x.s.opts.Objects.ModifyObject(ctx, store.ModifyObjectParams{Type: x.scan.typ, ID: id, IfRev: rev,
			Modify: x.claimModify(stamp)})
		switch {
		case err == nil:
			return claimed{object: got, stamp: stamp}, true
		case errors.Is(err, errNotClaimable), errors.Is(err, store.ErrNotFound):
			return claimed{}, false
		case errors.Is(err, store.ErrConflict):
			var ok bool
			if rev, ok = x.stillClaimable(ctx, id); !ok {
				return claimed{}, false
			}
		default:
			x.run.failures.Add(1)
			x.logger.Warn("task scan could not claim an object", "objectID", x.scan.object+"/"+id, "err", err)
			return claimed{}, false
		}
	}
	return claimed{}, false
}

// claimable reports whether no other scan owns an object: its started is
// unset, or older than the recovery timeout. A started that is not a
// timestamp is owned by nobody sensible: it is claimed.
func (x *execution) claimable(content map[string]any) bool {
	v, _ := query.ValueAt(content, x.scan.started)
	s, ok := v.(string)
	if !ok || s == "" {
		return true
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		x.logger.Warn("task scan: a started field that is not a timestamp is overwritten", "field", x.scan.startedText, "value", s)
		return true
	}
	return !t.Add(x.scan.recovery).After(x.s.opts.Clock.Now())
}
