package trigger

import (
	"fmt"
	"time"
)

// MisfirePolicy is a schedule's misfirePolicy.
type MisfirePolicy uint8

// Misfire policies. The zero value is IDM's default.
const (
	// FireAndProceed is Quartz CronTrigger.MISFIRE_INSTRUCTION_FIRE_ONCE_NOW:
	// the missed fires collapse into one fire now, then the schedule goes on.
	FireAndProceed MisfirePolicy = iota
	// DoNothing is Quartz CronTrigger.MISFIRE_INSTRUCTION_DO_NOTHING: the
	// missed fires are dropped and the trigger waits for its next regular time.
	DoNothing
)

// ParseMisfirePolicy parses a misfirePolicy value; "" is the default,
// FireAndProceed. Names are case-sensitive, as in IDM. The error is a
// *SpecError.
func ParseMisfirePolicy(s string) (MisfirePolicy, error) {
	switch s {
	case "", "fireAndProceed":
		return FireAndProceed, nil
	case "doNothing":
		return DoNothing, nil
	}
	return 0, specError(FieldMisfirePolicy, "invalid misfire policy: %s", s)
}

// String returns the policy as written in schedule files.
func (p MisfirePolicy) String() string {
	switch p {
	case FireAndProceed:
		return "fireAndProceed"
	case DoNothing:
		return "doNothing"
	}
	return fmt.Sprintf("misfirePolicy(%d)", uint8(p))
}

// Instruction is a Quartz misfire instruction, what updateAfterMisfire does.
type Instruction uint8

// Misfire instructions, named after the Quartz constants.
const (
	// CronFireOnceNow: next fire = now (CronTrigger 1).
	CronFireOnceNow Instruction = iota + 1
	// CronDoNothing: next fire = the first calendar time after now
	// (CronTrigger 2).
	CronDoNothing
	// SimpleFireNow: next fire = now (SimpleTrigger 1); for a trigger that
	// repeats Quartz turns it into SimpleRescheduleNowWithRemainingRepeatCount.
	SimpleFireNow
	// SimpleRescheduleNowWithExistingRepeatCount: restart now with the repeats
	// not yet done; no fire is lost (SimpleTrigger 2).
	SimpleRescheduleNowWithExistingRepeatCount
	// SimpleRescheduleNowWithRemainingRepeatCount: restart now; the missed
	// fires count as done (SimpleTrigger 3).
	SimpleRescheduleNowWithRemainingRepeatCount
	// SimpleRescheduleNextWithRemainingCount: wait for the next slot of the
	// original grid; the missed fires count as done (SimpleTrigger 4).
	SimpleRescheduleNextWithRemainingCount
	// SimpleRescheduleNextWithExistingCount: wait for the next slot of the
	// original grid; the missed fires do not count (SimpleTrigger 5).
	SimpleRescheduleNextWithExistingCount
)

var instructionNames = [...]string{
	CronFireOnceNow: "FIRE_ONCE_NOW",
	CronDoNothing:   "DO_NOTHING",
	SimpleFireNow:   "FIRE_NOW",
	SimpleRescheduleNowWithExistingRepeatCount:  "RESCHEDULE_NOW_WITH_EXISTING_REPEAT_COUNT",
	SimpleRescheduleNowWithRemainingRepeatCount: "RESCHEDULE_NOW_WITH_REMAINING_REPEAT_COUNT",
	SimpleRescheduleNextWithRemainingCount:      "RESCHEDULE_NEXT_WITH_REMAINING_COUNT",
	SimpleRescheduleNextWithExistingCount:       "RESCHEDULE_NEXT_WITH_EXISTING_COUNT",
}

// String returns the Quartz name without its MISFIRE_INSTRUCTION_ prefix.
func (in Instruction) String() string {
	if int(in) < len(instructionNames) && instructionNames[in] != "" {
		return instructionNames[in]
	}
	return fmt.Sprintf("instruction(%d)", uint8(in))
}

// MaxCountedMisses bounds the number of missed fire times a misfire counts
// one by one (a 1-second cron trigger paused for a day has 86,400): beyond
// it, MisfireResult.Missed stays at this value.
const MaxCountedMisses = 10000

