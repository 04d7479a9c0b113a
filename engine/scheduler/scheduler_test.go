package scheduler

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sundial/engine/clock"
	"sundial/engine/config"
	"sundial/engine/cron"
	"sundial/engine/trigger"
)

func TestCronFiresOnTime(t *testing.T) {
	b := setup(t)
	b.reconcile(desired(10, cronSchedule("a", "every 1m")))
	b.start()
	b.wantDeadline("10:00:00")

	b.set("10:00:00")
	r := b.runAndFinish()
	if r.FireID != "a@2026-01-05T10:00:00Z" || !r.ScheduledFireTime.Equal(hm("10:00:00")) ||
		!r.ActualFireTime.Equal(hm("10:00:00")) || !r.NextFireTime.Equal(hm("10:01:00")) || r.Manual || r.NodeID != "node1" {
		t.Fatalf("run = %+v", r)
	}
	ctx := r.Context()
	if ctx["fireId"] != r.FireID || ctx["scheduledFireTime"] != hm("10:00:00") || ctx["nextFireTime"] != hm("10:01:00") {
		t.Fatalf("run context = %v", ctx)
	}
	b.wantDeadline("10:01:00")
	b.set("10:01:00")
	if r := b.runAndFinish(); r.FireID != "a@2026-01-05T10:01:00Z" {
		t.Fatalf("second fire = %s", r.FireID)
	}
	info := b.info("a")
	if info.TimesTriggered != 2 || !info.PreviousFireTime.Equal(hm("10:01:00")) || !info.NextFireTime.Equal(hm("10:02:00")) ||
		info.Status != StatusNormal {
		t.Fatalf("info = %+v", info)
	}
	if got := b.counter(metricRuns, map[string]string{"schedule": "a", "outcome": "success"}); got != 2 {
		t.Fatalf("%s = %v, want 2", metricRuns, got)
	}
	if got := b.histogramCount(metricFireDelay); got != 2 {
		t.Fatalf("%s count = %d, want 2", metricFireDelay, got)
	}
}

