package scheduler

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sundial/engine/clock"
	"sundial/engine/config"
	"sundial/engine/cron"
	"sundial/engine/trigger"
	"sundial/internal/syncbuf"
)

// waitLimit bounds every wait for an event; tests never sleep.
const waitLimit = 10 * time.Second

// t0 is where the fake clock starts: 30 s before the first whole minute.
var t0 = hm("09:59:30")

// hm returns 2026-01-05 at a "15:04:05" UTC time.
func hm(s string) time.Time {
	t, err := time.Parse(time.RFC3339, "2026-01-05T"+s+"Z")
	if err != nil {
		panic(err)
	}
	return t
}

// every is a fake cron calendar: every multiple of a period since the Unix
// epoch, searched from trunc_sec(after)+1s like Quartz.
type every time.Duration

func (p every) Next(after time.Time) time.Time {
	ns := after.Truncate(time.Second).Add(time.Second).UnixNano()
	if r := ns % int64(p); r != 0 {
		ns += int64(p) - r
	}
	return time.Unix(0, ns).In(after.Location())
}

// fakeCalendars turns CronSpec "every <duration>" into an every calendar and
// parses anything else with the real cron engine.
func fakeCalendars(sc *config.Schedule) (trigger.Calendar, error) {
	if d, ok := strings.CutPrefix(sc.CronSpec, "every "); ok {
		p, err := time.ParseDuration(d)
		if err != nil {
			return nil, err
		}
		return every(p), nil
	}
	return cron.Parse(sc.CronSpec)
}

// recorder is a test Service: it reports every invocation on started and
// holds runs of gated schedules until released (or cancelled).
type recorder struct {
	started chan Run
	mu      sync.Mutex
	gates   map[string]chan struct{}
	errs    map[string]error
	panics  map[string]bool
}

func newRecorder() *recorder {
	return &recorder{started: make(chan Run, 100000), gates: map[string]chan struct{}{},
		errs: map[string]error{}, panics: map[string]bool{}}
}

