package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"sundial/engine/trigger"
)

// job is a worker slot. The loop fills it before handing it to a worker and
// clears it after the worker handed it back; in between, the worker only
// reads it.
type job struct {
	slot    int
	e       *entry
	svc     Service
	stats   *entryStats
	run     Run
	acquire bool          // persisted: ask the store first
	state   trigger.State // the trigger after this fire, for AcquireFire
	hash    string
	block   bool
	recover bool
}

// manualFire is a TriggerNow fire waiting for a worker.
type manualFire struct {
	e  *entry
	at time.Time
}

// dispatch starts every due fire a free worker can take, earliest first.
// A skipped fire (misfire, no service) takes no worker.
func (s *Scheduler) dispatch() {
	if !s.active {
		return
	}
	now := s.clock.Now()
	for len(s.free) > 0 {
		top := s.heap.peek()
		if top != nil && top.state.Next.After(now) {
			top = nil
		}
		if len(s.manual) > 0 && (top == nil || !s.manual[0].at.After(top.state.Next)) {
			m := s.manual[0]
			s.manual[0] = manualFire{}
			s.manual = s.manual[1:]
			m.e.manualPending--
			if m.e.disabled || m.e.svc == 0 {
				// Changed by a reconcile since TriggerNow accepted it.
				s.recordSkip(m.e, skip{reason: reasonDisabled, scheduled: m.at, count: 1, manual: true, log: true})
			} else {
				s.startRun(m.e, runStart{scheduled: m.at, now: now, manual: true})
			}
			s.rearm(m.e)
			continue
		}
		if top == nil {
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
	scheduled := d.State.Next
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
	s.startRun(e, runStart{scheduled: scheduled, now: now, fanOut: fanOut})
	s.rearm(e)
}

// runStart describes a fire about to run.
type runStart struct {
	scheduled, now time.Time
	fanOut         int // n of "#n" in the fire id; 0: none
	manual         bool
}

// startRun hands a fire of e to a free worker.
func (s *Scheduler) startRun(e *entry, r runStart) {
	j := s.free[len(s.free)-1]
	s.free = s.free[:len(s.free)-1]
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
	j.acquire = e.sched.Persisted && !r.manual
	if j.acquire {
		j.state, j.hash = e.state, e.sched.Hash
		j.block = !e.sched.ConcurrentExecution
	}
	j.recover = e.sched.Recoverable
	s.metrics.delay.Observe(r.now.Sub(r.scheduled).Seconds())
	s.work <- j
}

// finish is the loop's side of a run's end.
func (s *Scheduler) finish(j *job) {
	e := j.e
	if s.onFinished != nil {
		s.onFinished <- j.run.FireID
	}
	*j = job{slot: j.slot}
	s.busy--
	if j.slot < s.threadCount {
		s.free = append(s.free, j)
	}
	e.running--
	if e.removed {
		if e.running == 0 && s.draining[e.id] == e {
			delete(s.draining, e.id)
		}
	} else {
		s.rearm(e)
	}
	if s.idle != nil && s.busy == 0 {
		close(s.idle)
		s.idle = nil
	}
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

// execute runs one fire on a worker: claim it (persisted schedules), record
// it, invoke the service, record the outcome.
func (s *Scheduler) execute(j *job) {
	ctx := s.runCtx
	run := &j.run
	if j.acquire {
		ok, err := s.store.AcquireFire(ctx, AcquireFireParams{
			ScheduleID: run.ScheduleID, FireID: run.FireID, Hash: j.hash, ScheduledTime: run.ScheduledFireTime,
			State: j.state, Block: j.block, Recoverable: j.recover, NodeID: run.NodeID, StartedAt: run.ActualFireTime,
		})
		if err != nil {
			s.recordSkipStats(j.stats, RunRecord{
				FireID: run.FireID, ScheduleID: run.ScheduleID, ScheduledFireTime: run.ScheduledFireTime,
				Outcome: OutcomeSkipped, Reason: ReasonStoreError, Skipped: 1, Error: err.Error(), NodeID: run.NodeID,
			}, reasonStoreError, true)
			return
		}
		if !ok {
			s.log.LogAttrs(context.Background(), slog.LevelDebug, "fire taken by another node",
				slog.String("schedule", run.ScheduleID), slog.String("fireId", run.FireID))
			return
		}
	} else if err := s.store.RunStarted(ctx, RunStartedParams{
		FireID: run.FireID, ScheduleID: run.ScheduleID, ScheduledTime: run.ScheduledFireTime,
		StartedAt: run.ActualFireTime, NodeID: run.NodeID, Manual: run.Manual, Recoverable: j.recover,
	}); err != nil {
		s.log.LogAttrs(context.Background(), slog.LevelWarn, "record run start",
			slog.String("fireId", run.FireID), slog.Any("error", err))
	}
	if s.log.Enabled(context.Background(), slog.LevelInfo) {
		s.log.LogAttrs(context.Background(), slog.LevelInfo, "run started",
			slog.String("schedule", run.ScheduleID), slog.String("fireId", run.FireID),
			slog.Time("scheduled", run.ScheduledFireTime), slog.Duration("delay", run.ActualFireTime.Sub(run.ScheduledFireTime)),
			slog.Bool("manual", run.Manual))
	}

	err := invoke(ctx, j.svc, *run)
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
	if err := s.store.RunEnded(s.recordCtx, RunEndedParams{
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