// TestRealCronExpression goes through the production path: the schedule's
// parsed cron expression, evaluated in its zone.
func TestRealCronExpression(t *testing.T) {
	expr, err := cron.Parse("0 0 9 * * ?")
	if err != nil {
		t.Fatal(err)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	b := setup(t)
	b.s.calendarFor = nil
	b.start()
	b.reconcile(desired(10, cronSchedule("ny", "0 0 9 * * ?", func(sc *config.Schedule) { sc.Cron, sc.Location = expr, ny })))
	// 09:00 in New York on 2026-01-05 is 14:00 UTC.
	b.wantDeadline("14:00:00")
	b.set("14:00:00")
	if r := b.runAndFinish(); r.FireID != "ny@2026-01-05T14:00:00Z" {
		t.Fatalf("fire = %s", r.FireID)
	}
}

func TestSimpleRepeatCount(t *testing.T) {
	b := setup(t)
	b.start()
	b.reconcile(desired(10, simpleSchedule("s", hm("10:00:00"), time.Minute, 2)))
	for _, at := range []string{"10:00:00", "10:01:00", "10:02:00"} {
		b.wantDeadline(at)
		b.set(at)
		if r := b.runAndFinish(); !r.ScheduledFireTime.Equal(hm(at)) {
			t.Fatalf("fire at %s, want %s", r.ScheduledFireTime, at)
		}
	}
	b.wantDeadline("")
	if info := b.info("s"); info.Status != StatusComplete || !info.NextFireTime.IsZero() || info.TimesTriggered != 3 {
		t.Fatalf("after 3 fires: %+v", info)
	}
}

// TestEditKeepingTheTriggerKeepsItsState: a schedule edited half-way in a
// way that leaves its trigger alone (here its description; for the cron
// schedule its concurrentExecution too) keeps its next fire time and its
// counts, persisted or not; one whose trigger changed starts afresh.
func TestEditKeepingTheTriggerKeepsItsState(t *testing.T) {
	for _, mod := range []func(*config.Schedule){func(*config.Schedule) {}, persisted} {
		b := setup(t)
		b.start()
		simple := simpleSchedule("s", time.Time{}, time.Minute, 2, mod)
		every := cronSchedule("c", "every 1m", mod)
		b.reconcile(desired(10, simple, every))
		b.runAndFinish() // s at 09:59:30
		b.set("09:59:45")
		edited := func(sc *config.Schedule, more ...func(*config.Schedule)) *config.Schedule {
			c := *sc
			c.Description = "edited"
			for _, m := range more {
				m(&c)
			}
			c.Hash = hashOf(&c) + "-edited"
			return &c
		}
		res := b.reconcile(desired(10, edited(simple), edited(every, concurrent)))
		if fmt.Sprint(res.Changed) != "[c s]" {
			t.Fatalf("reconcile = %+v", res)
		}
		if info := b.info("s"); !info.NextFireTime.Equal(hm("10:00:30")) || info.TimesTriggered != 1 {
			t.Fatalf("edited simple trigger: next %s, %d fires, want 10:00:30 after 1", info.NextFireTime, info.TimesTriggered)
		}
		for _, at := range []string{"10:00:00", "10:00:30", "10:01:00", "10:01:30"} {
			b.set(at)
			if r := b.runAndFinish(); !r.ScheduledFireTime.Equal(hm(at)) {
				t.Fatalf("fire at %s, want %s", r.ScheduledFireTime, at)
			}
		}
		b.set("10:05:00")
		b.runAndFinish() // c, late
		b.noNewFires(0)
		if info := b.info("s"); info.Status != StatusComplete || info.TimesTriggered != 3 {
			t.Fatalf("simple trigger after its fires: %+v", info)
		}
		// A changed trigger starts afresh: it starts now, counting from 0.
		b.reconcile(desired(10, simpleSchedule("s", time.Time{}, time.Hour, 2, mod)))
		if r := b.runAndFinish(); !r.ScheduledFireTime.Equal(hm("10:05:00")) {
			t.Fatalf("changed trigger fired at %s, want 10:05:00", r.ScheduledFireTime)
		}
		if info := b.info("s"); !info.NextFireTime.Equal(hm("11:05:00")) || info.TimesTriggered != 1 {
			t.Fatalf("changed trigger: %+v", info)
		}
	}
}

func TestSimpleNoStartFiresAtOnce(t *testing.T) {
	b := setup(t)
	b.start()
	b.reconcile(desired(10, simpleSchedule("now", time.Time{}, 0, 0)))
	if r := b.runAndFinish(); !r.ScheduledFireTime.Equal(t0) || r.FireID != "now@2026-01-05T09:59:30Z" {
		t.Fatalf("run = %+v", r)
	}
}

func TestSimpleIntervalZeroFansOut(t *testing.T) {
	t.Run("concurrent", func(t *testing.T) {
		b := setup(t)
		b.svc.gate("fan")
		b.start()
		b.reconcile(desired(10, simpleSchedule("fan", hm("10:00:00"), 0, 4, concurrent)))
		b.set("10:00:00")
		seen := map[string]bool{}
		for range 5 { // all five run at once
			r := b.nextRun()
			if !r.ScheduledFireTime.Equal(hm("10:00:00")) {
				t.Fatalf("fire %s scheduled at %s", r.FireID, r.ScheduledFireTime)
			}
			seen[r.FireID] = true
		}
		for i := 1; i <= 5; i++ {
			if id := fmt.Sprintf("fan@2026-01-05T10:00:00Z#%d", i); !seen[id] {
				t.Fatalf("missing %s in %v", id, seen)
			}
		}
		if n := len(b.s.Executing()); n != 5 {
			t.Fatalf("%d executing, want 5", n)
		}
		for range 5 {
			b.svc.release("fan")
		}
		b.drainFinished(5)
		if info := b.info("fan"); info.Status != StatusComplete || info.TimesTriggered != 5 {
			t.Fatalf("info = %+v", info)
		}
	})
	t.Run("not concurrent: one after the other", func(t *testing.T) {
		b := setup(t)
		b.svc.gate("fan")
		b.start()
		b.reconcile(desired(10, simpleSchedule("fan", hm("10:00:00"), 0, 2)))
		b.set("10:00:00")
		for i := 1; i <= 3; i++ {
			r := b.nextRun()
			if want := fmt.Sprintf("fan@2026-01-05T10:00:00Z#%d", i); r.FireID != want {
				t.Fatalf("fire %s, want %s", r.FireID, want)
			}
			b.noNewFires(1)
			b.svc.release("fan")
			b.waitFinished(r.FireID)
		}
		b.noNewFires(0)
	})
}

func TestMisfire(t *testing.T) {
	t.Run("late by less than the threshold runs late", func(t *testing.T) {
		b := setup(t)
		b.start()
		b.reconcile(desired(10, cronSchedule("a", "every 1m")))
		b.set("10:00:09")
		r := b.runAndFinish()
		if !r.ScheduledFireTime.Equal(hm("10:00:00")) || !r.ActualFireTime.Equal(hm("10:00:09")) {
			t.Fatalf("run = %+v", r)
		}
		b.wantSkips()
		b.wantDeadline("10:01:00")
	})
	t.Run("fireAndProceed collapses into one fire now", func(t *testing.T) {
		b := setup(t)
		b.start()
		b.reconcile(desired(10, cronSchedule("a", "every 1m")))
		b.set("10:05:30")
		r := b.runAndFinish()
		if !r.ScheduledFireTime.Equal(hm("10:05:30")) || r.FireID != "a@2026-01-05T10:05:30Z" || !r.NextFireTime.Equal(hm("10:06:00")) {
			t.Fatalf("run = %+v", r)
		}
		b.noNewFires(0)
		b.wantSkips("a misfire x5 from 10:00:00")
		b.wantDeadline("10:06:00")
		if got := b.counter(metricSkipped, map[string]string{"schedule": "a", "reason": "misfire"}); got != 5 {
			t.Fatalf("%s = %v, want 5", metricSkipped, got)
		}
		if !strings.Contains(b.logs.String(), "level=WARN msg=misfire schedule=a reason=misfire") {
			t.Fatalf("no misfire warning in logs:\n%s", b.logs)
		}
	})
	t.Run("doNothing waits for the next time", func(t *testing.T) {
		b := setup(t)
		b.start()
		b.reconcile(desired(10, cronSchedule("a", "every 1m", doNothing)))
		b.set("10:05:30")
		b.noNewFires(0)
		b.wantSkips("a misfire x6 from 10:00:00")
		b.wantDeadline("10:06:00")
		b.set("10:06:00")
		if r := b.runAndFinish(); !r.ScheduledFireTime.Equal(hm("10:06:00")) {
			t.Fatalf("run = %+v", r)
		}
	})
	t.Run("simple forever skips to the next slot", func(t *testing.T) {
		b := setup(t)
		b.start()
		b.reconcile(desired(10, simpleSchedule("s", hm("10:00:00"), time.Minute, -1)))
		b.set("10:05:30")
		b.noNewFires(0)
		b.wantSkips("s misfire x6 from 10:00:00")
		b.wantDeadline("10:06:00")
		if info := b.info("s"); info.TimesTriggered != 6 {
			t.Fatalf("TimesTriggered = %d, want 6 (missed fires count)", info.TimesTriggered)
		}
	})
	t.Run("simple one-shot fires now", func(t *testing.T) {
		b := setup(t)
		b.start()
		b.reconcile(desired(10, simpleSchedule("s", hm("10:00:00"), 0, 0)))
		b.set("10:05:30")
		if r := b.runAndFinish(); !r.ScheduledFireTime.Equal(hm("10:05:30")) {
			t.Fatalf("run = %+v", r)
		}
		b.wantSkips()
	})
}

// TestNonConcurrentOverrun: fires that come due while a non-concurrent
// schedule runs are not queued; the misfire rule decides when the run ends.
func TestNonConcurrentOverrun(t *testing.T) {
	tests := []struct {
		name      string
		policy    func(*config.Schedule)
		releaseAt string
		// want: the scheduled time of the run that follows ("" none), the
		// skips, the next timer.
		wantRun   string
		wantSkips []string
		wantTimer string
	}{
		{"short overrun runs at once", func(*config.Schedule) {}, "10:01:05", "10:01:00", nil, "10:02:00"},
		{"long overrun, fireAndProceed: one catch-up run", func(*config.Schedule) {}, "10:03:30", "10:03:30",
			[]string{"a overlap x2 from 10:01:00"}, "10:04:00"},
		{"long overrun, doNothing: next slot", doNothing, "10:03:30", "",
			[]string{"a overlap x3 from 10:01:00"}, "10:04:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t)
			b.svc.gate("a")
			b.start()
			b.reconcile(desired(10, cronSchedule("a", "every 1m", tt.policy)))
			b.set("10:00:00")
			first := b.nextRun()
			b.set("10:01:00")
			b.noNewFires(1) // blocked: 10:01 is not queued
			if info := b.info("a"); info.Status != StatusBlocked {
				t.Fatalf("status = %s, want BLOCKED", info.Status)
			}
			b.wantDeadline("")
			b.set(tt.releaseAt)
			b.noNewFires(1)
			b.svc.release("a")
			b.waitFinished(first.FireID)
			if tt.wantRun != "" {
				r := b.nextRun()
				if !r.ScheduledFireTime.Equal(hm(tt.wantRun)) || !r.ActualFireTime.Equal(hm(tt.releaseAt)) {
					t.Fatalf("run after overrun = scheduled %s actual %s, want %s at %s",
						r.ScheduledFireTime.Format(time.TimeOnly), r.ActualFireTime.Format(time.TimeOnly), tt.wantRun, tt.releaseAt)
				}
				b.svc.release("a")
				b.waitFinished(r.FireID)
			}
			b.noNewFires(0)
			b.wantSkips(tt.wantSkips...)
			b.wantDeadline(tt.wantTimer)
		})
	}
}

func TestConcurrentRunsOverlap(t *testing.T) {
	b := setup(t)
	b.svc.gate("a")
	b.start()
	b.reconcile(desired(10, cronSchedule("a", "every 1m", concurrent)))
	b.set("10:00:00")
	b.nextRun()
	b.set("10:01:00")
	if r := b.nextRun(); !r.ScheduledFireTime.Equal(hm("10:01:00")) {
		t.Fatalf("second run = %+v", r)
	}
	b.noNewFires(2)
}

