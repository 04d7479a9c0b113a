package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"sundial/engine/trigger"
)

// job is one fire in progress: being claimed (persisted schedules), waiting
// for a worker, or running. The loop fills it before handing it on and
// clears it once it is handed back; in between, the claimers and the worker
// only read it, but for the fields they own.
type job struct {
	e       *entry
	svc     Service
	stats   *entryStats
	run     Run
	acquire bool          // persisted: claimed from the store before it runs
	before  trigger.State // the trigger before this fire
	state   trigger.State // the trigger after this fire, for AcquireFires
	hash    string
	block   bool
	recover bool
	// recovery is set for a recovery run: its start and end are recorded
	// by the RunRecovery caller, which gets its outcome.
	recovery *recoveryRun
	working  bool // handed to the workers (loop-owned)
	// skip is why a claimed fire does not run (its schedule was paused,
	// disabled or removed while it waited): the worker records it skipped
	// and ends its claimed run as such, instead of calling the service.
	skip reason
	// started is when the service was called (Unix nanoseconds; 0 before):
	// the worker sets it, Executing reads it.
	started atomic.Int64
	// won and unclaimed are the claim's outcome, set by a claimer: won, the
	// fire is this node's to run; unclaimed, the store could not be asked
	// (the loop then holds the schedule at this fire, see holdUnclaimed).
	won, unclaimed bool
	// adopts is Scheduler.adopts when the claimer asked the store.
	adopts uint64
}

// claimers is the number of goroutines claiming fires from the store: while
// one waits for its round trip, the other gathers the next batch.
const claimers = 2

// maxClaimBatch caps the fires claimed in one call.
const maxClaimBatch = 256

// claimsPerIdleWorker bounds the fires claimed ahead of the workers: up to
// this many per idle worker, so that one round trip claims many fires when
// the workers are free, and none while they are all busy (a node with
// long runs does not hoard fires that other nodes could run).
const claimsPerIdleWorker = 32

// manualFire is a fire outside the trigger waiting for a worker: a
// TriggerNow fire, or a recovery run (recovery set).
type manualFire struct {
	e        *entry
	at       time.Time
	recovery *recoveryRun
}

// recoveryRun is a RunRecovery call waiting for its run's outcome.
type recoveryRun struct {
	RecoveryRun
	done chan error // capacity 1
}

// end tells the RunRecovery call its outcome.
func (r *recoveryRun) end(err error) { r.done <- err }

// workerFree reports whether a fire handed on now would start at once: a
// worker is idle and no claimed fire waits before it.
func (s *Scheduler) workerFree() bool { return s.running < s.threadCount && len(s.ready) == 0 }

// claimable is how many more fires may be given to the claimers now.
func (s *Scheduler) claimable() int {
	return max(s.threadCount-s.running, 0)*claimsPerIdleWorker - s.claiming - len(s.ready)
}

// canTake reports whether the due fire of e can be handed on now: to the
// claimers (persisted schedules) or to a worker.
func (s *Scheduler) canTake(e *entry) bool {
	if e.sched.Persisted {
		return s.claimable() > 0
	}
	return s.workerFree()
}

// dispatch hands on every due fire that can be taken, earliest first (a
// fire that cannot be taken holds up the later ones). A skipped fire
// (misfire, no service) takes nothing.
func (s *Scheduler) dispatch() {
	if !s.active {
		return
	}
	now := s.clock.Now()
	for {
		top := s.heap.peek()
		if top != nil && top.state.Next.After(now) {
			top = nil
		}
		if len(s.manual) > 0 && (top == nil || !s.manual[0].at.After(top.state.Next)) {
			if !s.workerFree() {
				return
			}
			m := s.manual[0]
			s.manual[0] = manualFire{}
			s.manual = s.manual[1:]
			m.e.manualPending--
			switch {
			case m.recovery != nil && (m.e.disabled || m.e.svc == 0):
				m.recovery.end(fmt.Errorf("schedule %s: %w", m.e.id, ErrDisabled))
			case m.recovery != nil:
				s.startRun(m.e, runStart{scheduled: m.recovery.ScheduledTime, now: now, recovery: m.recovery})
			case m.e.disabled || m.e.svc == 0:
				// Changed by a reconcile since TriggerNow accepted it.
				s.recordSkip(m.e, skip{reason: reasonDisabled, scheduled: m.at, count: 1, manual: true, log: true})
			default:
				s.startRun(m.e, runStart{scheduled: m.at, now: now, manual: true})
			}
			s.rearm(m.e)
			continue
		}
		if top == nil || !s.canTake(top) {
			return
		}
		s.fireEntry(top, now)
	}
}

