package daemon_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"sundial/engine/clock"
	"sundial/engine/config"
	"sundial/engine/daemon"
	"sundial/engine/scheduler"
	"sundial/engine/store"
	_ "sundial/engine/store/sqlite"
)

// blockingLoad is a conf-directory load that, while armed, blocks until
// released, as a read of a FIFO or of a hung network file system does.
type blockingLoad struct {
	armed   atomic.Bool
	entered chan struct{} // one value per blocked call
	release chan struct{} // closed to let every blocked call return
}

func newBlockingLoad() *blockingLoad {
	return &blockingLoad{entered: make(chan struct{}, 16), release: make(chan struct{})}
}

func (l *blockingLoad) load(dir string, opts config.LoadOptions) (*config.Desired, error) {
	if l.armed.Load() {
		l.entered <- struct{}{}
		<-l.release
	}
	return config.Load(dir, opts)
}

// waitEntered waits for a load to block.
func (l *blockingLoad) waitEntered(tb testing.TB) {
	tb.Helper()
	select {
	case <-l.entered:
	case <-time.After(waitTimeout):
		tb.Fatal("no load started")
	}
}

// stuckDaemon starts a daemon on the fake clock whose loads block while
// armed; the watcher is kept quiet, so only the reload channel reloads.
func stuckDaemon(t *testing.T) (*testBundle, *blockingLoad, *clock.Fake) {
	conf, scripts := newDirs(t, map[string]string{"schedule-a.json": dailySchedule(1)})
	fake := clock.NewFake(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	bl := newBlockingLoad()
	b := start(t, conf, scripts, func(o *daemon.Options) {
		o.Clock, o.ReloadTimeout, o.Debounce, o.Load = fake, time.Minute, time.Hour, bl.load
	})
	t.Cleanup(func() {
		select {
		case <-bl.release:
		default:
			close(bl.release) // before the daemon stops: cleanups run last first
		}
	})
	return b, bl, fake
}

// TestDaemon_StuckLoadPassesItsDeadline: a load that blocks is abandoned at
// its deadline and reported in the log and /readyz; the next signal loads in
// a fresh attempt, and when the stuck load returns its result is dropped and
// the directory read again.
func TestDaemon_StuckLoadPassesItsDeadline(t *testing.T) {
	t.Parallel()
	b, bl, fake := stuckDaemon(t)
	mark := b.mark()

	bl.armed.Store(true)
	writeFile(t, filepath.Join(b.conf, "schedule-b.json"), dailySchedule(1))
	b.reload <- struct{}{}
	bl.waitEntered(t)
	if h := b.readiness(t); !h.Ready {
		t.Fatalf("/readyz before the deadline = %+v, want ready", h)
	}
	bl.armed.Store(false)
	fake.Advance(time.Minute)
	h := b.waitReadiness(t, "/readyz to report the stuck reload", func(h healthDoc) bool { return !h.Ready })
	if !hasProblem(h, "reload stuck: configuration load still reading after 1m0s") || h.Reload.BlockedLoads != 1 {
		t.Errorf("/readyz = %+v, want the stuck reload and 1 blocked load", h)
	}
	b.health(t) // alive: the loops answer and a new load can start
	if !logged(b, "level=ERROR", "configuration load still reading after 1m0s") {
		t.Error("no error logged for the stuck load")
	}

	// The next signal is not lost: a fresh load applies the new file.
	b.reload <- struct{}{}
	b.waitApplied(t, mark, "applied")
	if _, ok := b.d.Scheduler().Schedule("b"); !ok {
		t.Fatal(`schedule "b" not applied by the fresh load`)
	}
	h = b.waitReadiness(t, "/readyz ready again", func(h healthDoc) bool { return h.Ready })
	if h.Reload.BlockedLoads != 1 {
		t.Errorf("blocked loads = %d, want 1 (the stuck one has not returned)", h.Reload.BlockedLoads)
	}

	// The stuck load returns: dropped, and the directory is read again.
	mark = b.mark()
	close(bl.release)
	b.waitResult(t, mark, "unchanged")
	if !logged(b, "level=WARN", "its result was dropped") {
		t.Error("the stuck load's return was not logged")
	}
	if h := b.readiness(t); !h.Ready || h.Reload.BlockedLoads != 0 {
		t.Errorf("/readyz after the stuck load returned = %+v, want ready, no blocked load", h)
	}
}

// TestDaemon_TooManyBlockedLoadsFailsLiveness: once every load slot is held
// by a load that never returned, /healthz answers 503, so that a probe
// restarts the process; when they return, 200 again.
func TestDaemon_TooManyBlockedLoadsFailsLiveness(t *testing.T) {
	t.Parallel()
	b, bl, fake := stuckDaemon(t)
	bl.armed.Store(true)
	for range 4 {
		b.reload <- struct{}{}
		bl.waitEntered(t)
		fake.Advance(time.Minute)
	}
	b.eventually(t, "/healthz to fail", func() bool {
		code, _ := b.probe(t, "/healthz")
		return code == http.StatusServiceUnavailable
	})
	if _, h := b.probe(t, "/healthz"); h.Status != "unresponsive" || !hasProblem(h, "4 configuration loads are blocked") {
		t.Errorf("/healthz = %+v, want unresponsive with the blocked loads", h)
	}
	bl.armed.Store(false)
	mark := b.mark()
	close(bl.release)
	b.waitResult(t, mark, "unchanged")
	b.eventually(t, "/healthz to be ok again", func() bool {
		code, _ := b.probe(t, "/healthz")
		return code == http.StatusOK
	})
}

// logged reports whether a log line holds every part.
func logged(b *testBundle, parts ...string) bool {
	for _, l := range b.logs.all() {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(l.text, p)
		}
		if ok {
			return true
		}
	}
	return false
}