// TestPoolSaturation: with every worker busy, due fires wait and then run in
// scheduled-time order, and the wait shows as fire delay.
func TestPoolSaturation(t *testing.T) {
	b := setup(t)
	b.svc.gate("block")
	b.start()
	b.reconcile(desired(1,
		simpleSchedule("block", hm("10:00:00"), 0, 0),
		simpleSchedule("c", hm("10:00:03"), 0, 0),
		simpleSchedule("a", hm("10:00:01"), 0, 0),
		simpleSchedule("b", hm("10:00:02"), 0, 0),
	))
	b.set("10:00:00")
	blocker := b.nextRun()
	b.set("10:00:05")
	b.noNewFires(1)
	b.wantDeadline("") // no free worker: no timer
	b.svc.release("block")
	b.waitFinished(blocker.FireID)
	for _, want := range []string{"a", "b", "c"} {
		r := b.runAndFinish()
		if r.ScheduleID != want || !r.ActualFireTime.Equal(hm("10:00:05")) {
			t.Fatalf("run %s at %s, want %s at 10:00:05", r.ScheduleID, r.ActualFireTime.Format(time.TimeOnly), want)
		}
	}
	if got := b.histogramCount(metricFireDelay); got != 4 {
		t.Fatalf("delay samples = %d, want 4", got)
	}
	b.wantSkips()
}

func TestReconcile(t *testing.T) {
	b := setup(t)
	b.svc.gate("d")
	b.start()
	res := b.reconcile(desired(10,
		cronSchedule("a", "every 1m"),
		simpleSchedule("b", hm("10:30:00"), time.Hour, -1),
		cronSchedule("d", "every 1m"),
	))
	if fmt.Sprint(res.Added) != "[a b d]" {
		t.Fatalf("first reconcile: %+v", res)
	}
	b.set("10:00:00")
	var dRun Run
	for range 2 {
		if r := b.nextRun(); r.ScheduleID == "d" {
			dRun = r
		} else {
			b.waitFinished(r.FireID)
		}
	}

	b.set("10:00:20")
	res = b.reconcile(desired(4,
		cronSchedule("a", "every 1m"),                      // unchanged
		simpleSchedule("b", hm("10:45:00"), time.Hour, -1), // changed
		cronSchedule("c", "every 1m"),                      // added
	)) // d removed while running
	if fmt.Sprint(res.Added, res.Changed, res.Removed, res.Unchanged) != "[c] [b] [d] 1" {
		t.Fatalf("second reconcile: %+v", res)
	}
	if a := b.info("a"); !a.NextFireTime.Equal(hm("10:01:00")) || a.TimesTriggered != 1 {
		t.Fatalf("unchanged a: %+v", a)
	}
	if bb := b.info("b"); !bb.NextFireTime.Equal(hm("10:45:00")) {
		t.Fatalf("changed b: %+v", bb)
	}
	if _, ok := b.s.Schedule("d"); ok {
		t.Fatal("removed d still listed")
	}
	if ex := b.s.Executing(); len(ex) != 1 || ex[0].ScheduleID != "d" {
		t.Fatalf("executing = %+v, want d's run going on", ex)
	}
	if snap := b.s.Snapshot(); snap.ThreadCount != 4 || len(snap.Schedules) != 3 {
		t.Fatalf("snapshot: threads %d, %d schedules", snap.ThreadCount, len(snap.Schedules))
	}
	b.svc.release("d")
	b.waitFinished(dRun.FireID)
	if h := b.s.History(); h[len(h)-1].FireID != dRun.FireID || h[len(h)-1].Outcome != OutcomeSuccess {
		t.Fatalf("d's run did not finish well: %+v", h[len(h)-1])
	}

	b.set("10:01:00")
	got := map[string]bool{}
	for range 2 {
		got[b.runAndFinish().ScheduleID] = true
	}
	if !got["a"] || !got["c"] {
		t.Fatalf("runs at 10:01: %v, want a and c", got)
	}
	b.noNewFires(0)

	// The same snapshot again is a no-op.
	d := desired(4, cronSchedule("a", "every 1m"))
	b.reconcile(d)
	if res := b.reconcile(d); res.Unchanged != 1 || len(res.Added)+len(res.Changed)+len(res.Removed) != 0 {
		t.Fatalf("re-apply: %+v", res)
	}
}

func TestReconcileBadScheduleKeepsOldVersion(t *testing.T) {
	b := setup(t)
	b.start()
	b.reconcile(desired(10, cronSchedule("a", "every 1m")))
	bad := cronSchedule("a", "every nonsense")
	res := b.reconcile(desired(10, bad))
	if res.Errors["a"] == nil || res.Unchanged != 1 {
		t.Fatalf("result = %+v", res)
	}
	b.set("10:00:00")
	if r := b.runAndFinish(); r.ScheduleID != "a" {
		t.Fatalf("run = %+v", r)
	}
}

func TestPauseResume(t *testing.T) {
	t.Run("missed fires follow the misfire policy", func(t *testing.T) {
		b := setup(t)
		b.start()
		b.reconcile(desired(10, cronSchedule("a", "every 1m")))
		if err := b.s.Pause(context.Background(), "a"); err != nil {
			t.Fatal(err)
		}
		if info := b.info("a"); info.Status != StatusPaused || !info.Paused {
			t.Fatalf("info = %+v", info)
		}
		b.wantDeadline("")
		b.set("10:05:30")
		b.noNewFires(0)
		if err := b.s.Resume(context.Background(), "a"); err != nil {
			t.Fatal(err)
		}
		if r := b.runAndFinish(); !r.ScheduledFireTime.Equal(hm("10:05:30")) {
			t.Fatalf("catch-up run = %+v", r)
		}
		b.wantSkips("a paused x5 from 10:00:00")
		b.wantDeadline("10:06:00")
	})
	t.Run("a short pause runs late", func(t *testing.T) {
		b := setup(t)
		b.start()
		b.reconcile(desired(10, cronSchedule("a", "every 1m")))
		b.s.Pause(context.Background(), "a")
		b.set("10:00:05")
		b.noNewFires(0)
		b.s.Resume(context.Background(), "a")
		if r := b.runAndFinish(); !r.ScheduledFireTime.Equal(hm("10:00:00")) {
			t.Fatalf("run = %+v", r)
		}
		b.wantSkips()
	})
	t.Run("pause all covers new schedules until resume all", func(t *testing.T) {
		b := setup(t)
		b.start()
		b.reconcile(desired(10, cronSchedule("a", "every 1m")))
		if err := b.s.PauseAll(context.Background()); err != nil {
			t.Fatal(err)
		}
		b.reconcile(desired(10, cronSchedule("a", "every 1m"), cronSchedule("b", "every 1m")))
		if !b.info("b").Paused || !b.s.Snapshot().PausedAll {
			t.Fatal("schedule added during pause-all is not paused")
		}
		b.set("10:00:05")
		b.noNewFires(0)
		b.s.ResumeAll(context.Background())
		got := map[string]bool{}
		for range 2 {
			got[b.runAndFinish().ScheduleID] = true
		}
		if !got["a"] || !got["b"] {
			t.Fatalf("after resume all: %v", got)
		}
	})
	t.Run("unknown id", func(t *testing.T) {
		b := setup(t)
		if err := b.s.Pause(context.Background(), "nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Pause(nope) = %v", err)
		}
	})
}