// Misfired reports whether a fire scheduled at scheduled has misfired when it
// could start at now: it is late by the threshold or more. Quartz's JobStores
// (RAMJobStore.applyMisfire, JobStoreSupport, OpenIDM's RepoJobStore) test
// nextFireTime <= now - misfireThreshold. A fire late by less just runs late.
// Quartz requires a threshold above 0.
func Misfired(scheduled, now time.Time, threshold time.Duration) bool {
	return !scheduled.After(now.Add(-threshold))
}

// InstructionFor returns the misfire instruction Quartz applies to a trigger
// of the given kind, policy and current repeat count. IDM maps fireAndProceed
// to FIRE_ONCE_NOW and doNothing to DO_NOTHING for cron triggers (OpenIDM
// TriggerType); simple triggers get Quartz's smart policy, as in
// SimpleTriggerImpl.updateAfterMisfire: repeat count 0 → FIRE_NOW, forever →
// RESCHEDULE_NEXT_WITH_REMAINING_COUNT, otherwise
// RESCHEDULE_NOW_WITH_EXISTING_REPEAT_COUNT. IDM validates misfirePolicy for
// cron triggers only, so a simple trigger's policy is ignored.
func InstructionFor(kind Kind, policy MisfirePolicy, repeatCount int) Instruction {
	if kind == Cron {
		if policy == DoNothing {
			return CronDoNothing
		}
		return CronFireOnceNow
	}
	switch repeatCount {
	case 0:
		return SimpleFireNow
	case RepeatForever:
		return SimpleRescheduleNextWithRemainingCount
	}
	return SimpleRescheduleNowWithExistingRepeatCount
}

// MisfireInstruction returns InstructionFor this trigger in state st.
func (s *Spec) MisfireInstruction(st State) Instruction {
	return InstructionFor(s.Kind, s.MisfirePolicy, st.RepeatCount)
}

// MisfireResult is the outcome of a misfire.
type MisfireResult struct {
	// State is the trigger state after the misfire; when its Next is not
	// after now, the trigger fires now.
	State State
	// Instruction is the instruction that was applied.
	Instruction Instruction
	// Missed counts the fire times that will never run because of the
	// misfire (collapsed into one fire, or skipped), up to MaxCountedMisses.
	// A fire that only moves to now is not missed.
	Missed int
	// FirstMissed and LastMissed are the first and last of those times.
	FirstMissed, LastMissed time.Time
}

// ApplyMisfire applies instruction in to a trigger whose next fire time,
// st.Next, has misfired at now. It is Quartz's updateAfterMisfire
// (CronTriggerImpl and SimpleTriggerImpl), with one change: Sundial never
// fires after the end time, where Quartz's FIRE_ONCE_NOW and FIRE_NOW set the
// next fire to now without looking at it.
func (s *Spec) ApplyMisfire(st State, now time.Time, in Instruction) MisfireResult {
	r := MisfireResult{Instruction: in}
	scheduled := st.Next
	pastEnd := !s.End.IsZero() && s.End.Before(now)
	if in == SimpleFireNow && st.RepeatCount != 0 {
		// SimpleTriggerImpl: "if FIRE_NOW and the trigger repeats, treat it
		// as RESCHEDULE_NOW_WITH_REMAINING_REPEAT_COUNT".
		in = SimpleRescheduleNowWithRemainingRepeatCount
		r.Instruction = in
	}
	switch in {
	case CronFireOnceNow, SimpleFireNow:
		// All the missed times collapse into one fire now; for a one-shot
		// simple trigger that is the fire itself, moved to now.
		r.countMissed(s, st, scheduled, now)
		if pastEnd {
			st.Next = time.Time{}
		} else {
			st.Next = now
			r.dropFirst()
		}
	case CronDoNothing, SimpleRescheduleNextWithExistingCount:
		r.countMissed(s, st, scheduled, now)
		st.Next = s.FireTimeAfter(st, now)
	case SimpleRescheduleNextWithRemainingCount:
		next := s.FireTimeAfter(st, now)
		if next.IsZero() {
			r.countMissed(s, st, scheduled, now)
		} else {
			missed := numTimesFiredBetween(s.RepeatInterval, scheduled, next)
			st.TimesTriggered += missed
			r.Missed = min(missed, MaxCountedMisses)
			if missed > 0 {
				r.FirstMissed = scheduled
				r.LastMissed = next.Add(-s.RepeatInterval)
			}
		}
		st.Next = next
	case SimpleRescheduleNowWithExistingRepeatCount:
		if pastEnd {
			r.countMissed(s, st, scheduled, now)
			st.Next = time.Time{}
			break
		}
		if st.RepeatCount != 0 && st.RepeatCount != RepeatForever {
			st.RepeatCount -= st.TimesTriggered
			st.TimesTriggered = 0
		}
		st.Start, st.Next = now, now
	case SimpleRescheduleNowWithRemainingRepeatCount:
		if pastEnd {
			r.countMissed(s, st, scheduled, now)
			st.Next = time.Time{}
			break
		}
		missed := numTimesFiredBetween(s.RepeatInterval, scheduled, now)
		if st.RepeatCount != 0 && st.RepeatCount != RepeatForever {
			remaining := max(st.RepeatCount-(st.TimesTriggered+missed), 0)
			missed = min(missed, st.RepeatCount-st.TimesTriggered)
			st.RepeatCount = remaining
			st.TimesTriggered = 0
		}
		if missed > 0 {
			r.Missed = min(missed, MaxCountedMisses)
			r.FirstMissed = scheduled
			r.LastMissed = scheduled.Add(time.Duration(missed-1) * s.RepeatInterval)
		}
		st.Start, st.Next = now, now
	}
	r.State = st
	return r
}