// copyFiles copies every file of from into to.
func copyFiles(t *testing.T, from, to string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(to, e.Name()), string(data))
	}
}

// assertEveryFire fails unless schedule id ran at every second from its
// first run in the history to its last.
func assertEveryFire(t *testing.T, b *testBundle, id string) {
	t.Helper()
	ran := map[time.Time]bool{}
	var first, last time.Time
	for _, r := range b.d.Scheduler().History() {
		if r.ScheduleID != id || r.Outcome != scheduler.OutcomeSuccess {
			continue
		}
		ran[r.ScheduledFireTime] = true
		if first.IsZero() || r.ScheduledFireTime.Before(first) {
			first = r.ScheduledFireTime
		}
		if r.ScheduledFireTime.After(last) {
			last = r.ScheduledFireTime
		}
	}
	for at := first; !at.After(last); at = at.Add(time.Second) {
		if !ran[at] {
			t.Errorf("schedule %s did not run at %s (it ran from %s to %s)", id, at.Format(time.TimeOnly),
				first.Format(time.TimeOnly), last.Format(time.TimeOnly))
		}
	}
}

// TestDaemon_ConfRecreated: `rm -rf conf && mkdir conf && cp saved/* conf/`.
// Done at once, it is one burst and one reload of the final state; done
// step by step, with a reload between each, the missing directory and the
// empty new one are not applied. Either way nothing is removed and no fire
// is lost.
func TestDaemon_ConfRecreated(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// stepwise waits for the reload after each step.
		stepwise bool
	}{
		{name: "at once"},
		{name: "step by step", stepwise: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			conf, scripts := newDirs(t, map[string]string{"schedule-a.json": everySecond("a"), "schedule-b.json": everySecond("b")})
			saved := filepath.Join(filepath.Dir(conf), "saved")
			if err := os.Mkdir(saved, 0o755); err != nil {
				t.Fatal(err)
			}
			copyFiles(t, conf, saved)
			b := start(t, conf, scripts)
			b.waitLines(t, "a ", time.Time{}, 1)
			mark := b.mark()

			if err := os.RemoveAll(conf); err != nil {
				t.Fatal(err)
			}
			if tc.stepwise {
				b.waitResult(t, mark, "failed")
				if h := b.readiness(t); !hasProblem(h, "conf directory is missing") {
					t.Errorf("/readyz with conf missing = %+v", h)
				}
				mark = b.mark()
			}
			if err := os.Mkdir(conf, 0o755); err != nil {
				t.Fatal(err)
			}
			if tc.stepwise {
				b.waitResult(t, mark, "failed")
				if h := b.readiness(t); !hasProblem(h, "replaced by an empty one") {
					t.Errorf("/readyz with conf recreated empty = %+v", h)
				}
				if got := len(b.d.Scheduler().Schedules()); got != 2 {
					t.Fatalf("%d schedules with conf recreated empty, want the 2 of the last applied version", got)
				}
			}
			copyFiles(t, saved, conf)
			done := b.waitResult(t, mark, "unchanged")
			for _, e := range b.applied.list()[mark:] {
				if e.result == "applied" {
					t.Errorf("a load applied a change (hash %s) at %s: the directory was applied mid-way", e.hash, e.at.Format(time.TimeOnly))
				}
			}
			b.waitReadiness(t, "/readyz ready", func(h healthDoc) bool { return h.Ready })
			b.waitLines(t, "a ", done.at, 2)
			assertEveryFire(t, b, "a")
			assertEveryFire(t, b, "b")
		})
	}
}