func TestTriggerNow(t *testing.T) {
	b := setup(t)
	b.svc.gate("a")
	if _, err := b.s.TriggerNow(context.Background(), "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown before start: %v", err)
	}
	b.reconcile(desired(10, cronSchedule("a", "every 1m"), cronSchedule("off", "every 1m", disabled)))
	if _, err := b.s.TriggerNow(context.Background(), "a"); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("before start: %v", err)
	}
	b.start()
	id, err := b.s.TriggerNow(context.Background(), "a")
	if err != nil || id != "a@2026-01-05T09:59:30Z" {
		t.Fatalf("TriggerNow = %q, %v", id, err)
	}
	r := b.nextRun()
	if !r.Manual || r.FireID != id || !r.NextFireTime.Equal(hm("10:00:00")) {
		t.Fatalf("manual run = %+v", r)
	}
	if _, err := b.s.TriggerNow(context.Background(), "a"); !errors.Is(err, ErrOverlap) {
		t.Fatalf("while running: %v", err)
	}
	if _, err := b.s.TriggerNow(context.Background(), "off"); !errors.Is(err, ErrDisabled) {
		t.Fatalf("disabled: %v", err)
	}
	b.svc.release("a")
	b.waitFinished(id)
	if info := b.info("a"); !info.NextFireTime.Equal(hm("10:00:00")) || info.TimesTriggered != 0 {
		t.Fatalf("manual fire moved the trigger: %+v", info)
	}
	b.wantSkips("a overlap x1 from 09:59:30", "off disabled x1 from 09:59:30")
	b.wantDeadline("10:00:00")
	// The counts, once the run's record is in the history (it is added
	// after the counters): one run, no failure, one skip each.
	for deadline := time.Now().Add(waitLimit); !slices.ContainsFunc(b.s.History(), func(r RunRecord) bool { return r.FireID == id && r.Outcome == OutcomeSuccess }); {
		if time.Now().After(deadline) {
			t.Fatalf("no record of %s in the history", id)
		}
		runtime.Gosched()
	}
	if a, off := b.info("a"), b.info("off"); a.Runs != 1 || a.Failures != 0 || a.Skips != 1 || off.Runs != 0 || off.Skips != 1 {
		t.Fatalf("counts: a %d/%d/%d, off %d/%d/%d; want 1/0/1 and 0/0/1", a.Runs, a.Failures, a.Skips, off.Runs, off.Failures, off.Skips)
	}

	// A paused schedule can be triggered by hand.
	b.s.Pause(context.Background(), "a")
	if _, err := b.s.TriggerNow(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	b.nextRun()
}

func TestDisabledHasNoTrigger(t *testing.T) {
	b := setup(t)
	b.start()
	b.reconcile(desired(10, cronSchedule("off", "every 1m", disabled)))
	info := b.info("off")
	if info.Status != StatusNone || !info.NextFireTime.IsZero() || info.Status.Quartz() != -1 {
		t.Fatalf("info = %+v", info)
	}
	b.wantDeadline("")
	b.set("10:05:10")
	b.noNewFires(0)
	// Enabling it is a change: it starts.
	b.reconcile(desired(10, cronSchedule("off", "every 1m")))
	b.wantDeadline("10:06:00")
}

func TestUnknownServiceIsSkipped(t *testing.T) {
	b := setup(t)
	b.start()
	b.reconcile(desired(10, cronSchedule("x", "every 1m", func(sc *config.Schedule) { sc.InvokeService = "org.forgerock.openidm.nope" })))
	b.set("10:00:00")
	b.noNewFires(0)
	b.wantSkips("x service-not-found x1 from 10:00:00")
	b.wantDeadline("10:01:00")
	if got := b.counter(metricSkipped, map[string]string{"schedule": "x", "reason": "service-not-found"}); got != 1 {
		t.Fatalf("%s = %v", metricSkipped, got)
	}
	if !strings.Contains(b.logs.String(), `level=WARN msg="fire skipped" schedule=x fireId=x@2026-01-05T10:00:00Z reason=service-not-found`) {
		t.Fatalf("logs:\n%s", b.logs)
	}
}

func TestServiceErrorAndPanic(t *testing.T) {
	b := setup(t)
	b.svc.errs["e"] = errors.New("ldap down")
	b.svc.panics["p"] = true
	b.start()
	b.reconcile(desired(10, cronSchedule("e", "every 1m"), cronSchedule("p", "every 1m")))
	b.set("10:00:00")
	b.runAndFinish()
	b.runAndFinish()
	errs := map[string]string{}
	for _, r := range b.s.History() {
		if r.Outcome != OutcomeError {
			t.Fatalf("record %+v", r)
		}
		errs[r.ScheduleID] = r.Error
	}
	if errs["e"] != "ldap down" || errs["p"] != "service panicked: boom" {
		t.Fatalf("errors = %v", errs)
	}
	if got := b.counter(metricRuns, map[string]string{"schedule": "p", "outcome": "error"}); got != 1 {
		t.Fatalf("runs{p,error} = %v", got)
	}
	b.wantDeadline("10:01:00") // a failed run does not stop the schedule
}

func TestStop(t *testing.T) {
	t.Run("runs finish within the grace period", func(t *testing.T) {
		b := setup(t)
		b.svc.gate("a")
		b.start()
		b.reconcile(desired(10, cronSchedule("a", "every 1m")))
		b.set("10:00:00")
		r := b.nextRun()
		stopped := make(chan error)
		go func() { stopped <- b.s.Stop(30 * time.Second) }()
		waitDeadline(t, b.clock, hm("10:00:30")) // the grace timer
		b.svc.release("a")
		if err := <-stopped; err != nil {
			t.Fatal(err)
		}
		if h := b.s.History(); len(h) != 1 || h[0].FireID != r.FireID || h[0].Outcome != OutcomeSuccess {
			t.Fatalf("history = %+v", h)
		}
	})
	t.Run("after the grace period runs are cancelled", func(t *testing.T) {
		b := setup(t)
		b.svc.gate("a")
		b.start()
		b.reconcile(desired(10, cronSchedule("a", "every 1m")))
		b.set("10:00:00")
		b.nextRun()
		stopped := make(chan error)
		go func() { stopped <- b.s.Stop(30 * time.Second) }()
		waitDeadline(t, b.clock, hm("10:00:30"))
		b.set("10:00:30")
		if err := <-stopped; err != nil {
			t.Fatal(err)
		}
		if h := b.s.History(); len(h) != 1 || h[0].Outcome != OutcomeCancelled {
			t.Fatalf("history = %+v", h)
		}
		// Stopped: nothing fires, views still answer, Stop is idempotent.
		b.set("10:05:00")
		if len(b.s.Schedules()) != 1 || b.s.Snapshot().Running {
			t.Fatal("views after stop")
		}
		if err := b.s.Stop(0); err != nil {
			t.Fatal(err)
		}
		if err := b.s.Start(context.Background()); !errors.Is(err, ErrStarted) {
			t.Fatalf("Start after Stop = %v", err)
		}
	})
	t.Run("before start", func(t *testing.T) {
		b := setup(t)
		if err := b.s.Stop(time.Second); err != nil {
			t.Fatal(err)
		}
		if err := b.s.Stop(time.Second); err != nil {
			t.Fatal(err)
		}
		if err := b.s.Start(context.Background()); !errors.Is(err, ErrStarted) {
			t.Fatalf("Start after Stop = %v", err)
		}
	})
	t.Run("cancelling the start context stops it", func(t *testing.T) {
		b := setup(t)
		ctx, cancel := context.WithCancel(context.Background())
		if err := b.s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		select {
		case <-b.s.Stopped():
		case <-time.After(waitLimit):
			t.Fatal("not stopped")
		}
	})
}