// fireEntry handles the due entry e at now: the trigger's Due decision, then
// a run, or a skip.
func (s *Scheduler) fireEntry(e *entry, now time.Time) {
	d := e.spec.Due(e.state, now, s.threshold)
	if d.Misfired {
		s.misfired(e, d, now)
	}
	e.late = reasonNone
	if !d.Fire {
		e.state = d.State
		s.rearm(e)
		return
	}
	scheduled, before := d.State.Next, d.State
	e.state = e.spec.Fired(d.State)
	if e.svc == 0 {
		s.recordSkip(e, skip{reason: reasonServiceNotFound, scheduled: scheduled, count: 1, log: true})
		s.rearm(e)
		return
	}
	fanOut := 0
	if e.spec.Kind == trigger.Simple && e.spec.RepeatInterval == 0 && e.spec.RepeatCount != 0 {
		fanOut = e.state.TimesTriggered
	}
	s.startRun(e, runStart{scheduled: scheduled, now: now, fanOut: fanOut, before: before})
	s.rearm(e)
}

// runStart describes a fire about to run.
type runStart struct {
	scheduled, now time.Time
	fanOut         int // n of "#n" in the fire id; 0: none
	manual         bool
	before         trigger.State // the trigger before the fire
	recovery       *recoveryRun  // a recovery run (not claimed, recorded by its caller)
}

// startRun hands a fire of e on: to the claimers for a persisted schedule
// (not a manual fire), to a worker otherwise.
func (s *Scheduler) startRun(e *entry, r runStart) {
	var j *job
	if n := len(s.free); n > 0 {
		j = s.free[n-1]
		s.free = s.free[:n-1]
	} else {
		j = new(job)
		s.jobs = append(s.jobs, j)
	}
	s.busy++
	e.running++
	if e.stats == nil {
		e.stats = new(entryStats)
	}
	var buf [96]byte
	j.e, j.svc, j.stats = e, s.svcList[e.svc], e.stats
	j.run = Run{
		FireID:            string(appendFireID(buf[:0], e.id, r.scheduled, r.fanOut)),
		ScheduleID:        e.id,
		Schedule:          e.sched,
		ScheduledFireTime: r.scheduled,
		ActualFireTime:    r.now,
		NextFireTime:      e.state.Next,
		Manual:            r.manual,
		NodeID:            s.nodeID,
	}
	j.recover = e.sched.Recoverable
	if rec := r.recovery; rec != nil {
		j.recovery = rec
		j.run.FireID, j.run.Recovery, j.run.RecoveredFrom, j.run.Attempt = rec.FireID, true, rec.RecoveredFrom, rec.Attempt
	}
	j.acquire = e.sched.Persisted && !r.manual && r.recovery == nil
	if !j.acquire {
		s.ready = append(s.ready, j)
		s.startReady()
		return
	}
	j.before, j.state, j.hash = r.before, e.state, e.sched.Hash
	j.block = !e.sched.ConcurrentExecution
	s.claiming++
	s.claimingOf[e]++
	s.mu.Lock()
	s.toClaim = append(s.toClaim, j)
	s.mu.Unlock()
	select {
	case s.claimWake <- struct{}{}:
	default:
	}
}

// startReady hands the fires waiting for a worker to the idle workers. A
// claimed fire whose schedule was paused, disabled or removed since it was
// handed to the claimers, or that waited past the misfire threshold under
// a misfire instruction that does not fire now, is handed on to be
// recorded skipped.
func (s *Scheduler) startReady() {
	n := 0
	var now time.Time
	for ; n < len(s.ready) && s.running < s.threadCount; n++ {
		j := s.ready[n]
		if e := j.e; j.acquire {
			if now.IsZero() {
				now = s.clock.Now()
			}
			switch {
			case e.disabled || e.removed:
				j.skip = reasonDisabled
			case e.paused:
				j.skip = reasonPaused
			case trigger.Misfired(j.run.ScheduledFireTime, now, s.threshold) && !firesNow(e.spec.MisfireInstruction(j.before)):
				j.skip = reasonMisfire
			}
		}
		j.working = true
		s.running++
		s.work <- j
	}
	if n > 0 {
		rest := copy(s.ready, s.ready[n:])
		clear(s.ready[rest:])
		s.ready = s.ready[:rest]
	}
}