// TestDaemon_DeletingEveryFileRemovesEverySchedule: the same directory
// emptied on purpose is applied: its schedules stop.
func TestDaemon_DeletingEveryFileRemovesEverySchedule(t *testing.T) {
	t.Parallel()
	conf, scripts := newDirs(t, map[string]string{"schedule-a.json": everySecond("a")})
	b := start(t, conf, scripts)
	b.waitLines(t, "a ", time.Time{}, 1)
	mark := b.mark()
	if err := os.Remove(filepath.Join(conf, "schedule-a.json")); err != nil {
		t.Fatal(err)
	}
	b.waitApplied(t, mark, "applied")
	if n := len(b.d.Scheduler().Schedules()); n != 0 {
		t.Errorf("%d schedules after every file was deleted, want 0", n)
	}
	if h := b.readiness(t); !h.Ready {
		t.Errorf("/readyz = %+v, want ready", h)
	}
}

// TestDaemon_StartLogsWhatItLoaded: the start says where it listens, what it
// loaded and the next fire of each schedule, capped with a summary.
func TestDaemon_StartLogsWhatItLoaded(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		"schedule-off.json": `{"enabled": false, "schedule": "0 0 3 * * ?", "invokeService": "script",
  "invokeContext": {"script": {"type": "text/javascript", "source": "1"}}}`,
		"schedule-bad.json": `{"schedule": "61 * * * * ?"}`,
	}
	for i := range 25 {
		files[fmt.Sprintf("schedule-s%02d.json", i)] = dailySchedule(i)
	}
	conf, scripts := newDirs(t, files)
	b := start(t, conf, scripts)

	for _, want := range [][]string{
		{"level=INFO", `msg="sundial started"`, "listen=" + b.d.Addr(), "schedules=26", "states.normal=25", "states.disabled=1", "invalid_files=1"},
		{"level=INFO", `msg="next fire of 5 more schedules not listed"`},
		{"level=INFO", `msg="1 schedules have no next fire (disabled, paused or complete)"`, "schedules=[off]"},
		{"level=ERROR", "schedule-bad.json:1:14"},
	} {
		if !logged(b, want...) {
			t.Errorf("no log line with %q", want)
		}
	}
	if n := countLogged(b, `msg="next fire"`); n != 20 {
		t.Errorf("%d next-fire lines, want 20", n)
	}
	if !logged(b, `msg="next fire"`, "schedule=s00", "at=2026-", "T03:00:00Z", `trigger="cron 0 0 3 * * ?"`) {
		t.Error("no next-fire line for s00 at 03:00 UTC")
	}
}

// countLogged counts the log lines that contain part.
func countLogged(b *testBundle, part string) int {
	n := 0
	for _, l := range b.logs.all() {
		if strings.Contains(l.text, part) {
			n++
		}
	}
	return n
}