// waitDeadline waits until a timer is armed for at.
func waitDeadline(t *testing.T, c *clock.Fake, at time.Time) {
	t.Helper()
	timeout := time.After(waitLimit)
	for {
		changed := c.Changed()
		if d, ok := c.NextDeadline(); ok && d.Equal(at) {
			return
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("no timer armed for %s", at.Format(time.TimeOnly))
		}
	}
}

func TestSnapshotsAreCopies(t *testing.T) {
	b := setup(t)
	b.svc.gate("a")
	b.start()
	b.reconcile(desired(10, cronSchedule("a", "every 1m")))
	b.set("10:00:00")
	b.nextRun()
	snap := b.s.Snapshot()
	snap.Schedules[0].NextFireTime = time.Time{}
	snap.Executing[0].FireID = "changed"
	if b.info("a").NextFireTime.IsZero() || b.s.Executing()[0].FireID == "changed" {
		t.Fatal("snapshot shares state with the scheduler")
	}
}

func TestExecutePersistentSchedulesOff(t *testing.T) {
	b := setup(t)
	b.start()
	d := desired(10, cronSchedule("p", "every 1m", persisted))
	d.Scheduler.ExecutePersistentSchedules = false
	b.reconcile(d)
	if info := b.info("p"); !info.NextFireTime.Equal(hm("10:00:00")) {
		t.Fatalf("standby schedule: %+v", info)
	}
	b.wantDeadline("")
	b.set("10:00:05")
	b.noNewFires(0)
	d.Scheduler.ExecutePersistentSchedules = true
	b.reconcile(d)
	if r := b.runAndFinish(); !r.ScheduledFireTime.Equal(hm("10:00:00")) {
		t.Fatalf("run = %+v", r)
	}
}

// TestPersistedRestartCatchesUp: a persisted schedule continues from its
// stored state after a restart; fires missed meanwhile follow the policy.
func TestPersistedRestartCatchesUp(t *testing.T) {
	tests := []struct {
		name      string
		policy    func(*config.Schedule)
		wantRun   bool
		wantSkips []string
	}{
		{"fireAndProceed: one run at once", func(*config.Schedule) {}, true, []string{"p misfire x59 from 10:01:00"}},
		{"doNothing: none until the next time", doNothing, false, []string{"p misfire x60 from 10:01:00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := NewMemoryStore()
			useStore := func(o *Options) { o.Store = store }
			d := desired(10, cronSchedule("p", "every 1m", persisted, tt.policy))

			first := setup(t, useStore)
			first.start()
			first.reconcile(d)
			first.set("10:00:00")
			first.runAndFinish()
			if err := first.s.Stop(0); err != nil {
				t.Fatal(err)
			}
			if st, _ := store.Trigger("p"); !st.State.Next.Equal(hm("10:01:00")) || st.State.TimesTriggered != 1 {
				t.Fatalf("stored = %+v", st)
			}

			second := setup(t, useStore)
			second.clock.Set(hm("11:00:30"))
			second.reconcile(d)
			if info := second.info("p"); !info.NextFireTime.Equal(hm("10:01:00")) || info.TimesTriggered != 1 {
				t.Fatalf("restored = %+v", info)
			}
			second.start()
			if tt.wantRun {
				if r := second.runAndFinish(); !r.ScheduledFireTime.Equal(hm("11:00:30")) {
					t.Fatalf("catch-up = %+v", r)
				}
			}
			second.noNewFires(0)
			second.wantSkips(tt.wantSkips...)
			second.wantDeadline("11:01:00")
		})
	}
}

// TestClusterFiresOnce: two schedulers sharing a store run each fire of a
// persisted schedule once; a non-persisted one fires on both.
func TestClusterFiresOnce(t *testing.T) {
	store := NewMemoryStore()
	fc := clock.NewFake(t0)
	nodes := []*bundle{
		setup(t, func(o *Options) { o.Store, o.Clock, o.NodeID = store, fc, "n1" }),
		setup(t, func(o *Options) { o.Store, o.Clock, o.NodeID = store, fc, "n2" }),
	}
	d := desired(10, cronSchedule("p", "every 1m", persisted), cronSchedule("local", "every 1m"))
	for _, n := range nodes {
		n.clock = fc
		n.start()
		n.reconcile(d)
	}
	for _, at := range []string{"10:00:00", "10:01:00", "10:02:00"} {
		fc.Set(hm(at))
		runs := map[string]int{}
		for _, n := range nodes {
			// Each node handles two fires: local, and p (run or not).
			for range 2 {
				select {
				case <-n.finished:
				case <-time.After(waitLimit):
					t.Fatalf("%s: node did not handle its fires", at)
				}
			}
			for len(n.svc.started) > 0 {
				runs[(<-n.svc.started).ScheduleID]++
			}
		}
		if runs["p"] != 1 || runs["local"] != 2 {
			t.Fatalf("at %s: runs = %v, want p once and local on both nodes", at, runs)
		}
	}
}

// TestPersistedEditNeverRefiresSameSecond: a persisted schedule edited just
// after a fire does not fire that second again as its new version, neither
// from the state the store resets nor through the store's claim.
func TestPersistedEditNeverRefiresSameSecond(t *testing.T) {
	store := NewMemoryStore()
	b := setup(t, func(o *Options) { o.Store = store })
	b.set("10:00:00")
	b.start()
	b.reconcile(desired(10, cronSchedule("p", "every 1s", persisted)))
	if r := b.runAndFinish(); !r.ScheduledFireTime.Equal(hm("10:00:00")) {
		t.Fatalf("run = %+v", r)
	}
	b.clock.Set(hm("10:00:00").Add(300 * time.Millisecond))
	res := b.reconcile(desired(10, cronSchedule("p", "every 1s", persisted, concurrent)))
	if fmt.Sprint(res.Changed) != "[p]" {
		t.Fatalf("reconcile = %+v", res)
	}
	if info := b.info("p"); !info.NextFireTime.Equal(hm("10:00:01")) {
		t.Fatalf("next fire after the edit = %s, want 10:00:01", info.NextFireTime)
	}
	b.noNewFires(0)
	b.set("10:00:01")
	if r := b.runAndFinish(); !r.ScheduledFireTime.Equal(hm("10:00:01")) {
		t.Fatalf("run = %+v", r)
	}

	// The store keeps what was fired across a new version.
	got := store.AcquireFires(context.Background(), []AcquireFireParams{{ScheduleID: "p", FireID: "p@x",
		Hash: hashOf(cronSchedule("p", "every 1s", persisted, concurrent)), ScheduledTime: hm("10:00:01")}})
	if got[0].Err != nil || got[0].Won {
		t.Fatalf("re-acquire of a fired time = %+v", got[0])
	}
	if _, err := store.SyncTriggers(context.Background(), SyncTriggersParams{Triggers: []TriggerState{{ScheduleID: "p", Hash: "v3",
		State: trigger.State{Next: hm("10:00:01")}}}}); err != nil {
		t.Fatal(err)
	}
	if res := store.AcquireFires(context.Background(), []AcquireFireParams{{ScheduleID: "p", FireID: "p@x", Hash: "v3",
		ScheduledTime: hm("10:00:01"), State: trigger.State{TimesTriggered: 1}}}); res[0].Won {
		t.Fatal("a new version acquired a time its previous version fired")
	}
}