// firesNow reports whether a misfire instruction fires the trigger at once
// (rather than dropping the fire for a later one).
func firesNow(in trigger.Instruction) bool {
	switch in {
	case trigger.CronDoNothing, trigger.SimpleRescheduleNextWithRemainingCount,
		trigger.SimpleRescheduleNextWithExistingCount:
		return false
	}
	return true
}

// claimEnded is the loop's side of a claim's outcome: a won fire waits for
// a worker, the others are over.
func (s *Scheduler) claimEnded(j *job) {
	s.claiming--
	if n := s.claimingOf[j.e] - 1; n > 0 {
		s.claimingOf[j.e] = n
	} else {
		delete(s.claimingOf, j.e)
	}
	if j.won {
		s.ready = append(s.ready, j)
		s.rearm(j.e)
		s.startReady()
		return
	}
	s.finish(j)
}

// finish is the loop's side of a fire's end: it ran, or was not claimed.
func (s *Scheduler) finish(j *job) {
	e := j.e
	if s.onFinished != nil {
		s.onFinished <- j.run.FireID
	}
	if j.unclaimed && !e.removed {
		s.holdUnclaimed(e, j)
	}
	if j.working {
		s.running--
	}
	j.reset()
	s.free = append(s.free, j)
	s.busy--
	e.running--
	if e.removed {
		if e.running == 0 && s.draining[e.id] == e {
			delete(s.draining, e.id)
		}
	} else {
		s.rearm(e)
	}
	s.startReady()
	if s.idle != nil && s.busy == 0 {
		close(s.idle)
		s.idle = nil
	}
}

// reset empties a job the loop took back.
func (j *job) reset() {
	j.e, j.svc, j.stats, j.run = nil, nil, nil, Run{}
	j.acquire, j.before, j.state, j.hash, j.block, j.recover = false, trigger.State{}, trigger.State{}, "", false, false
	j.recovery = nil
	j.working, j.won, j.unclaimed, j.skip, j.adopts = false, false, false, reasonNone, 0
	j.started.Store(0)
}

// holdUnclaimed holds e at the fire of j, which the store could not be
// asked for: the fire is not over (neither run nor skipped), so its
// schedule goes back to the state before it, unless something moved it on
// meanwhile, and waits for the store to answer again (Adopt). The fire then
// runs late, or, past the misfire threshold, misfires with the reason
// store-error: each fire ends with one record. If an Adopt came while the
// claim was in flight, the store may have answered after this failure and
// no Adopt may come again: the fire is tried again at once instead.
func (s *Scheduler) holdUnclaimed(e *entry, j *job) {
	if sameState(e.state, j.state) {
		e.state = j.before
	}
	if s.adopts.Load() == j.adopts {
		e.storeHeld = true
	}
}

// claimer claims the fires of persisted schedules in batches until the loop
// exits.
func (s *Scheduler) claimer() {
	for {
		select {
		case <-s.claimWake:
		case <-s.claimStop:
			return
		}
		for {
			s.mu.Lock()
			n := min(len(s.toClaim), maxClaimBatch)
			batch := append([]*job(nil), s.toClaim[:n]...)
			rest := copy(s.toClaim, s.toClaim[n:])
			clear(s.toClaim[rest:])
			s.toClaim = s.toClaim[:rest]
			s.mu.Unlock()
			if n == 0 {
				break
			}
			if rest > 0 { // the other claimer takes the next batch meanwhile
				select {
				case s.claimWake <- struct{}{}:
				default:
				}
			}
			s.claim(batch)
		}
	}
}

// claim asks the store for a batch of fires and hands the outcomes to the
// loop.
func (s *Scheduler) claim(batch []*job) {
	params := make([]AcquireFireParams, len(batch))
	now := s.clock.Now()
	adopts := s.adopts.Load()
	for i, j := range batch {
		j.adopts = adopts
		r := &j.run
		params[i] = AcquireFireParams{
			ScheduleID: r.ScheduleID, FireID: r.FireID, Hash: j.hash, ScheduledTime: r.ScheduledFireTime,
			State: j.state, Block: j.block, Recoverable: j.recover, NodeID: r.NodeID, StartedAt: now,
		}
	}
	// recordCtx, not runCtx: a claim in flight when the grace period ends
	// may already be committed, so it is seen through (up to CancelWait)
	// rather than abandoned with its outcome unknown, which would leave the
	// fire recorded as running on this node until a recovery.
	res := s.store.AcquireFires(s.recordCtx, params)
	for i, j := range batch {
		j.won, j.unclaimed = res[i].Won, res[i].Err != nil
		switch {
		case j.unclaimed:
			s.log.LogAttrs(context.Background(), slog.LevelDebug, "fire held until the store answers",
				slog.String("schedule", j.run.ScheduleID), slog.String("fireId", j.run.FireID), slog.Any("error", res[i].Err))
		case !j.won:
			s.log.LogAttrs(context.Background(), slog.LevelDebug, "fire taken by another node",
				slog.String("schedule", j.run.ScheduleID), slog.String("fireId", j.run.FireID))
		}
	}
	s.mu.Lock()
	s.claimed = append(s.claimed, batch...)
	s.mu.Unlock()
	s.signal()
}