// TestDaemon_CleanStopLogsNoAlarm: a stop while a persisted run is running
// on a SQLite store logs the stop and what it waits for, and nothing at warn
// or error.
func TestDaemon_CleanStopLogsNoAlarm(t *testing.T) {
	t.Parallel()
	conf, scripts := newDirs(t, map[string]string{
		"schedule-slow.json": `{"schedule": "* * * * * ?", "persisted": true, "invokeService": "script",
  "invokeContext": {"script": {"type": "text/javascript",
    "source": "java.lang.System.out.println('started ' + context.fireId); var end = Date.now() + 300; while (Date.now() < end) {}"}}}`,
	})
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "sundial.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b := start(t, conf, scripts, func(o *daemon.Options) { o.DB, o.Grace = db, 10*time.Second })
	started := b.waitLines(t, "started ", time.Time{}, 1)[0]
	fireID := strings.TrimPrefix(started.text, "started ")
	b.stop(t)

	if !logged(b, "level=INFO", `msg="stopping: no new fires; waiting for the running runs"`, "running=1", fireID, "grace=10s") {
		t.Errorf("no stop line naming the running run %s and the grace", fireID)
	}
	if !logged(b, "level=INFO", `msg="sundial stopped"`) {
		t.Error(`no "sundial stopped" line`)
	}
	for _, l := range b.logs.all() {
		if strings.Contains(l.text, "level=WARN") || strings.Contains(l.text, "level=ERROR") {
			t.Errorf("alarm at a clean stop: %s", l.text)
		}
	}
}

// TestDaemon_ApplyPastItsDeadlineIsCancelled: another process holds the
// SQLite store's write lock, so the apply of a new persisted schedule
// waits; at the reload deadline it is cancelled and reported, the last
// applied version keeps running, and once the lock is gone a reload applies.
func TestDaemon_ApplyPastItsDeadlineIsCancelled(t *testing.T) {
	t.Parallel()
	conf, scripts := newDirs(t, map[string]string{"schedule-a.json": dailySchedule(1)})
	path := filepath.Join(t.TempDir(), "sundial.db")
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b := start(t, conf, scripts, func(o *daemon.Options) {
		o.DB, o.ReloadTimeout, o.Debounce = db, time.Second, time.Hour
	})

	// The busy timeout: the node may be writing (its first pruning pass).
	other, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	lock, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	mark := b.mark()
	writeFile(t, filepath.Join(conf, "schedule-p.json"), `{"schedule": "0 0 3 * * ?", "persisted": true, "invokeService": "script",
  "invokeContext": {"script": {"type": "text/javascript", "source": "1"}}}`)
	b.reload <- struct{}{}
	b.waitResult(t, mark, "failed")
	b.eventually(t, "an error logged for the apply past its deadline", func() bool {
		return logged(b, "level=ERROR", "configuration apply still running after 1s")
	})
	h := b.readiness(t)
	if h.Ready || !strings.Contains(h.Config.ReloadError, "reload deadline passed after 1s") {
		t.Errorf("/readyz = %+v, want not ready, the reload cut at its deadline", h)
	}
	if _, ok := b.d.Scheduler().Schedule("p"); ok {
		t.Error(`schedule "p" applied although its apply failed`)
	}

	if _, err := lock.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	lock.Close()
	mark = b.mark()
	b.reload <- struct{}{}
	b.waitResult(t, mark, "applied")
	if _, ok := b.d.Scheduler().Schedule("p"); !ok {
		t.Error(`schedule "p" not applied once the lock was gone`)
	}
}

// TestDaemon_ChangeDuringTheFirstLoadIsApplied: a file written just after
// the first load read the directory, before the node runs, is applied once
// it does.
func TestDaemon_ChangeDuringTheFirstLoadIsApplied(t *testing.T) {
	t.Parallel()
	conf, scripts := newDirs(t, map[string]string{"schedule-a.json": dailySchedule(1)})
	var loads atomic.Int32
	load := func(dir string, opts config.LoadOptions) (*config.Desired, error) {
		desired, err := config.Load(dir, opts)
		if loads.Add(1) == 1 {
			writeFile(t, filepath.Join(dir, "schedule-late.json"), dailySchedule(2))
		}
		return desired, err
	}
	b := start(t, conf, scripts, func(o *daemon.Options) { o.Load = load })
	b.waitResult(t, 1, "applied")
	if _, ok := b.d.Scheduler().Schedule("late"); !ok {
		t.Error(`schedule "late", written during the first load, not applied`)
	}
}
