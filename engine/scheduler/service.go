package scheduler

import (
	"context"
	"strconv"
	"strings"
	"time"

	"sundial/engine/config"
)

// Service runs the fires of the schedules whose invokeService names it
// (script, taskscanner, sync, provisioner, job). Services are registered in
// Options.Services under that short name.
type Service interface {
	// Invoke runs one fire. ctx is cancelled when the scheduler stops and
	// its grace period is over; the service should then return promptly. A
	// returned error fails the run; a panic is recovered and fails it too.
	Invoke(ctx context.Context, run Run) error
}

// ServiceFunc adapts a function to Service.
type ServiceFunc func(ctx context.Context, run Run) error

var _ Service = ServiceFunc(nil)

// Invoke calls f.
func (f ServiceFunc) Invoke(ctx context.Context, run Run) error { return f(ctx, run) }

// Run is one fire of a schedule, as a Service receives it and the executing
// list shows it.
type Run struct {
	// FireID identifies the fire: "<scheduleId>@<scheduled time, RFC 3339
	// UTC>" (see FireID), so downstream systems can make "once per fire"
	// checkable. Fires of a simple trigger with repeat interval 0 share their
	// scheduled time and get "#<n>" appended, n counting from 1.
	FireID     string
	ScheduleID string
	// Schedule is the schedule as it was when the fire started (immutable).
	Schedule *config.Schedule
	// ScheduledFireTime is the time the trigger was due. After a misfire
	// that fires now (fireAndProceed, Quartz FIRE_ONCE_NOW), it is the
	// moment of the misfire, as Quartz reports it.
	ScheduledFireTime time.Time
	// ActualFireTime is when the run started: the fire was claimed (for a
	// persisted schedule) and its service is being called.
	ActualFireTime time.Time
	// NextFireTime is the trigger's next fire time; zero when there is none.
	NextFireTime time.Time
	// Manual is true for a fire started by TriggerNow.
	Manual bool
	// NodeID is the node running the fire.
	NodeID string
	// Recovery is true for a recovery run (see Scheduler.RunRecovery):
	// the run again of a fire whose node died during it. RecoveredFrom is
	// that node, Attempt the run's attempt (2 for the first recovery).
	Recovery      bool
	RecoveredFrom string
	Attempt       int
}

// Context returns the run context that scripts see as `context`: fireId,
// scheduledFireTime, actualFireTime and nextFireTime (UTC times; nil when
// the trigger will not fire again), recovery, and for a recovery run
// recoveredFrom and attempt.
func (r Run) Context() map[string]any {
	m := map[string]any{
		"fireId":            r.FireID,
		"scheduledFireTime": r.ScheduledFireTime.UTC(),
		"actualFireTime":    r.ActualFireTime.UTC(),
		"nextFireTime":      nil,
		"recovery":          r.Recovery,
	}
	if !r.NextFireTime.IsZero() {
		m["nextFireTime"] = r.NextFireTime.UTC()
	}
	if r.Recovery {
		m["recoveredFrom"] = r.RecoveredFrom
		m["attempt"] = r.Attempt
	}
	return m
}

// FireID returns "<scheduleId>@<scheduled>", the scheduled time in UTC, RFC
// 3339 with as many fractional digits as it has, truncated to microseconds
// (the precision of the store, whose store.FireID gives the same string).
func FireID(scheduleID string, scheduled time.Time) string {
	return string(appendFireID(make([]byte, 0, 64), scheduleID, scheduled, 0))
}

// appendFireID appends the fire id, with "#<fanOut>" when fanOut > 0.
func appendFireID(b []byte, scheduleID string, scheduled time.Time, fanOut int) []byte {
	b = append(b, scheduleID...)
	b = append(b, '@')
	b = scheduled.UTC().Truncate(time.Microsecond).AppendFormat(b, time.RFC3339Nano)
	if fanOut > 0 {
		b = append(b, '#')
		b = strconv.AppendInt(b, int64(fanOut), 10)
	}
	return b
}

// servicePrefix is the prefix IDM puts in front of short invokeService names.
const servicePrefix = "org.forgerock.openidm."

// serviceKey returns the short name a service is registered under.
func serviceKey(invokeService string) string {
	return strings.TrimPrefix(invokeService, servicePrefix)
}