// countMissed counts the fire times of st from its Next up to now.
func (r *MisfireResult) countMissed(s *Spec, st State, from, now time.Time) {
	for t := from; !t.IsZero() && !t.After(now) && r.Missed < MaxCountedMisses; {
		if r.Missed == 0 {
			r.FirstMissed = t
		}
		r.LastMissed = t
		r.Missed++
		st.Next = t
		next := s.Fired(st)
		if !next.Next.After(t) {
			// Repeat interval 0: the remaining fires are all at t.
			r.Missed = min(r.Missed+remainingFires(next), MaxCountedMisses)
			break
		}
		st, t = next, next.Next
	}
}

// dropFirst turns "Missed times" into "times that will not run" when one fire
// now stands for them.
func (r *MisfireResult) dropFirst() {
	if r.Missed == 0 {
		return
	}
	r.Missed--
	if r.Missed == 0 {
		r.FirstMissed, r.LastMissed = time.Time{}, time.Time{}
	}
}

func remainingFires(st State) int {
	if st.Next.IsZero() || st.RepeatCount == RepeatForever {
		return 0
	}
	return max(st.RepeatCount+1-st.TimesTriggered, 0)
}

// numTimesFiredBetween is SimpleTriggerImpl.computeNumTimesFiredBetween.
func numTimesFiredBetween(interval time.Duration, start, end time.Time) int {
	if interval < 1 || !end.After(start) {
		return 0
	}
	return int(end.Sub(start) / interval)
}

// Decision says what to do with a trigger at now.
type Decision struct {
	// Fire is true when the trigger fires now, at scheduled time State.Next;
	// call Fired(State) to advance it.
	Fire bool
	// State is the state to continue from.
	State State
	// Misfired is true when State.Next had misfired; Misfire says what was
	// done about it.
	Misfired bool
	Misfire  MisfireResult
}

// Due decides what a trigger in state st does at now, the moment it could
// start: nothing yet (Next is in the future), fire at its scheduled time
// (on time, or late by less than the misfire threshold), or apply the misfire
// instruction, which may fire it now, move it to a later time or complete it.
func (s *Spec) Due(st State, now time.Time, threshold time.Duration) Decision {
	if st.Next.IsZero() || st.Next.After(now) {
		return Decision{State: st}
	}
	if !Misfired(st.Next, now, threshold) {
		return Decision{Fire: true, State: st}
	}
	m := s.ApplyMisfire(st, now, s.MisfireInstruction(st))
	return Decision{
		Fire:     !m.State.Next.IsZero() && !m.State.Next.After(now),
		State:    m.State,
		Misfired: true,
		Misfire:  m,
	}
}
