package trigger

import (
	"fmt"
	"time"
)

// Calendar is a recurring schedule, such as a Quartz cron expression
// (*cron.Expression implements it).
type Calendar interface {
	// Next returns the first fire time strictly after after, computed in
	// after.Location(), or the zero time when there is none.
	Next(after time.Time) time.Time
}

// Kind is the kind of a trigger.
type Kind uint8

// Trigger kinds.
const (
	// Cron fires on the times of a Calendar, in the trigger's Location.
	Cron Kind = iota + 1
	// Simple fires at its start time and then every RepeatInterval,
	// RepeatCount more times.
	Simple
)

// String returns "cron" or "simple", as in schedule files.
func (k Kind) String() string {
	switch k {
	case Cron:
		return "cron"
	case Simple:
		return "simple"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// RepeatForever is the RepeatCount of a simple trigger that never stops
// (Quartz SimpleTrigger.REPEAT_INDEFINITELY).
const RepeatForever = -1

// Spec is the immutable definition of a trigger. The zero Start and End mean
// "not set". Methods take a pointer only to avoid copying; they never modify
// the Spec.
type Spec struct {
	Kind Kind
	// MisfirePolicy applies to cron triggers; simple triggers follow Quartz's
	// smart policy (see InstructionFor).
	MisfirePolicy MisfirePolicy
	// Calendar gives the fire times of a cron trigger.
	Calendar Calendar
	// Location is the zone the Calendar is evaluated in (the schedule's
	// timeZone). Nil means UTC.
	Location *time.Location
	// Start is the earliest fire time. A start in the past, or none, means
	// the moment the trigger is created.
	Start time.Time
	// End is the end time: a simple trigger fires strictly before it, a cron
	// trigger at or before it (both as in Quartz's getFireTimeAfter).
	End time.Time
	// RepeatInterval is the time between the fires of a simple trigger; 0
	// fires all the repeats at once.
	RepeatInterval time.Duration
	// RepeatCount is the number of repeats of a simple trigger after its
	// first fire (n+1 fires in all), or RepeatForever.
	RepeatCount int
}

// State is the mutable part of a trigger, what Quartz keeps in the trigger
// itself and a store persists: the scheduler passes it in and gets the next
// one back.
type State struct {
	// Next is the next fire time; the zero time when the trigger is complete.
	Next time.Time
	// Previous is the last fire time, zero before the first fire.
	Previous time.Time
	// TimesTriggered counts fires (reset by a RESCHEDULE_NOW misfire on a
	// simple trigger with a repeat count, as Quartz does).
	TimesTriggered int
	// Start is the effective start time: Spec.Start, or the creation time
	// when that is unset or past, or the misfire time after a RESCHEDULE_NOW
	// misfire instruction.
	Start time.Time
	// RepeatCount is the effective repeat count of a simple trigger; a
	// RESCHEDULE_NOW misfire instruction lowers it.
	RepeatCount int
}

// Complete reports whether the trigger will never fire again.
func (st State) Complete() bool { return st.Next.IsZero() }

// Field names the part of a Spec that a SpecError is about.
type Field uint8

// Spec fields, for SpecError.
const (
	FieldKind Field = iota + 1
	FieldMisfirePolicy
	FieldCalendar
	FieldRepeatInterval
	FieldRepeatCount
	FieldEnd
)

// SpecError is a rule that a trigger definition breaks, with the field at
// fault, so that a loader can report it at the position of that field.
type SpecError struct {
	Field Field
	Msg   string
}

func (e *SpecError) Error() string { return e.Msg }

// NewSpecError returns a *SpecError about field f.
func NewSpecError(f Field, format string, args ...any) *SpecError {
	return specError(f, format, args...)
}

func specError(f Field, format string, args ...any) *SpecError {
	return &SpecError{Field: f, Msg: fmt.Sprintf(format, args...)}
}

// Validate reports a definition that can never make sense. These are the
// only trigger rules: the config loader checks schedules with them, and the
// scheduler checks what it is given. The error is a *SpecError.
func (s *Spec) Validate() error {
	switch s.Kind {
	case Cron:
		if s.Calendar == nil {
			return specError(FieldCalendar, "cron trigger without a schedule")
		}
	case Simple:
		if s.RepeatCount < RepeatForever {
			return specError(FieldRepeatCount, "repeat count %d is below -1", s.RepeatCount)
		}
		if s.RepeatInterval < 0 {
			return specError(FieldRepeatInterval, "repeat interval %s is negative", s.RepeatInterval)
		}
		if s.RepeatInterval == 0 && s.RepeatCount == RepeatForever {
			return specError(FieldRepeatCount, "a simple trigger that repeats forever needs a repeat interval above 0")
		}
	default:
		return specError(FieldKind, "unknown trigger kind %d", uint8(s.Kind))
	}
	if !s.Start.IsZero() && !s.End.IsZero() && s.End.Before(s.Start) {
		return specError(FieldEnd, "end time %s is before start time %s",
			s.End.Format(time.RFC3339), s.Start.Format(time.RFC3339))
	}
	return nil
}

func (s *Spec) location() *time.Location {
	if s.Location == nil {
		return time.UTC
	}
	return s.Location
}

// First returns the state of a trigger created at now, with its first fire
// time (Quartz computeFirstFireTime), or a complete state when it never
// fires.
//
// The effective start is Spec.Start, or now when that is unset or in the past
// (Sundial's rule, as in IDM's schedules: a start in the past means start now; Quartz
// would instead misfire). A cron trigger then fires at the first calendar time
// at or after the start rounded down to the second (Quartz rounds the start
// of a cron trigger and searches after start - 1 s), so a trigger created at
// 10:00:00.7 on a calendar that has 10:00:00 fires at once, for 10:00:00.
func (s *Spec) First(now time.Time) State {
	start := s.Start
	if start.IsZero() || start.Before(now) {
		start = now
	}
	st := State{Start: start, RepeatCount: s.RepeatCount}
	switch s.Kind {
	case Simple:
		// Quartz SimpleTriggerImpl.computeFirstFireTime: the start time. It
		// does not check the end time; Sundial does not fire after it.
		if s.End.IsZero() || !start.After(s.End) {
			st.Next = start
		}
	case Cron:
		// CronTriggerImpl.setStartTime rounds the start down to the second.
		st.Start = start.Truncate(time.Second)
		st.Next = s.FireTimeAfter(st, st.Start.Add(-time.Second))
	}
	return st
}

// FireTimeAfter returns the first time strictly after after at which the
// trigger in state st fires, ignoring TimesTriggered limits that have not
// been reached, or the zero time when there is none. It is Quartz's
// getFireTimeAfter for both kinds.
func (s *Spec) FireTimeAfter(st State, after time.Time) time.Time {
	if s.Kind == Cron {
		return s.cronFireTimeAfter(st, after)
	}
	return s.simpleFireTimeAfter(st, after)
}

// cronFireTimeAfter is CronTriggerImpl.getFireTimeAfter.
func (s *Spec) cronFireTimeAfter(st State, after time.Time) time.Time {
	if st.Start.After(after) {
		after = st.Start.Add(-time.Second)
	}
	if !s.End.IsZero() && !after.Before(s.End) {
		return time.Time{}
	}
	t := s.Calendar.Next(after.In(s.location()))
	if t.IsZero() || (!s.End.IsZero() && t.After(s.End)) {
		return time.Time{}
	}
	return t
}

// simpleFireTimeAfter is SimpleTriggerImpl.getFireTimeAfter, extended to
// repeat interval 0 (every fire at the start time).
func (s *Spec) simpleFireTimeAfter(st State, after time.Time) time.Time {
	if st.RepeatCount != RepeatForever && st.TimesTriggered > st.RepeatCount {
		return time.Time{}
	}
	if st.RepeatCount == 0 && !after.Before(st.Start) {
		return time.Time{}
	}
	if !s.End.IsZero() && !s.End.After(after) {
		return time.Time{}
	}
	if after.Before(st.Start) {
		return st.Start
	}
	if s.RepeatInterval <= 0 {
		return time.Time{}
	}
	n := int64(after.Sub(st.Start)/s.RepeatInterval) + 1
	if st.RepeatCount != RepeatForever && n > int64(st.RepeatCount) {
		return time.Time{}
	}
	t := st.Start.Add(time.Duration(n) * s.RepeatInterval)
	if !s.End.IsZero() && !s.End.After(t) {
		return time.Time{}
	}
	return t
}

// Fired returns the state after the trigger fired at st.Next (Quartz
// triggered()): one more time triggered, Previous = st.Next, and Next the fire
// time after it. A simple trigger with repeat interval 0 keeps Next until all
// its fires are done.
func (s *Spec) Fired(st State) State {
	st.TimesTriggered++
	st.Previous = st.Next
	if s.Kind == Simple && s.RepeatInterval == 0 {
		if st.RepeatCount != RepeatForever && st.TimesTriggered > st.RepeatCount {
			st.Next = time.Time{}
		}
		return st
	}
	st.Next = s.FireTimeAfter(st, st.Next)
	return st
}

// Upcoming returns up to n fire times from st on, as they would happen if
// every fire ran on time.
func (s *Spec) Upcoming(st State, n int) []time.Time {
	var out []time.Time
	for len(out) < n && !st.Next.IsZero() {
		out = append(out, st.Next)
		st = s.Fired(st)
	}
	return out
}

// Preview returns the first n fire times of the trigger created at now.
func (s *Spec) Preview(now time.Time, n int) []time.Time {
	return s.Upcoming(s.First(now), n)
}
