package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sort"
	"time"

	"sundial/engine/config"
	"sundial/engine/cron"
	"sundial/engine/trigger"
)

// ReconcileResult says what Reconcile changed, by schedule id.
type ReconcileResult struct {
	// Added, Changed and Removed are sorted. A changed schedule (another
	// Hash) was rescheduled from now; its running runs go on.
	Added, Changed, Removed []string
	// Unchanged counts the schedules that kept their trigger untouched.
	Unchanged int
	// Errors holds the schedules that could not be turned into a trigger; a
	// version already running keeps running.
	Errors map[string]error
}

// Reconcile makes the running set match d: added schedules start, removed
// ones stop (a run in progress finishes), changed ones (another Hash) are
// rescheduled, unchanged ones keep their next fire time exactly. It also
// applies scheduler.json: thread count, misfire threshold,
// executePersistentSchedules. Persisted schedules are synced with the store
// first; if that fails nothing is applied.
func (s *Scheduler) Reconcile(ctx context.Context, d *config.Desired) (ReconcileResult, error) {
	if d == nil {
		return ReconcileResult{}, errors.New("reconcile: no desired state")
	}
	s.reconcileMu.Lock()
	defer s.reconcileMu.Unlock()
	// A stalled store must not hold a reload (or shutdown) up for good.
	sctx, cancel := context.WithTimeout(ctx, ReconcileStoreTimeout)
	defer cancel()
	// Stored triggers go before anything changes here: if deleting fails,
	// nothing is applied, and the next reconcile tries again.
	if deleted := s.storedToDelete(d); len(deleted) > 0 {
		if err := s.store.DeleteTriggers(sctx, DeleteTriggersParams{ScheduleIDs: deleted}); err != nil {
			return ReconcileResult{}, fmt.Errorf("reconcile: delete stored triggers: %w", err)
		}
	}
	stored, err := s.syncPersisted(sctx, d)
	if err != nil {
		return ReconcileResult{}, fmt.Errorf("reconcile: %w", err)
	}
	var res ReconcileResult
	s.do(func() { res = s.apply(d, stored) })
	s.log.LogAttrs(ctx, slog.LevelDebug, "schedules reconciled",
		slog.Int("added", len(res.Added)), slog.Int("changed", len(res.Changed)),
		slog.Int("removed", len(res.Removed)), slog.Int("unchanged", res.Unchanged), slog.Int("errors", len(res.Errors)))
	for id, err := range res.Errors {
		s.log.LogAttrs(ctx, slog.LevelError, "schedule not applied", slog.String("schedule", id), slog.Any("error", err))
	}
	return res, nil
}

// ReconcileStoreTimeout bounds each store call Reconcile makes.
const ReconcileStoreTimeout = 10 * time.Second

// storedToDelete returns, sorted, the schedules whose stored triggers must go
// before d is applied: persisted schedules removed, made non-persisted, or
// disabled (enabled: false means no trigger at all, so enabling one again
// starts afresh rather than catching up on the time it was off). A disabled
// schedule's trigger is deleted each time its definition is new here (first
// reconcile, or changed).
func (s *Scheduler) storedToDelete(d *config.Desired) []string {
	var ids []string
	s.do(func() {
		for id, e := range s.entries {
			if !e.sched.Persisted {
				continue
			}
			if sc, ok := d.Schedules[id]; !ok || !sc.Persisted {
				ids = append(ids, id)
			}
		}
		for id, sc := range d.Schedules {
			if !sc.Persisted || sc.Enabled {
				continue
			}
			if e := s.entries[id]; e == nil || e.sched != sc && (sc.Hash == "" || e.sched.Hash != sc.Hash) {
				ids = append(ids, id)
			}
		}
	})
	sort.Strings(ids)
	return ids
}

// syncPersisted gives the store the persisted, enabled schedules of d with
// the states they start from, and returns the stored states to continue
// from. A schedule starts from its first state, unless it runs here with
// the same trigger under another hash: then it goes on from its running
// state (see apply).
func (s *Scheduler) syncPersisted(ctx context.Context, d *config.Desired) (map[string]TriggerState, error) {
	type running struct {
		spec  *trigger.Spec
		state trigger.State
	}
	changed := map[string]running{}
	s.do(func() {
		for id, sc := range d.Schedules {
			if e := s.entries[id]; e != nil && sc.Persisted && sc.Enabled && !e.disabled && e.sched.Hash != sc.Hash {
				changed[id] = running{e.spec, e.state}
			}
		}
	})
	var defs []TriggerState
	now := s.clock.Now()
	for id, sc := range d.Schedules {
		if !sc.Persisted || !sc.Enabled {
			continue
		}
		spec, err := s.specFor(sc, d.Scheduler.Location)
		if err != nil {
			continue // reported by apply
		}
		st := spec.First(now)
		if r, ok := changed[id]; ok && sameTrigger(r.spec, &spec) {
			st = r.state
		}
		defs = append(defs, TriggerState{ScheduleID: id, Hash: sc.Hash, State: st})
	}
	if len(defs) == 0 {
		return nil, nil
	}
	sort.Slice(defs, func(i, j int) bool { return defs[i].ScheduleID < defs[j].ScheduleID })
	got, err := s.store.SyncTriggers(ctx, SyncTriggersParams{Triggers: defs, Now: now})
	if err != nil {
		return nil, fmt.Errorf("sync persisted triggers: %w", err)
	}
	if len(got) != len(defs) {
		return nil, fmt.Errorf("sync persisted triggers: store returned %d states for %d triggers", len(got), len(defs))
	}
	stored := make(map[string]TriggerState, len(got))
	for _, t := range got {
		stored[t.ScheduleID] = t
	}
	return stored, nil
}

