package e2e

import (
	"testing"
	"time"

	"sundial/engine/store"
)

// TestDowntimeMisfire: a node is killed, stays down across several fire
// times of two persisted every-second schedules, and restarts.
// fireAndProceed fires once at once (off the calendar: the misfire time)
// and then on schedule; doNothing fires none of the missed times and
// resumes at its next regular time. Both record the dropped times as a
// skipped fire.
func TestDowntimeMisfire(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	p.write(t, "scripts/fire.js", `console.log("FIRE " + context.fireId);`)
	p.write(t, "conf/scheduler.json", `{"advancedProperties": {"org.quartz.jobStore.misfireThreshold": 1000}}`)
	p.write(t, "conf/schedule-fap.json", scheduleJSON(`"schedule": "* * * * * ?", "misfirePolicy": "fireAndProceed"`, "fire.js"))
	p.write(t, "conf/schedule-dn.json", scheduleJSON(`"schedule": "* * * * * ?", "misfirePolicy": "doNothing"`, "fire.js"))

	n1 := startNode(t, p, "n1", "")
	db := openStore(t, p.sqliteDSN())
	waitFor(t, 20*time.Second, "two fires of each schedule", func() bool {
		return len(runsOf(t, db, "fap")) >= 2 && len(runsOf(t, db, "dn")) >= 2
	})
	n1.kill(t)
	killed := time.Now()
	lastFap, lastDn := last(runsOf(t, db, "fap")), last(runsOf(t, db, "dn"))

	// Down across several fire times, well past the 1 s misfire threshold.
	// (Not waiting for an event: the downtime is the scenario.)
	<-time.After(time.Until(killed.Add(3500 * time.Millisecond)))
	restarted := time.Now()
	startNode(t, p, "n1", "")
	waitFor(t, 20*time.Second, "both schedules back on their calendar", func() bool {
		return last(runsOf(t, db, "fap")).After(restarted.Add(1500*time.Millisecond)) &&
			last(runsOf(t, db, "dn")).After(restarted.Add(1500*time.Millisecond))
	})

	onCalendar := func(t time.Time) bool { return t.Equal(t.Truncate(time.Second)) }
	var catchUp []time.Time
	for _, r := range runsOf(t, db, "fap") {
		s := r.ScheduledAt
		switch {
		case !s.After(lastFap):
		case s.Before(restarted):
			t.Errorf("fireAndProceed ran a fire time missed while down: %s", s)
		case !onCalendar(s):
			catchUp = append(catchUp, s)
		}
	}
	if len(catchUp) != 1 {
		t.Errorf("fireAndProceed catch-up fires after the restart: %v, want exactly one", catchUp)
	}
	for _, r := range runsOf(t, db, "dn") {
		s := r.ScheduledAt
		switch {
		case !s.After(lastDn):
		case s.Before(restarted):
			t.Errorf("doNothing ran a fire time missed while down: %s", s)
		case !onCalendar(s):
			t.Errorf("doNothing fired off its calendar: %s", s)
		}
	}
	for _, id := range []string{"fap", "dn"} {
		var skipped []store.Run
		for _, r := range runs(t, db) {
			if r.ScheduleID == id && r.Status == store.RunSkipped && r.ScheduledAt.After(lastFap.Add(-time.Second)) {
				skipped = append(skipped, r)
			}
		}
		if len(skipped) != 1 {
			t.Errorf("%s: skipped-fire records %+v, want one for the misfire", id, skipped)
		}
	}
}

func last(rs []store.Run) time.Time {
	if len(rs) == 0 {
		return time.Time{}
	}
	return rs[len(rs)-1].ScheduledAt
}
