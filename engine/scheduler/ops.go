package scheduler

import (
	"context"
	"fmt"
	"sort"
	"time"

	"sundial/engine/config"
)

// Pause pauses a schedule's trigger: it stops firing; a run in progress goes
// on, a fire claimed but not started yet is recorded skipped (paused).
// ErrNotFound for an unknown id.
func (s *Scheduler) Pause(ctx context.Context, id string) error {
	return s.setPaused(ctx, id, pauseParams{paused: true})
}

// Resume resumes a paused schedule. Fire times missed while it was paused
// follow the misfire policy (recorded with reason "paused"); a fire late by
// less than the misfire threshold just runs late.
func (s *Scheduler) Resume(ctx context.Context, id string) error {
	return s.setPaused(ctx, id, pauseParams{})
}

// PauseAll pauses every schedule, and those added until ResumeAll (Quartz
// pauseAll, IDM's pauseJobs action).
func (s *Scheduler) PauseAll(ctx context.Context) error {
	return s.setPaused(ctx, "", pauseParams{paused: true, all: true})
}

// ResumeAll resumes every schedule (IDM's resumeJobs action).
func (s *Scheduler) ResumeAll(ctx context.Context) error {
	return s.setPaused(ctx, "", pauseParams{all: true})
}

// ApplyPausedParams are the params of ApplyPaused.
type ApplyPausedParams struct {
	ScheduleIDs []string
	Paused      bool
}

// ApplyPaused sets the paused flag of schedules that another node already
// paused or resumed in the store, without writing it again: the schedules
// stop (or resume) firing here as after Pause (or Resume). Unknown ids are
// left out; it returns how many schedules changed.
func (s *Scheduler) ApplyPaused(p ApplyPausedParams) int {
	n := 0
	s.do(func() {
		for _, id := range p.ScheduleIDs {
			e := s.entries[id]
			if e == nil || e.paused == p.Paused {
				continue
			}
			e.paused = p.Paused
			s.rearm(e)
			n++
		}
	})
	return n
}

type pauseParams struct {
	paused bool
	all    bool
}

func (s *Scheduler) setPaused(ctx context.Context, id string, p pauseParams) error {
	var found, persisted bool
	s.do(func() {
		if p.all {
			found = true
			s.pausedAll = p.paused
			for _, e := range s.entries {
				e.paused = p.paused
				s.rearm(e)
				persisted = persisted || e.sched.Persisted
			}
			return
		}
		e := s.entries[id]
		if e == nil {
			return
		}
		found, persisted = true, e.sched.Persisted
		e.paused = p.paused
		s.rearm(e)
	})
	verb := "resume"
	if p.paused {
		verb = "pause"
	}
	if !found {
		return fmt.Errorf("%s %s: %w", verb, id, ErrNotFound)
	}
	if !persisted {
		return nil
	}
	params := SetPausedParams{All: p.all, Paused: p.paused, Now: s.clock.Now()}
	if !p.all {
		params.ScheduleIDs = []string{id}
	}
	if err := s.store.SetPaused(ctx, params); err != nil {
		return fmt.Errorf("%s %s: store: %w", verb, id, err)
	}
	return nil
}

// TriggerNow fires a schedule now, outside its trigger: its next fire time
// does not change. It works on a paused schedule (the operator asked), not on
// a disabled one (ErrDisabled), nor on a non-concurrent one that is running
// (ErrOverlap); both are recorded as skipped fires. It returns the fire id.
// ErrNotFound, ErrServiceNotFound, ErrNotRunning (before Start or while
// stopping) are the other errors.
func (s *Scheduler) TriggerNow(_ context.Context, id string) (string, error) {
	var fireID string
	var err error
	s.do(func() {
		e := s.entries[id]
		now := s.clock.Now()
		manualSkip := func(r reason) {
			s.recordSkip(e, skip{reason: r, scheduled: now, count: 1, manual: true, log: true})
		}
		switch {
		case e == nil:
			err = ErrNotFound
		case !s.active:
			err = ErrNotRunning
		case e.disabled:
			err = ErrDisabled
			manualSkip(reasonDisabled)
		case e.svc == 0:
			err = fmt.Errorf("%w: %s", ErrServiceNotFound, e.sched.InvokeService)
			manualSkip(reasonServiceNotFound)
		case !e.sched.ConcurrentExecution && (e.running > 0 || e.manualPending > 0):
			err = ErrOverlap
			manualSkip(reasonOverlap)
		default:
			e.manualPending++
			s.manual = append(s.manual, manualFire{e: e, at: now})
			s.rearm(e)
			fireID = FireID(id, now)
		}
	})
	if err != nil {
		return "", fmt.Errorf("trigger %s: %w", id, err)
	}
	return fireID, nil
}

// RecoveryRun is a fire to run again because the node running it died (or
// this node's previous process): the store recorded it as running here.
type RecoveryRun struct {
	FireID        string
	ScheduleID    string
	ScheduledTime time.Time
	RecoveredFrom string
	Attempt       int
}