// apply is Reconcile's work on the loop: scheduler.json's settings, then
// the schedules removed, those left as they are, and last the added and
// changed ones, each given its trigger.
func (s *Scheduler) apply(d *config.Desired, stored map[string]TriggerState) ReconcileResult {
	var res ReconcileResult
	execPersistedChanged := s.applySettings(d.Scheduler)
	res.Removed = s.removeMissing(d)
	fresh := s.keepUnchanged(d, execPersistedChanged, &res)
	now := s.clock.Now()
	specs := specCache{}
	s.heap.items = slices.Grow(s.heap.items, len(fresh))
	// The added ids are written over fresh as it is read (never ahead of
	// it): no second slice of 100,000 ids for a first reconcile.
	added := fresh[:0]
	for _, id := range fresh {
		sch := d.Schedules[id]
		spec, err := s.specOf(sch, specs)
		if err != nil {
			if res.Errors == nil {
				res.Errors = map[string]error{}
			}
			res.Errors[id] = err
			if s.entries[id] != nil {
				res.Unchanged++ // its running version goes on
			}
			continue
		}
		e := s.entries[id]
		if e == nil {
			e = s.addEntry(id)
			added = append(added, id)
		} else {
			res.Changed = append(res.Changed, id)
		}
		t, ok := stored[id]
		s.setTrigger(e, sch, spec, storedState{TriggerState: t, ok: ok}, now)
	}
	if len(added) > 0 {
		res.Added = added
	}
	sort.Strings(res.Added)
	sort.Strings(res.Changed)
	sort.Strings(res.Removed)
	return res
}

// applySettings applies scheduler.json: the thread count, the misfire
// threshold, executePersistentSchedules and the default zone. It reports
// whether executePersistentSchedules changed.
func (s *Scheduler) applySettings(sc config.SchedulerConfig) (execPersistedChanged bool) {
	s.resize(sc.ThreadCount)
	s.threshold = sc.MisfireThreshold
	if s.threshold <= 0 {
		s.threshold = DefaultMisfireThreshold
	}
	execPersistedChanged = s.execPersisted != sc.ExecutePersistentSchedules
	s.execPersisted = sc.ExecutePersistentSchedules
	s.defaultLoc = sc.Location
	return execPersistedChanged
}

// removeMissing removes the running schedules d does not have and returns
// their ids.
func (s *Scheduler) removeMissing(d *config.Desired) []string {
	var removed []string
	before := len(s.entries)
	for id, e := range s.entries {
		if _, ok := d.Schedules[id]; !ok {
			s.removeEntry(e)
			removed = append(removed, id)
		}
	}
	if n := len(s.entries); n == 0 || n < before/2 {
		// Sized for what comes: grown one schedule at a time, a map of
		// 100,000 entries allocates twice its size on the way, and a Go
		// map never shrinks after removals.
		entries := make(map[string]*entry, max(n, len(d.Schedules)))
		for id, e := range s.entries {
			entries[id] = e
		}
		s.entries = entries
	}
	return removed
}

// keepUnchanged leaves the schedules of d that run here in the same version
// (same definition, or same Hash) as they are, counting them in res, and
// returns the others, sorted: added or changed.
func (s *Scheduler) keepUnchanged(d *config.Desired, execPersistedChanged bool, res *ReconcileResult) []string {
	// Exact for a first reconcile, a guess for a reload.
	fresh := make([]string, 0, max(len(d.Schedules)-len(s.entries), 0))
	for id, sch := range d.Schedules {
		e := s.entries[id]
		if e != nil && (e.sched == sch || (sch.Hash != "" && e.sched.Hash == sch.Hash)) {
			e.sched, e.svc = sch, s.svcIndex[serviceKey(sch.InvokeService)]
			res.Unchanged++
			if execPersistedChanged && sch.Persisted {
				s.rearm(e)
			}
			continue
		}
		fresh = append(fresh, id)
	}
	sort.Strings(fresh)
	return fresh
}

// specOf returns the trigger of a schedule, shared through specs: noTrigger
// for a disabled one.
func (s *Scheduler) specOf(sch *config.Schedule, specs specCache) (*trigger.Spec, error) {
	if !sch.Enabled {
		return noTrigger, nil
	}
	sp, err := s.specFor(sch, s.defaultLoc)
	if err != nil {
		return nil, err
	}
	return specs.get(sp), nil
}

