package config

import (
	"time"

	"sundial/engine/cron"
	"sundial/engine/trigger"
)

// TriggerOptions configures Schedule.Trigger.
type TriggerOptions struct {
	// DefaultLocation is the zone of a schedule without a Location; nil
	// means time.Local.
	DefaultLocation *time.Location
	// Calendar, when not nil, replaces a cron schedule's expression (a
	// scheduler test's fake calendar).
	Calendar trigger.Calendar
}

// Trigger converts the schedule to its trigger definition. It is the one
// conversion from a schedule to a trigger: the loader runs it on every
// schedule and reports its errors at the position of the key at fault, the
// scheduler arms what it returns, and `sundial validate` previews it. The
// error is a *trigger.SpecError: a rule of trigger.Spec.Validate, or the
// schedule's type, misfire policy or cron expression.
func (s *Schedule) Trigger(opts TriggerOptions) (trigger.Spec, error) {
	loc := s.Location
	if loc == nil {
		loc = opts.DefaultLocation
	}
	if loc == nil {
		loc = time.Local
	}
	spec := trigger.Spec{Location: loc, Start: s.StartTime, End: s.EndTime}
	switch s.Type {
	case TypeSimple:
		spec.Kind = trigger.Simple
		spec.RepeatInterval = s.RepeatInterval
		spec.RepeatCount = s.RepeatCount
	case TypeCron, "":
		spec.Kind = trigger.Cron
		policy, err := trigger.ParseMisfirePolicy(s.MisfirePolicy)
		if err != nil {
			return spec, err
		}
		spec.MisfirePolicy = policy
		switch {
		case opts.Calendar != nil:
			spec.Calendar = opts.Calendar
		case s.Cron != nil:
			spec.Calendar = s.Cron
		case s.CronSpec != "":
			// A schedule built by hand rather than loaded.
			e, err := cron.Parse(s.CronSpec)
			if err != nil {
				return spec, trigger.NewSpecError(trigger.FieldCalendar, "cron schedule %q: %v", s.CronSpec, err)
			}
			spec.Calendar = e
		}
	default:
		return spec, trigger.NewSpecError(trigger.FieldKind, "unknown schedule type %q", s.Type)
	}
	if err := spec.Validate(); err != nil {
		return spec, err
	}
	return spec, nil
}