// TestPersistedReenableDoesNotCatchUp: enabled false means no trigger at
// all, so a persisted schedule enabled again starts afresh instead of
// catching up on the time it was disabled.
func TestPersistedReenableDoesNotCatchUp(t *testing.T) {
	store := NewMemoryStore()
	b := setup(t, func(o *Options) { o.Store = store })
	b.start()
	on := cronSchedule("p", "every 1m", persisted)
	b.reconcile(desired(10, on))
	b.set("10:00:00")
	b.runAndFinish()
	b.set("10:00:10")
	b.reconcile(desired(10, cronSchedule("p", "every 1m", persisted, disabled)))
	if st, ok := store.Trigger("p"); ok {
		t.Fatalf("a disabled schedule keeps a stored trigger: %+v", st)
	}
	b.set("11:00:30")
	b.noNewFires(0)
	b.reconcile(desired(10, on))
	b.noNewFires(0)
	b.wantSkips()
	if info := b.info("p"); !info.NextFireTime.Equal(hm("11:01:00")) {
		t.Fatalf("next fire after enabling again = %s, want 11:01:00", info.NextFireTime)
	}
	b.set("11:01:00")
	if r := b.runAndFinish(); !r.ScheduledFireTime.Equal(hm("11:01:00")) {
		t.Fatalf("run = %+v", r)
	}
}

// failingDeletes is a MemoryStore whose DeleteTriggers fails while fail is
// above zero.
type failingDeletes struct {
	*MemoryStore
	fail int
}

func (f *failingDeletes) DeleteTriggers(ctx context.Context, p DeleteTriggersParams) error {
	if f.fail > 0 {
		f.fail--
		return errors.New("store down")
	}
	return f.MemoryStore.DeleteTriggers(ctx, p)
}

// TestReconcileDeleteFailureAppliesNothing: when a removed persisted
// schedule's stored trigger cannot be deleted, the reconcile changes
// nothing, and the next one deletes it; no orphaned trigger is left to
// catch up once the schedule comes back.
func TestReconcileDeleteFailureAppliesNothing(t *testing.T) {
	fs := &failingDeletes{MemoryStore: NewMemoryStore()}
	b := setup(t, func(o *Options) { o.Store = fs })
	b.start()
	p := cronSchedule("p", "every 1m", persisted)
	other := cronSchedule("q", "every 1m")
	b.reconcile(desired(10, p, other))
	b.set("10:00:00")
	b.drainFinished(2)
	for len(b.svc.started) > 0 {
		<-b.svc.started
	}

	fs.fail = 1
	if _, err := b.s.Reconcile(context.Background(), desired(10, other)); err == nil {
		t.Fatal("reconcile succeeded with the store failing")
	}
	if _, ok := b.s.Schedule("p"); !ok {
		t.Fatal("p removed although its stored trigger was not")
	}
	if res := b.reconcile(desired(10, other)); fmt.Sprint(res.Removed) != "[p]" {
		t.Fatalf("retry = %+v", res)
	}
	if st, ok := fs.Trigger("p"); ok {
		t.Fatalf("stored trigger left behind: %+v", st)
	}
	b.set("11:00:30")
	b.reconcile(desired(10, p, other))
	if info := b.info("p"); !info.NextFireTime.Equal(hm("11:01:00")) {
		t.Fatalf("p back: next fire %s, want 11:01:00 (no catch-up)", info.NextFireTime)
	}
}

// TestAdoptAfterMisfireThatCountsFires: a persisted simple trigger that
// repeats forever misfires without firing (its missed fires count as done),
// which the store does not hear about; a stored state read back before its
// next fire lags it by that misfire and is not adopted, so the skipped
// fires are recorded once.
func TestAdoptAfterMisfireThatCountsFires(t *testing.T) {
	store := NewMemoryStore()
	sc := simpleSchedule("p", hm("10:00:00"), time.Minute, -1, persisted)
	stored := TriggerState{ScheduleID: "p", Hash: sc.Hash, State: trigger.State{Next: hm("10:00:00"), Start: hm("10:00:00"), RepeatCount: -1}}
	if _, err := store.SyncTriggers(context.Background(), SyncTriggersParams{Triggers: []TriggerState{stored}}); err != nil {
		t.Fatal(err)
	}
	b := setup(t, func(o *Options) { o.Store = store })
	b.set("10:05:30")
	b.start()
	b.reconcile(desired(10, sc))
	b.sync()
	b.wantSkips("p misfire x6 from 10:00:00")
	if n := b.s.Adopt([]TriggerState{stored}); n != 0 {
		t.Fatalf("Adopt changed %d schedules", n)
	}
	b.sync()
	b.wantSkips("p misfire x6 from 10:00:00")
	if info := b.info("p"); !info.NextFireTime.Equal(hm("10:06:00")) || info.TimesTriggered != 6 {
		t.Fatalf("after the misfire: %+v", info)
	}
	if c := b.counter("sundial_fires_skipped_total", map[string]string{"schedule": "p", "reason": "misfire"}); c != 6 {
		t.Fatalf("skipped counter = %v, want 6", c)
	}
}

// countingStore is a MemoryStore that keeps the size of each AcquireFires
// call.
type countingStore struct {
	*MemoryStore
	mu      sync.Mutex
	batches []int
}

func (c *countingStore) AcquireFires(ctx context.Context, fires []AcquireFireParams) []AcquireResult {
	c.mu.Lock()
	c.batches = append(c.batches, len(fires))
	c.mu.Unlock()
	return c.MemoryStore.AcquireFires(ctx, fires)
}

// TestClaimsAreBatchedAheadOfWorkers: due persisted fires are claimed many
// per call, more than there are workers, before they take a worker; every
// fire runs once, two at a time.
func TestClaimsAreBatchedAheadOfWorkers(t *testing.T) {
	cs := &countingStore{MemoryStore: NewMemoryStore()}
	b := setup(t, func(o *Options) { o.Store = cs })
	var schedules []*config.Schedule
	for i := range 40 {
		schedules = append(schedules, simpleSchedule(fmt.Sprintf("p%02d", i), hm("10:00:00"), 0, 0, persisted))
	}
	for _, sc := range schedules {
		b.svc.gate(sc.ID)
	}
	b.start()
	b.reconcile(desired(2, schedules...))
	b.set("10:00:00")
	ran := map[string]bool{}
	for range 2 {
		ran[b.nextRun().ScheduleID] = true
	}
	b.sync()
	cs.mu.Lock()
	batches := slices.Clone(cs.batches)
	cs.mu.Unlock()
	if len(batches) == 0 || slices.Max(batches) <= 2 {
		t.Fatalf("claim batches %v: want fires claimed many at once", batches)
	}
	if ex := b.s.Executing(); len(ex) != 2 {
		t.Fatalf("%d runs executing, want 2", len(ex))
	}
	for _, sc := range schedules {
		b.svc.release(sc.ID)
	}
	for len(ran) < 40 {
		r := b.nextRun()
		if ran[r.ScheduleID] {
			t.Fatalf("%s ran twice", r.ScheduleID)
		}
		ran[r.ScheduleID] = true
	}
	b.drainFinished(40)
	cs.mu.Lock()
	defer cs.mu.Unlock()
	claimed := 0
	for _, n := range cs.batches {
		claimed += n
	}
	if claimed != 40 {
		t.Fatalf("%d fires claimed, want 40", claimed)
	}
}