// RunRecovery runs a recovery run of a schedule through the worker pool and
// the schedule's service, as a fire outside the trigger (its next fire time
// does not change), and returns the service's error once it ended. The run
// is listed in Executing, kept in the history and counted in the metrics;
// its start and end in the store are the caller's to record. Called before
// Start, the run waits for it. It fails with ErrNotFound, ErrDisabled,
// ErrServiceNotFound or ErrNotRunning (once stopping) without running, and
// with ctx's error when ctx ends first (the run goes on).
func (s *Scheduler) RunRecovery(ctx context.Context, r RecoveryRun) error {
	rec := &recoveryRun{RecoveryRun: r, done: make(chan error, 1)}
	var err error
	s.do(func() {
		e := s.entries[r.ScheduleID]
		switch {
		case e == nil:
			err = ErrNotFound
		case s.stopping:
			err = ErrNotRunning
		case e.disabled:
			err = ErrDisabled
		case e.svc == 0:
			err = fmt.Errorf("%w: %s", ErrServiceNotFound, e.sched.InvokeService)
		default:
			e.manualPending++
			s.manual = append(s.manual, manualFire{e: e, at: s.clock.Now(), recovery: rec})
			s.rearm(e)
		}
	})
	if err != nil {
		return fmt.Errorf("recover run %s: %w", r.FireID, err)
	}
	select {
	case err := <-rec.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// CanRun reports whether this scheduler can run the runs of a schedule: it
// has the schedule, enabled, and a service for it.
func (s *Scheduler) CanRun(scheduleID string) bool {
	ok := false
	s.do(func() {
		e := s.entries[scheduleID]
		ok = e != nil && !e.disabled && e.svc != 0
	})
	return ok
}

// ScheduleInfo is a read-only view of one schedule in the running set.
type ScheduleInfo struct {
	ID string
	// Schedule is the applied version (immutable).
	Schedule *config.Schedule
	Status   Status
	Paused   bool
	// NextFireTime is zero when the schedule will not fire (disabled,
	// complete); IDM shows it as nextRunDate null.
	NextFireTime     time.Time
	PreviousFireTime time.Time
	TimesTriggered   int
	// Running counts runs in progress.
	Running int
	// Runs, Failures and Skips count, since this scheduler started, the
	// schedule's runs that ended, those of them that ended in error or
	// were cancelled, and the fire times that did not run.
	Runs, Failures, Skips uint64
}

// Snapshot is a copy of the scheduler's state.
type Snapshot struct {
	Schedules []ScheduleInfo // sorted by ID
	Executing []Run          // sorted by actual fire time
	// Running is true between Start and Stop.
	Running          bool
	PausedAll        bool
	ThreadCount      int
	Busy             int
	MisfireThreshold time.Duration
}

func (s *Scheduler) info(e *entry) ScheduleInfo {
	info := ScheduleInfo{
		ID: e.id, Schedule: e.sched, Status: s.status(e), Paused: e.paused,
		NextFireTime: e.state.Next, PreviousFireTime: e.state.Previous,
		TimesTriggered: e.state.TimesTriggered, Running: int(e.running),
	}
	if st := e.stats; st != nil {
		for o := range st.runs {
			n := st.runs[o].Load()
			info.Runs += n
			if outcome(o) != outcomeSuccess {
				info.Failures += n
			}
		}
		for r := range st.skipped {
			info.Skips += st.skipped[r].Load()
		}
	}
	return info
}

// Schedule returns one schedule's view.
func (s *Scheduler) Schedule(id string) (ScheduleInfo, bool) {
	var info ScheduleInfo
	var ok bool
	s.do(func() {
		if e := s.entries[id]; e != nil {
			info, ok = s.info(e), true
		}
	})
	return info, ok
}

// Schedules returns every schedule's view, sorted by id.
func (s *Scheduler) Schedules() []ScheduleInfo {
	var out []ScheduleInfo
	s.do(func() { out = s.schedules() })
	return out
}

func (s *Scheduler) schedules() []ScheduleInfo {
	out := make([]ScheduleInfo, 0, len(s.entries))
	for _, e := range s.entries {
		out = append(out, s.info(e))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Executing returns the runs in progress on this node (IDM's
// listCurrentlyExecutingJobs), oldest first.
func (s *Scheduler) Executing() []Run {
	var out []Run
	s.do(func() { out = s.executing() })
	return out
}

func (s *Scheduler) executing() []Run {
	out := make([]Run, 0, s.busy)
	for _, j := range s.jobs {
		if j.e == nil || !j.working || j.skip != reasonNone {
			continue
		}
		r := j.run
		if ns := j.started.Load(); ns != 0 {
			r.ActualFireTime = time.Unix(0, ns)
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].ActualFireTime.Equal(out[j].ActualFireTime) {
			return out[i].ActualFireTime.Before(out[j].ActualFireTime)
		}
		return out[i].FireID < out[j].FireID
	})
	return out
}

// Snapshot returns a copy of the whole state.
func (s *Scheduler) Snapshot() Snapshot {
	var snap Snapshot
	s.do(func() {
		snap = Snapshot{
			Schedules: s.schedules(), Executing: s.executing(), Running: s.active,
			PausedAll: s.pausedAll, ThreadCount: s.threadCount, Busy: s.busy, MisfireThreshold: s.threshold,
		}
	})
	return snap
}

// History returns the latest run records, oldest first: runs that ended and
// fire times that did not run.
func (s *Scheduler) History() []RunRecord { return s.history.list() }