// addEntry puts a new schedule in the running set: a fresh entry, or the
// entry of a removed one still running (its runs go on and count). Its
// version is set by setTrigger.
func (s *Scheduler) addEntry(id string) *entry {
	e := s.draining[id]
	if e != nil {
		delete(s.draining, id)
		e.removed = false
		e.sched = nil // a removed schedule added again starts afresh (see setTrigger)
	} else {
		e = &entry{id: id}
	}
	e.seq, s.seq = s.seq, s.seq+1
	e.paused = s.pausedAll
	s.entries[id] = e
	return e
}

// storedState is a schedule's trigger as the store holds it (ok: it does).
type storedState struct {
	TriggerState
	ok bool
}

// setTrigger gives an added or changed entry its new version and the
// trigger state it goes on from: none when disabled; the stored state of a
// persisted schedule (fires missed while no node ran it follow the misfire
// policy); its running state when only things other than its trigger
// changed (its description, say, or its script: next fire time and counts
// go on as if nothing changed); otherwise the new trigger's first state.
func (s *Scheduler) setTrigger(e *entry, sch *config.Schedule, spec *trigger.Spec, stored storedState, now time.Time) {
	keep := e.sched != nil && !e.disabled && sch.Enabled && sameTrigger(e.spec, spec)
	prev := e.state.Previous
	e.sched, e.spec, e.svc = sch, spec, s.svcIndex[serviceKey(sch.InvokeService)]
	e.disabled = !sch.Enabled
	e.late = reasonNone
	switch {
	case e.disabled:
		e.state = trigger.State{Previous: prev}
	case stored.ok && stored.Hash == sch.Hash:
		// (A kept trigger's running state is what syncPersisted stored.)
		e.state = stored.State
		e.paused = e.paused || stored.Paused
	case keep:
	default:
		e.state = spec.First(now)
		e.state.Previous = prev
	}
	// A changed schedule never fires again a time its previous version
	// already fired: a new cron trigger's first fire can be the current
	// second (as in Quartz), which the old one ran. This holds for a
	// persisted schedule too, whose store reset the trigger to the new
	// version's first state.
	if !e.disabled && !prev.IsZero() && !e.state.Next.IsZero() && !e.state.Next.After(prev) {
		e.state.Next = spec.FireTimeAfter(e.state, prev)
	}
	s.rearm(e)
}

// specCache shares one *trigger.Spec between the schedules of a reconcile
// that have the same trigger (same calendar, zone, bounds, repeat): Specs
// are immutable, and 100,000 schedules on one cron expression need one.
type specCache map[trigger.Spec]*trigger.Spec

func (c specCache) get(sp trigger.Spec) *trigger.Spec {
	if !calendarComparable(sp.Calendar) {
		return &sp
	}
	if p := c[sp]; p != nil {
		return p
	}
	p := &sp
	c[sp] = p
	return p
}

// sameTrigger reports whether two triggers fire at the same times: same
// kind, bounds, zone, repeats, misfire policy and calendar (the same
// expression, parsed once or twice).
func sameTrigger(a, b *trigger.Spec) bool {
	if a.Kind != b.Kind || a.MisfirePolicy != b.MisfirePolicy || !a.Start.Equal(b.Start) || !a.End.Equal(b.End) ||
		a.RepeatInterval != b.RepeatInterval || a.RepeatCount != b.RepeatCount || a.Location.String() != b.Location.String() {
		return false
	}
	if calendarComparable(a.Calendar) && calendarComparable(b.Calendar) && a.Calendar == b.Calendar {
		return true
	}
	ca, okA := a.Calendar.(*cron.Expression)
	cb, okB := b.Calendar.(*cron.Expression)
	return okA && okB && ca.String() == cb.String()
}

// calendarComparable reports whether a Calendar can be part of a map key (a
// key whose dynamic type is not comparable panics).
func calendarComparable(c trigger.Calendar) bool {
	switch c.(type) {
	case nil, *cron.Expression:
		return true
	}
	return reflect.TypeOf(c).Comparable()
}

// removeEntry takes e out of the running set; a run in progress finishes.
func (s *Scheduler) removeEntry(e *entry) {
	s.heap.remove(e)
	delete(s.entries, e.id)
	e.removed = true
	if e.manualPending > 0 {
		kept := s.manual[:0]
		for _, m := range s.manual {
			switch {
			case m.e != e:
				kept = append(kept, m)
			case m.recovery != nil:
				m.recovery.end(fmt.Errorf("schedule %s: %w", e.id, ErrNotFound))
			}
		}
		clear(s.manual[len(kept):])
		s.manual = kept
		e.manualPending = 0
	}
	if e.running > 0 {
		s.draining[e.id] = e
	}
}

// specFor builds the trigger of an enabled schedule with the conversion
// the config loader checked it with (config.Schedule.Trigger).
func (s *Scheduler) specFor(sc *config.Schedule, defaultLoc *time.Location) (trigger.Spec, error) {
	opts := config.TriggerOptions{DefaultLocation: defaultLoc}
	if s.calendarFor != nil && sc.Type != config.TypeSimple {
		cal, err := s.calendarFor(sc)
		if err != nil {
			return trigger.Spec{}, err
		}
		opts.Calendar = cal
	}
	return sc.Trigger(opts)
}