// TestRunRecovery: a recovery run goes through the worker pool (it waits
// for a free worker), the schedule's service (which sees it as a recovery
// run), Executing and the history, and its caller gets the outcome; the
// trigger's next fire time does not change.
func TestRunRecovery(t *testing.T) {
	b := setup(t)
	b.svc.gate("busy")
	b.start()
	b.reconcile(desired(1, cronSchedule("busy", "every 1m", concurrent), cronSchedule("p", "every 1h", persisted)))
	if !b.s.CanRun("p") || b.s.CanRun("nope") {
		t.Fatal("CanRun: want p only")
	}
	b.set("10:00:00")
	busy := b.nextRun()
	done := make(chan error, 1)
	go func() {
		done <- b.s.RunRecovery(context.Background(), RecoveryRun{FireID: "p@2026-01-05T09:00:00Z", ScheduleID: "p",
			ScheduledTime: hm("09:00:00"), RecoveredFrom: "dead", Attempt: 2})
	}()
	// Queued before the worker frees up, it goes before p's own fire.
	deadline := time.Now().Add(waitLimit)
	for queued := 0; queued != 1; {
		if time.Now().After(deadline) {
			t.Fatal("the recovery run was not queued")
		}
		b.s.do(func() { queued = len(b.s.manual) })
	}
	select {
	case err := <-done:
		t.Fatalf("recovery run ended (%v) while the only worker was busy", err)
	default:
	}
	b.svc.gate("p")
	b.svc.release(busy.ScheduleID)
	r := b.nextRun()
	if r.FireID != "p@2026-01-05T09:00:00Z" || !r.Recovery || r.RecoveredFrom != "dead" || r.Attempt != 2 ||
		r.Context()["recovery"] != true || r.Context()["attempt"] != 2 {
		t.Fatalf("recovery run = %+v", r)
	}
	if ex := b.s.Executing(); len(ex) != 1 || !ex[0].Recovery {
		t.Fatalf("executing = %+v", ex)
	}
	b.svc.release("p")
	if err := <-done; err != nil {
		t.Fatalf("RunRecovery = %v", err)
	}
	b.waitFinished(r.FireID)
	if h := b.s.History(); h[len(h)-1].FireID != r.FireID || h[len(h)-1].Outcome != OutcomeSuccess {
		t.Fatalf("history = %+v", h[len(h)-1])
	}
	if info := b.info("p"); !info.NextFireTime.Equal(hm("11:00:00")) {
		t.Fatalf("next fire of p = %s", info.NextFireTime)
	}
	if err := b.s.RunRecovery(context.Background(), RecoveryRun{ScheduleID: "nope"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("recovery of an unknown schedule = %v", err)
	}
}

// endsStore is a MemoryStore that keeps the run ends it is given.
type endsStore struct {
	*MemoryStore
	mu   sync.Mutex
	ends []RunEndedParams
}

func (s *endsStore) RunEnded(ctx context.Context, p RunEndedParams) error {
	s.mu.Lock()
	s.ends = append(s.ends, p)
	s.mu.Unlock()
	return s.MemoryStore.RunEnded(ctx, p)
}

// TestClaimedFireNotRunAfterPauseOrRemoval: fires claimed while workers
// were idle, still waiting for a worker when their schedule is paused,
// disabled or removed, do not run: each is recorded and counted once as
// skipped, and its claimed run is ended in the store as skipped.
func TestClaimedFireNotRunAfterPauseOrRemoval(t *testing.T) {
	es := &endsStore{MemoryStore: NewMemoryStore()}
	b := setup(t, func(o *Options) { o.Store = es })
	ids := []string{"p0", "p1", "p2", "p3"}
	var schedules []*config.Schedule
	for _, id := range ids {
		schedules = append(schedules, simpleSchedule(id, hm("10:00:00"), 0, 0, persisted))
		b.svc.gate(id)
	}
	b.start()
	b.reconcile(desired(1, schedules...))
	b.set("10:00:00")
	first := b.nextRun() // the others are claimed and wait for the one worker
	var rest []*config.Schedule
	for _, sc := range schedules {
		if sc.ID != first.ScheduleID {
			rest = append(rest, sc)
		}
	}
	pausedID, removedID, disabledID := rest[0].ID, rest[1].ID, rest[2].ID
	if err := b.s.Pause(context.Background(), pausedID); err != nil {
		t.Fatal(err)
	}
	b.reconcile(desired(1, schedules[slices.Index(ids, first.ScheduleID)], rest[0],
		simpleSchedule(disabledID, hm("10:00:00"), 0, 0, persisted, disabled)))
	b.svc.release(first.ScheduleID)
	b.waitFinished(first.FireID)
	for _, id := range rest {
		b.waitFinished(FireID(id.ID, hm("10:00:00")))
	}
	select {
	case r := <-b.svc.started:
		t.Fatalf("%s ran after its schedule was paused, removed or disabled", r.ScheduleID)
	default:
	}
	var got []string
	for _, r := range b.skips() {
		got = append(got, fmt.Sprintf("%s %s x%d", r.ScheduleID, r.Reason, r.Skipped))
	}
	slices.Sort(got)
	want := []string{pausedID + " paused x1", removedID + " disabled x1", disabledID + " disabled x1"}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("skips = %q, want %q", got, want)
	}
	if c := b.counter("sundial_fires_skipped_total", map[string]string{"schedule": pausedID, "reason": "paused"}); c != 1 {
		t.Fatalf("paused skips counted %v, want 1", c)
	}
	es.mu.Lock()
	defer es.mu.Unlock()
	outcomes := map[string]Outcome{}
	for _, p := range es.ends {
		if _, dup := outcomes[p.ScheduleID]; dup {
			t.Fatalf("run of %s ended twice", p.ScheduleID)
		}
		outcomes[p.ScheduleID] = p.Outcome
	}
	for _, id := range ids {
		want := OutcomeSkipped
		if id == first.ScheduleID {
			want = OutcomeSuccess
		}
		if outcomes[id] != want {
			t.Fatalf("stored end of %s = %q, want %q", id, outcomes[id], want)
		}
	}
}

// gatedStore is a MemoryStore whose AcquireFires calls each wait until the
// test releases them: closing release lets the call through, an error sent
// on it fails every fire of the call.
type gatedStore struct {
	*MemoryStore
	calls chan gatedCall
}

type gatedCall struct {
	fires   []AcquireFireParams
	release chan error
}

func (s *gatedStore) AcquireFires(ctx context.Context, fires []AcquireFireParams) []AcquireResult {
	c := gatedCall{fires: fires, release: make(chan error)}
	s.calls <- c
	if err := <-c.release; err != nil {
		out := make([]AcquireResult, len(fires))
		for i := range out {
			out[i].Err = err
		}
		return out
	}
	return s.MemoryStore.AcquireFires(ctx, fires)
}