// worker runs fires until the loop exits.
func (s *Scheduler) worker() {
	for j := range s.work {
		s.execute(j)
		s.mu.Lock()
		s.finished = append(s.finished, j)
		s.mu.Unlock()
		s.signal()
	}
}

// execute runs one fire on a worker: record its start (unless its claim
// did), invoke the service, record the outcome. The run starts, for its
// ActualFireTime, its delay and its duration, when its service is called.
func (s *Scheduler) execute(j *job) {
	ctx := s.runCtx
	run := j.run // the worker's copy: the loop reads j.run meanwhile
	if j.skip != reasonNone {
		s.skipClaimed(j, run)
		return
	}
	// Claimed, but Stop cancelled the runs before it got a worker: its
	// service is not called, and it ends cancelled, as the runs the stop
	// cancelled do.
	notStarted := j.acquire && ctx.Err() != nil
	if !j.acquire && j.recovery == nil {
		if err := s.store.RunStarted(ctx, RunStartedParams{
			FireID: run.FireID, ScheduleID: run.ScheduleID, ScheduledTime: run.ScheduledFireTime,
			StartedAt: s.clock.Now(), NodeID: run.NodeID, Manual: run.Manual, Recoverable: j.recover,
		}); err != nil {
			s.log.LogAttrs(context.Background(), slog.LevelWarn, "record run start",
				slog.String("fireId", run.FireID), slog.Any("error", err))
		}
	}
	run.ActualFireTime = s.clock.Now()
	j.started.Store(run.ActualFireTime.UnixNano())
	if !notStarted {
		s.metrics.delay.Observe(run.ActualFireTime.Sub(run.ScheduledFireTime).Seconds())
	}
	if !notStarted && s.log.Enabled(context.Background(), slog.LevelInfo) {
		s.log.LogAttrs(context.Background(), slog.LevelInfo, "run started",
			slog.String("schedule", run.ScheduleID), slog.String("fireId", run.FireID),
			slog.Time("scheduled", run.ScheduledFireTime), slog.Duration("delay", run.ActualFireTime.Sub(run.ScheduledFireTime)),
			slog.Bool("manual", run.Manual))
	}

	var err error
	if notStarted {
		err = fmt.Errorf("not started, the scheduler stopped: %w", ctx.Err())
	} else {
		err = invoke(ctx, j.svc, run)
	}
	end := s.clock.Now()
	o := outcomeSuccess
	if err != nil {
		o = outcomeError
		if ctx.Err() != nil {
			o = outcomeCancelled
		}
	}
	rec := RunRecord{
		FireID: run.FireID, ScheduleID: run.ScheduleID, ScheduledFireTime: run.ScheduledFireTime,
		ActualFireTime: run.ActualFireTime, EndTime: end, Outcome: outcomeNames[o], Manual: run.Manual, NodeID: run.NodeID,
	}
	if err != nil {
		rec.Error = err.Error()
	}
	if j.recovery != nil {
		j.recovery.end(err)
	} else if err := s.store.RunEnded(s.recordCtx, RunEndedParams{
		FireID: run.FireID, ScheduleID: run.ScheduleID, NodeID: run.NodeID, EndedAt: end, Outcome: rec.Outcome, Error: rec.Error,
	}); err != nil {
		s.log.LogAttrs(context.Background(), slog.LevelWarn, "record run end",
			slog.String("fireId", run.FireID), slog.Any("error", err))
	}
	j.stats.runs[o].Add(1)
	s.metrics.duration.Observe(end.Sub(run.ActualFireTime).Seconds())
	s.history.add(rec)
	if level := slog.LevelInfo; err != nil || s.log.Enabled(context.Background(), level) {
		if err != nil {
			level = slog.LevelWarn
		}
		s.log.LogAttrs(context.Background(), level, "run ended",
			slog.String("schedule", run.ScheduleID), slog.String("fireId", run.FireID),
			slog.Time("scheduled", run.ScheduledFireTime), slog.Duration("delay", run.ActualFireTime.Sub(run.ScheduledFireTime)),
			slog.Duration("duration", end.Sub(run.ActualFireTime)), slog.String("outcome", string(rec.Outcome)),
			slog.String("error", rec.Error))
	}
}

