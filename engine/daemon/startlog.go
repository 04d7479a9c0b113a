package daemon

import (
	"cmp"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"sundial/engine/config"
	"sundial/engine/scheduler"
)

// maxNextFireLines caps the "next fire" lines logged at start; beyond it one
// summary line says how many schedules were left out.
const maxNextFireLines = 20

// logStart says, once the node runs, where it listens, what it loaded and
// when each schedule fires next (the soonest maxNextFireLines of them).
func (d *Daemon) logStart(first *config.Desired) {
	snap := d.sched.Snapshot()
	byState := map[scheduler.Status]int{}
	for _, s := range snap.Schedules {
		byState[s.Status]++
	}
	var states []any
	for _, st := range []scheduler.Status{scheduler.StatusNormal, scheduler.StatusPaused, scheduler.StatusBlocked,
		scheduler.StatusComplete, scheduler.StatusNone} {
		if n := byState[st]; n > 0 {
			states = append(states, slog.Int(stateName(st), n))
		}
	}
	d.log.Info("sundial started", "node", d.nodeID, "conf", d.opts.ConfDir, "scripts", d.opts.ScriptsDir,
		"listen", d.Addr(), "schedules", len(snap.Schedules), slog.Group("states", states...),
		"invalid_files", len(first.Errors))

	upcoming := make([]scheduler.ScheduleInfo, 0, len(snap.Schedules))
	var idle []string // no next fire, sorted by id as the snapshot is
	for _, s := range snap.Schedules {
		if s.NextFireTime.IsZero() {
			idle = append(idle, s.ID)
		} else {
			upcoming = append(upcoming, s)
		}
	}
	slices.SortFunc(upcoming, func(a, b scheduler.ScheduleInfo) int {
		return cmp.Or(a.NextFireTime.Compare(b.NextFireTime), strings.Compare(a.ID, b.ID))
	})
	now := d.opts.Clock.Now()
	for i, s := range upcoming {
		if i == maxNextFireLines {
			rest := upcoming[i:]
			d.log.Info(fmt.Sprintf("next fire of %d more schedules not listed", len(rest)),
				"from", rest[0].NextFireTime.UTC(), "to", rest[len(rest)-1].NextFireTime.UTC())
			break
		}
		next := s.NextFireTime
		if s.Schedule != nil && s.Schedule.Location != nil {
			next = next.In(s.Schedule.Location)
		}
		d.log.Info("next fire", "schedule", s.ID, "at", next.Format(time.RFC3339), "in", next.Sub(now).Round(time.Second),
			"trigger", describeTrigger(s.Schedule))
	}
	if len(idle) > 0 {
		d.log.Info(fmt.Sprintf("%d schedules have no next fire (disabled, paused or complete)", len(idle)),
			"schedules", idle[:min(len(idle), maxNextFireLines)])
	}
}

// stateName is a scheduler status as a log key.
func stateName(st scheduler.Status) string {
	if st == scheduler.StatusNone {
		return "disabled"
	}
	return strings.ToLower(string(st))
}

func describeTrigger(sc *config.Schedule) string {
	switch {
	case sc == nil:
		return ""
	case sc.Type == config.TypeSimple:
		return fmt.Sprintf("simple every %s", sc.RepeatInterval)
	default:
		return "cron " + sc.CronSpec
	}
}