// TestFiresOfOneScheduleClaimedInOrder: the next fire of a concurrent
// persisted schedule is not claimed while the claim of its previous fire is
// in flight, so that a store that takes a fire only after the trigger's last
// one never sees them out of order: both fires run.
func TestFiresOfOneScheduleClaimedInOrder(t *testing.T) {
	gs := &gatedStore{MemoryStore: NewMemoryStore(), calls: make(chan gatedCall, 16)}
	b := setup(t, func(o *Options) { o.Store = gs })
	b.start()
	b.reconcile(desired(10, cronSchedule("p", "every 1m", persisted, concurrent)))
	b.set("10:00:00")
	first := <-gs.calls
	b.set("10:01:00")
	b.sync()
	var claiming int
	b.s.do(func() { claiming = b.s.claiming })
	if claiming == 2 {
		// The fire of 10:01 went to the other claimer: let its claim
		// commit first.
		second := <-gs.calls
		close(second.release)
		deadline := time.Now().Add(waitLimit)
		for claiming != 1 {
			if time.Now().After(deadline) {
				t.Fatal("the claim of 10:01 did not end")
			}
			b.s.do(func() { claiming = b.s.claiming })
		}
	}
	close(first.release)
	go func() {
		for c := range gs.calls {
			close(c.release)
		}
	}()
	defer close(gs.calls)
	got := map[time.Time]bool{}
	for range 2 {
		got[b.runAndFinish().ScheduledFireTime] = true
	}
	if !got[hm("10:00:00")] || !got[hm("10:01:00")] {
		t.Fatalf("runs of the fires %v, want those of 10:00 and 10:01", got)
	}
}

// TestClaimedFireLatePastThresholdMisfires: a fire claimed ahead of the
// workers that only gets one past the misfire threshold follows its misfire
// policy, as a fire that waited in the heap does: doNothing skips it
// (reason misfire, its claimed run ended skipped), fireAndProceed runs it
// late.
func TestClaimedFireLatePastThresholdMisfires(t *testing.T) {
	for _, tc := range []struct {
		policy string
		runs   bool
	}{
		{config.MisfireDoNothing, false},
		{config.MisfireFireAndProceed, true},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			b, gs, es := setupGated(t)
			b.svc.gate("a")
			b.start()
			b.reconcile(desired(1, cronSchedule("a", "every 1h", persisted, concurrent),
				cronSchedule("b", "every 1h", persisted, concurrent, func(sc *config.Schedule) { sc.MisfirePolicy = tc.policy })))
			b.set("10:00:00")
			first := claimBehindA(t, b, gs)
			b.set("10:00:30")
			b.svc.release("a")
			b.waitFinished(first.FireID)
			if tc.runs {
				if r := b.nextRun(); r.ScheduleID != "b" || !r.ActualFireTime.Equal(hm("10:00:30")) {
					t.Fatalf("late run = %+v, want b's at 10:00:30", r)
				}
				b.waitFinished(FireID("b", hm("10:00:00")))
				b.wantSkips()
				return
			}
			b.waitFinished(FireID("b", hm("10:00:00")))
			b.noNewFires(0)
			b.wantSkips("b misfire x1 from 10:00:00")
			es.mu.Lock()
			defer es.mu.Unlock()
			for _, p := range es.ends {
				if p.ScheduleID == "b" && p.Outcome != OutcomeSkipped {
					t.Fatalf("stored end of b = %+v, want skipped", p)
				}
			}
		})
	}
}

// acquireFiresFunc is StateStore.AcquireFires as a field, to put a gated
// claim and a store that keeps run ends together.
type acquireFiresFunc func(ctx context.Context, fires []AcquireFireParams) []AcquireResult

func (f acquireFiresFunc) AcquireFires(ctx context.Context, fires []AcquireFireParams) []AcquireResult {
	return f(ctx, fires)
}

// setupGated is setup on a MemoryStore whose claims wait for the test
// (gatedStore) and whose run ends are kept (endsStore).
func setupGated(t *testing.T) (*bundle, *gatedStore, *endsStore) {
	gs := &gatedStore{MemoryStore: NewMemoryStore(), calls: make(chan gatedCall, 16)}
	es := &endsStore{MemoryStore: gs.MemoryStore}
	b := setup(t, func(o *Options) {
		o.Store = struct {
			*endsStore
			acquireFiresFunc
		}{es, gs.AcquireFires}
	})
	return b, gs, es
}

// claimBehindA releases the claims of the fires of a and b, due at once
// while the one worker is idle, a's first, and returns a's run once it
// started; b's fire is then claimed, waiting for the worker.
func claimBehindA(t *testing.T, b *bundle, gs *gatedStore) Run {
	t.Helper()
	calls := []gatedCall{<-gs.calls}
	if len(calls[0].fires) == 1 {
		calls = append(calls, <-gs.calls)
		if calls[0].fires[0].ScheduleID != "a" {
			calls[0], calls[1] = calls[1], calls[0]
		}
	}
	close(calls[0].release)
	first := b.nextRun()
	if len(calls) == 2 {
		close(calls[1].release)
	}
	deadline := time.Now().Add(waitLimit)
	for claiming := 1; claiming != 0; {
		if time.Now().After(deadline) {
			t.Fatal("b was not claimed")
		}
		b.s.do(func() { claiming = b.s.claiming })
	}
	if first.ScheduleID != "a" {
		t.Fatalf("first run %s, want a", first.FireID)
	}
	return first
}

// TestStopLeavesClaimedFiresUnstarted: a fire claimed but still waiting for
// a worker when Stop cancels the runs is not started (its service is not
// called with a cancelled context): it is recorded, once, as cancelled.
func TestStopLeavesClaimedFiresUnstarted(t *testing.T) {
	b, gs, es := setupGated(t)
	b.svc.gate("a")
	b.start()
	b.reconcile(desired(1, simpleSchedule("a", hm("10:00:00"), 0, 0, persisted),
		simpleSchedule("b", hm("10:00:00"), 0, 0, persisted)))
	b.set("10:00:00")
	claimBehindA(t, b, gs)
	if err := b.s.Stop(0); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-b.svc.started:
		t.Fatalf("%s started after Stop cancelled the runs", r.FireID)
	default:
	}
	es.mu.Lock()
	defer es.mu.Unlock()
	var ends []Outcome
	for _, p := range es.ends {
		if p.ScheduleID == "b" {
			ends = append(ends, p.Outcome)
		}
	}
	if len(ends) != 1 || ends[0] != OutcomeCancelled {
		t.Fatalf("ends of b recorded: %v, want one cancelled", ends)
	}
}

// TestFireFailedAcrossAnAdoptIsRetried: a fire whose claim was in flight
// while the store was read back (Adopt), and then failed, is not held for
// an Adopt that may not come again (the store may have answered in
// between): it is claimed again at once, and runs.
func TestFireFailedAcrossAnAdoptIsRetried(t *testing.T) {
	b, gs, _ := setupGated(t)
	b.start()
	b.reconcile(desired(10, cronSchedule("p", "every 1h", persisted)))
	b.set("10:00:00")
	c := <-gs.calls
	b.s.Adopt(nil)
	c.release <- errors.New("store down")
	select {
	case c := <-gs.calls:
		close(c.release)
	case <-time.After(waitLimit):
		t.Fatal("the fire is held after the Adopt: not claimed again")
	}
	if r := b.runAndFinish(); !r.ScheduledFireTime.Equal(hm("10:00:00")) {
		t.Fatalf("run = %+v, want the fire of 10:00", r)
	}
	b.wantSkips()
}