func (r *recorder) Invoke(ctx context.Context, run Run) error {
	r.started <- run
	r.mu.Lock()
	g, err, p := r.gates[run.ScheduleID], r.errs[run.ScheduleID], r.panics[run.ScheduleID]
	r.mu.Unlock()
	if p {
		panic("boom")
	}
	if g != nil {
		select {
		case <-g:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

// gate makes runs of id wait for release.
func (r *recorder) gate(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gates[id] = make(chan struct{}, 100)
}

// release lets one gated run of id return.
func (r *recorder) release(id string) {
	r.mu.Lock()
	g := r.gates[id]
	r.mu.Unlock()
	g <- struct{}{}
}

type bundle struct {
	t        *testing.T
	s        *Scheduler
	clock    *clock.Fake
	svc      *recorder
	reg      *prometheus.Registry
	finished chan string
	ended    map[string]bool // runs seen ending, not yet waited for
	logs     *syncbuf.Buffer
}

// setup returns a scheduler on a fake clock at t0 with a recorder registered
// as the "script" service. It is stopped when the test ends.
func setup(t *testing.T, opts ...func(*Options)) *bundle {
	t.Helper()
	b := &bundle{t: t, clock: clock.NewFake(t0), svc: newRecorder(), reg: prometheus.NewRegistry(),
		finished: make(chan string, 100000), ended: map[string]bool{}, logs: &syncbuf.Buffer{}}
	o := Options{
		Clock: b.clock, Registerer: b.reg, NodeID: "node1",
		Services: map[string]Service{"script": b.svc},
		Logger:   slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	for _, f := range opts {
		f(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	s.calendarFor = fakeCalendars
	s.onFinished = b.finished
	b.s = s
	t.Cleanup(func() {
		if err := s.Stop(0); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return b
}

func (b *bundle) start() {
	b.t.Helper()
	if err := b.s.Start(context.Background()); err != nil {
		b.t.Fatal(err)
	}
}

func (b *bundle) reconcile(d *config.Desired) ReconcileResult {
	b.t.Helper()
	res, err := b.s.Reconcile(context.Background(), d)
	if err != nil {
		b.t.Fatal(err)
	}
	return res
}

// sync returns once the loop has handled everything due so far.
func (b *bundle) sync() { b.s.do(func() {}) }

// set moves the fake clock.
func (b *bundle) set(clock string) { b.clock.Set(hm(clock)) }

// nextRun waits for the next service invocation.
func (b *bundle) nextRun() Run {
	b.t.Helper()
	select {
	case r := <-b.svc.started:
		return r
	case <-time.After(waitLimit):
		b.t.Fatal("no run started")
	}
	return Run{}
}

// waitFinished waits until the loop has processed the end of fire id.
// Ends of other runs seen meanwhile are kept for later waits.
func (b *bundle) waitFinished(id string) {
	b.t.Helper()
	timeout := time.After(waitLimit)
	for !b.ended[id] {
		select {
		case got := <-b.finished:
			b.ended[got] = true
		case <-timeout:
			b.t.Fatalf("run %s did not finish", id)
		}
	}
	delete(b.ended, id)
}

// drainFinished waits until the loop has processed the end of n runs.
func (b *bundle) drainFinished(n int) {
	b.t.Helper()
	timeout := time.After(waitLimit)
	for ; n > 0 && len(b.ended) > 0; n-- {
		for id := range b.ended {
			delete(b.ended, id)
			break
		}
	}
	for ; n > 0; n-- {
		select {
		case <-b.finished:
		case <-timeout:
			b.t.Fatal("runs did not finish")
		}
	}
}

// runAndFinish waits for the next run and for its end.
func (b *bundle) runAndFinish() Run {
	b.t.Helper()
	r := b.nextRun()
	b.waitFinished(r.FireID)
	return r
}

// noNewFires checks that, once the loop is idle, exactly executing runs are
// in progress and none was started and finished since the last check.
func (b *bundle) noNewFires(executing int) {
	b.t.Helper()
	b.sync()
	if n := len(b.s.Executing()); n != executing {
		b.t.Fatalf("%d runs executing, want %d", n, executing)
	}
	for id := range b.ended {
		b.t.Fatalf("unexpected run %s", id)
	}
	select {
	case id := <-b.finished:
		b.t.Fatalf("unexpected run %s", id)
	default:
	}
}

// wantDeadline checks the loop's one timer.
func (b *bundle) wantDeadline(clock string) {
	b.t.Helper()
	b.sync()
	d, ok := b.clock.NextDeadline()
	if clock == "" {
		if ok {
			b.t.Fatalf("timer armed for %s, want none", d.Format(time.TimeOnly))
		}
		return
	}
	if !ok || !d.Equal(hm(clock)) {
		b.t.Fatalf("timer armed for %s (%v), want %s", d.Format(time.TimeOnly), ok, clock)
	}
}

func (b *bundle) info(id string) ScheduleInfo {
	b.t.Helper()
	info, ok := b.s.Schedule(id)
	if !ok {
		b.t.Fatalf("schedule %s not found", id)
	}
	return info
}

// skips returns the skipped-fire records of the history.
func (b *bundle) skips() []RunRecord {
	var out []RunRecord
	for _, r := range b.s.History() {
		if r.Outcome == OutcomeSkipped {
			out = append(out, r)
		}
	}
	return out
}

func (b *bundle) wantSkips(want ...string) {
	b.t.Helper()
	var got []string
	for _, r := range b.skips() {
		got = append(got, fmt.Sprintf("%s %s x%d from %s", r.ScheduleID, r.Reason, r.Skipped,
			r.ScheduledFireTime.UTC().Format(time.TimeOnly)))
	}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		b.t.Fatalf("skips = %q\nwant    %q", got, want)
	}
}

// counter returns a counter's value from the registry, 0 when absent.
func (b *bundle) counter(name string, labels map[string]string) float64 {
	b.t.Helper()
	mfs, err := b.reg.Gather()
	if err != nil {
		b.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func (b *bundle) histogramCount(name string) uint64 {
	b.t.Helper()
	mfs, err := b.reg.Gather()
	if err != nil {
		b.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	return 0
}

// Schedule builders. hashOf gives equal schedules equal hashes.

func cronSchedule(id, spec string, mods ...func(*config.Schedule)) *config.Schedule {
	sc := &config.Schedule{ID: id, Enabled: true, Type: config.TypeCron, CronSpec: spec,
		MisfirePolicy: config.MisfireFireAndProceed, InvokeService: "script", Location: time.UTC}
	for _, m := range mods {
		m(sc)
	}
	sc.Hash = hashOf(sc)
	return sc
}

func simpleSchedule(id string, start time.Time, interval time.Duration, count int, mods ...func(*config.Schedule)) *config.Schedule {
	sc := &config.Schedule{ID: id, Enabled: true, Type: config.TypeSimple, StartTime: start,
		RepeatInterval: interval, RepeatCount: count, MisfirePolicy: config.MisfireFireAndProceed,
		InvokeService: "script", Location: time.UTC}
	for _, m := range mods {
		m(sc)
	}
	sc.Hash = hashOf(sc)
	return sc
}

// hashOf returns a sha256 hex digest, as long as engine/config's hashes.
func hashOf(sc *config.Schedule) string {
	return fmt.Sprintf("%x", sha256.Sum256([]byte(fmt.Sprintf("%v|%v|%v|%v|%s|%s|%v|%v|%d|%v|%v|%s|%s", sc.Enabled, sc.Persisted, sc.Recoverable,
		sc.ConcurrentExecution, sc.Type, sc.CronSpec, sc.StartTime, sc.EndTime, sc.RepeatCount, sc.RepeatInterval,
		sc.Location, sc.MisfirePolicy, sc.InvokeService))))
}

func doNothing(sc *config.Schedule)  { sc.MisfirePolicy = config.MisfireDoNothing }
func concurrent(sc *config.Schedule) { sc.ConcurrentExecution = true }
func persisted(sc *config.Schedule)  { sc.Persisted = true }
func disabled(sc *config.Schedule)   { sc.Enabled = false }

func desired(threads int, schedules ...*config.Schedule) *config.Desired {
	d := &config.Desired{
		Scheduler: config.SchedulerConfig{ThreadCount: threads, ExecutePersistentSchedules: true,
			MisfireThreshold: 10 * time.Second, Location: time.UTC},
		Schedules: map[string]*config.Schedule{},
	}
	for _, sc := range schedules {
		d.Schedules[sc.ID] = sc
	}
	return d
}