// skipClaimed records, on a worker, a claimed fire that does not run: one
// skip in the history and the counters, and its claimed run ended as
// skipped in the store (the run's one record there).
func (s *Scheduler) skipClaimed(j *job, run Run) {
	r := j.skip
	if err := s.store.RunEnded(s.recordCtx, RunEndedParams{
		FireID: run.FireID, ScheduleID: run.ScheduleID, NodeID: run.NodeID, EndedAt: s.clock.Now(),
		Outcome: OutcomeSkipped, Error: string(reasonNames[r]),
	}); err != nil {
		s.log.LogAttrs(context.Background(), slog.LevelWarn, "record run end",
			slog.String("fireId", run.FireID), slog.Any("error", err))
	}
	j.stats.skipped[r].Add(1)
	s.history.add(RunRecord{
		FireID: run.FireID, ScheduleID: run.ScheduleID, ScheduledFireTime: run.ScheduledFireTime,
		Outcome: OutcomeSkipped, Reason: reasonNames[r], Skipped: 1, NodeID: run.NodeID,
	})
	s.log.LogAttrs(context.Background(), slog.LevelWarn, "fire skipped",
		slog.String("schedule", run.ScheduleID), slog.String("fireId", run.FireID),
		slog.String("reason", string(reasonNames[r])), slog.Time("scheduled", run.ScheduledFireTime),
		slog.Int("fires", 1))
}

// invoke calls the service, turning a panic into an error.
func invoke(ctx context.Context, svc Service, run Run) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("service panicked: %v", r)
		}
	}()
	return svc.Invoke(ctx, run)
}

// misfired logs a misfire decision and records the fire times it dropped.
func (s *Scheduler) misfired(e *entry, d trigger.Decision, now time.Time) {
	r := e.late
	if r == reasonNone {
		r = reasonMisfire
	}
	m := d.Misfire
	action := "fire now"
	switch {
	case d.State.Next.IsZero():
		action = "complete"
	case !d.Fire:
		action = "wait for " + d.State.Next.UTC().Format(time.RFC3339)
	}
	s.log.LogAttrs(context.Background(), slog.LevelWarn, "misfire",
		slog.String("schedule", e.id), slog.String("reason", string(reasonNames[r])),
		slog.Time("scheduled", e.state.Next), slog.Duration("late", now.Sub(e.state.Next)),
		slog.String("instruction", m.Instruction.String()), slog.String("action", action),
		slog.Int("skipped", m.Missed))
	if m.Missed > 0 {
		s.recordSkip(e, skip{reason: r, scheduled: m.FirstMissed, count: m.Missed})
	}
}

// skip describes fire times that do not run.
type skip struct {
	reason    reason
	scheduled time.Time // the first of them
	count     int
	manual    bool
	log       bool // log at warn (misfired logs its own line)
}

// recordSkip records fire times of e that do not run (on the loop).
func (s *Scheduler) recordSkip(e *entry, k skip) {
	if e.stats == nil {
		e.stats = new(entryStats)
	}
	s.recordSkipStats(e.stats, RunRecord{
		FireID: FireID(e.id, k.scheduled), ScheduleID: e.id, ScheduledFireTime: k.scheduled,
		Outcome: OutcomeSkipped, Reason: reasonNames[k.reason], Skipped: k.count, Manual: k.manual, NodeID: s.nodeID,
	}, k.reason, k.log)
}

// recordSkipStats counts, keeps and (when log is set) logs skipped fires.
// It touches no loop-owned state, so workers may call it.
func (s *Scheduler) recordSkipStats(stats *entryStats, rec RunRecord, r reason, log bool) {
	stats.skipped[r].Add(uint64(rec.Skipped))
	s.history.add(rec)
	if sr, ok := s.store.(SkipRecorder); ok {
		sr.RecordSkipped(rec)
	}
	if log {
		s.log.LogAttrs(context.Background(), slog.LevelWarn, "fire skipped",
			slog.String("schedule", rec.ScheduleID), slog.String("fireId", rec.FireID),
			slog.String("reason", string(rec.Reason)), slog.Time("scheduled", rec.ScheduledFireTime),
			slog.Int("fires", rec.Skipped), slog.String("error", rec.Error))
	}
}
