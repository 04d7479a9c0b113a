package daemon_test

// End-to-end tests of the daemon on real temporary directories, with the
// real watcher (fsnotify), the real script engine (goja) and the real clock.
// They never sleep or poll on a tick to wait for something: every line the
// daemon or its scripts write, and every OnApplied call, wakes the waiting
// test, which checks its condition again (OnApplied, the lines, the run
// history, /readyz) until it holds or a deadline passes.
// Schedules fire every second ("* * * * * ?"), so "nothing happened" is
// checked only after a witness schedule has fired past the moment in question.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sundial/engine/daemon"
	"sundial/engine/scheduler"
)

// waitTimeout bounds every wait of these tests.
const waitTimeout = 5 * time.Second

// changes is a broadcast: each notify wakes every goroutine waiting on the
// channel that next returned before it.
type changes struct {
	mu sync.Mutex
	ch chan struct{}
}

func newChanges() *changes { return &changes{ch: make(chan struct{})} }

// next returns a channel closed at the next notify.
func (c *changes) next() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ch
}

func (c *changes) notify() {
	c.mu.Lock()
	close(c.ch)
	c.ch = make(chan struct{})
	c.mu.Unlock()
}

// line is one line written by the daemon's scripts or logger.
type line struct {
	text string
	at   time.Time
}

// lineWriter collects the lines written to it, timestamped on arrival.
type lineWriter struct {
	changed *changes // notified at every complete line
	mu      sync.Mutex
	lines   []line
	partial []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	now := time.Now()
	w.mu.Lock()
	w.partial = append(w.partial, p...)
	added := false
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.lines = append(w.lines, line{text: string(w.partial[:i]), at: now})
		w.partial = w.partial[i+1:]
		added = true
	}
	w.mu.Unlock()
	if added {
		w.changed.notify()
	}
	return len(p), nil
}

func (w *lineWriter) all() []line {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]line(nil), w.lines...)
}

// matching returns the lines that start with prefix.
func (w *lineWriter) matching(prefix string) []line {
	var out []line
	for _, l := range w.all() {
		if strings.HasPrefix(l.text, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// matchingAfter returns the lines that start with prefix and arrived after t.
func (w *lineWriter) matchingAfter(prefix string, t time.Time) []line {
	var out []line
	for _, l := range w.matching(prefix) {
		if l.at.After(t) {
			out = append(out, l)
		}
	}
	return out
}

// appliedEvent is one call of Options.OnApplied.
type appliedEvent struct {
	hash, result string
	at           time.Time
}

type appliedLog struct {
	changed *changes // notified at every call
	mu      sync.Mutex
	events  []appliedEvent
}

func (l *appliedLog) add(hash, result string) {
	now := time.Now()
	l.mu.Lock()
	l.events = append(l.events, appliedEvent{hash: hash, result: result, at: now})
	l.mu.Unlock()
	l.changed.notify()
}

func (l *appliedLog) list() []appliedEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]appliedEvent(nil), l.events...)
}

// waitUntil checks cond again at every change notified on c, and fails
// the test when it does not hold within waitTimeout.
func waitUntil(tb testing.TB, c *changes, what string, cond func() bool) {
	tb.Helper()
	timeout := time.NewTimer(waitTimeout)
	defer timeout.Stop()
	for {
		changed := c.next()
		if cond() {
			return
		}
		select {
		case <-changed:
		case <-timeout.C:
			tb.Fatalf("timed out after %s waiting for %s", waitTimeout, what)
		}
	}
}

// testBundle is one running daemon and what the tests observe of it.
type testBundle struct {
	conf, scripts string
	d             *daemon.Daemon
	out           *lineWriter // scripts' console output
	logs          *lineWriter
	applied       *appliedLog
	reload        chan struct{}
	base          string // http://host:port
	cancel        context.CancelFunc
	done          chan error
	changed       *changes // every log line, output line and OnApplied call
	stopOnce      sync.Once
}

// eventually waits until cond holds, checking it again at every line the
// daemon or its scripts write and at every OnApplied call.
func (b *testBundle) eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	waitUntil(tb, b.changed, what, cond)
}

// newDirs makes a conf and a scripts directory holding files (names
// relative to the conf directory; "scripts/x.js" goes to the scripts one).
func newDirs(tb testing.TB, files map[string]string) (conf, scripts string) {
	tb.Helper()
	root := tb.TempDir()
	conf, scripts = filepath.Join(root, "conf"), filepath.Join(root, "scripts")
	for _, dir := range []string{conf, scripts} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	for name, content := range files {
		p := filepath.Join(conf, name)
		if rest, ok := strings.CutPrefix(name, "scripts/"); ok {
			p = filepath.Join(scripts, rest)
		}
		writeFile(tb, p, content)
	}
	return conf, scripts
}

func writeFile(tb testing.TB, path, content string) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// start runs a daemon on conf and scripts until the test ends.
func start(tb testing.TB, conf, scripts string, edit ...func(*daemon.Options)) *testBundle {
	tb.Helper()
	b := launch(tb, conf, scripts, edit...)
	// Cleanups run last first: stop the daemon, then show its log if the
	// test failed.
	tb.Cleanup(func() {
		if tb.Failed() {
			var sb strings.Builder
			for _, l := range b.logs.all() {
				sb.WriteString(l.text + "\n")
			}
			tb.Logf("daemon log:\n%s", sb.String())
		}
	})
	tb.Cleanup(func() { b.stop(tb) })
	b.waitReady(tb)
	return b
}

// launch starts Run in a goroutine; the caller waits for Ready and stops it.
func launch(tb testing.TB, conf, scripts string, edit ...func(*daemon.Options)) *testBundle {
	tb.Helper()
	changed := newChanges()
	b := &testBundle{conf: conf, scripts: scripts, out: &lineWriter{changed: changed}, logs: &lineWriter{changed: changed},
		applied: &appliedLog{changed: changed}, reload: make(chan struct{}, 1), done: make(chan error, 1), changed: changed}
	opts := daemon.Options{
		ConfDir:    conf,
		ScriptsDir: scripts,
		Listen:     "127.0.0.1:0",
		NodeID:     "test-node",
		Grace:      time.Second,
		Logger:     slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Stdout:     b.out,
		OnApplied:  b.applied.add,
	}
	for _, e := range edit {
		e(&opts)
	}
	d, err := daemon.New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	b.d = d
	var ctx context.Context
	ctx, b.cancel = context.WithCancel(context.Background())
	go func() { b.done <- d.Run(ctx, b.reload) }()
	return b
}

func (b *testBundle) waitReady(tb testing.TB) {
	tb.Helper()
	select {
	case <-b.d.Ready():
	case err := <-b.done:
		b.done <- err // for stop
		tb.Fatalf("Run returned before Ready: %v", err)
	case <-time.After(waitTimeout):
		tb.Fatal("daemon not ready")
	}
	b.base = "http://" + b.d.Addr()
}

// stop cancels Run and waits for it to return; it may be called again.
func (b *testBundle) stop(tb testing.TB) {
	tb.Helper()
	b.stopOnce.Do(func() { b.stopRun(tb) })
}

func (b *testBundle) stopRun(tb testing.TB) {
	tb.Helper()
	b.cancel()
	select {
	case err := <-b.done:
		if err != nil && tb.Failed() {
			tb.Logf("Run: %v", err)
		} else if err != nil {
			tb.Errorf("Run: %v", err)
		}
	case <-time.After(waitTimeout):
		tb.Errorf("Run did not return within %s of its context being cancelled", waitTimeout)
	}
}

// mark is the number of OnApplied calls so far, for waitApplied.
func (b *testBundle) mark() int { return len(b.applied.list()) }

// lastHash is the hash of the latest snapshot the daemon loaded.
func (b *testBundle) lastHash() string {
	ev := b.applied.list()
	if len(ev) == 0 {
		return ""
	}
	return ev[len(ev)-1].hash
}

// waitApplied waits for a load, after the first mark ones, of a new
// snapshot with the given result, and returns it.
func (b *testBundle) waitApplied(tb testing.TB, mark int, result string) appliedEvent {
	tb.Helper()
	var got appliedEvent
	b.eventually(tb, fmt.Sprintf("a reload with result %q", result), func() bool {
		ev := b.applied.list()
		if mark == 0 || mark > len(ev) {
			return false
		}
		prev := ev[mark-1].hash
		for _, e := range ev[mark:] {
			if e.hash != prev && e.hash != "" && e.result == result {
				got = e
				return true
			}
		}
		return false
	})
	return got
}

// waitResult waits for a load, after the first mark ones, with the given
// result, and returns it.
func (b *testBundle) waitResult(tb testing.TB, mark int, result string) appliedEvent {
	tb.Helper()
	var got appliedEvent
	b.eventually(tb, fmt.Sprintf("a load with result %q", result), func() bool {
		ev := b.applied.list()
		for _, e := range ev[min(mark, len(ev)):] {
			if e.result == result {
				got = e
				return true
			}
		}
		return false
	})
	return got
}

// waitLines waits until n lines starting with prefix have arrived after t.
func (b *testBundle) waitLines(tb testing.TB, prefix string, after time.Time, n int) []line {
	tb.Helper()
	var got []line
	b.eventually(tb, fmt.Sprintf("%d output lines %q", n, prefix), func() bool {
		got = b.out.matchingAfter(prefix, after)
		return len(got) >= n
	})
	return got
}

// waitRecord waits for a history record of schedule id that satisfies ok.
func (b *testBundle) waitRecord(tb testing.TB, id string, ok func(scheduler.RunRecord) bool) scheduler.RunRecord {
	tb.Helper()
	var got scheduler.RunRecord
	b.eventually(tb, "a run of "+id, func() bool {
		for _, r := range b.d.Scheduler().History() {
			if r.ScheduleID == id && ok(r) {
				got = r
				return true
			}
		}
		return false
	})
	return got
}

// fetch GETs path and returns the status code and the body.
func (b *testBundle) fetch(tb testing.TB, path string) (int, []byte) {
	tb.Helper()
	client := &http.Client{Timeout: waitTimeout}
	resp, err := client.Get(b.base + path)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, body
}

// get GETs path and fails unless it answers 200.
func (b *testBundle) get(tb testing.TB, path string) []byte {
	tb.Helper()
	code, body := b.fetch(tb, path)
	if code != http.StatusOK {
		tb.Fatalf("GET %s: %d\n%s", path, code, body)
	}
	return body
}

// healthDoc is the document of /healthz and /readyz.
type healthDoc struct {
	Status   string   `json:"status"`
	Problems []string `json:"problems"`
	Ready    bool     `json:"ready"`
	Node     string   `json:"node"`
	Config   struct {
		Hash        string   `json:"hash"`
		Errors      []string `json:"errors"`
		ReloadError string   `json:"reloadError"`
	} `json:"config"`
	Schedules int `json:"schedules"`
	Reload    struct {
		Stuck        string `json:"stuck"`
		BlockedLoads int    `json:"blockedLoads"`
	} `json:"reload"`
}

// probe GETs /healthz or /readyz and decodes its document.
func (b *testBundle) probe(tb testing.TB, path string) (int, healthDoc) {
	tb.Helper()
	code, body := b.fetch(tb, path)
	var h healthDoc
	if err := json.Unmarshal(body, &h); err != nil {
		tb.Fatalf("%s: %v\n%s", path, err, body)
	}
	return code, h
}

// health is /healthz, which must answer 200 ok: the process is alive.
func (b *testBundle) health(tb testing.TB) healthDoc {
	tb.Helper()
	code, h := b.probe(tb, "/healthz")
	if code != http.StatusOK || h.Status != "ok" {
		tb.Fatalf("/healthz = %d %+v, want 200 ok", code, h)
	}
	return h
}

// readiness is /readyz, checked for consistency: 200 "ready" or 503 "not
// ready" with the reasons.
func (b *testBundle) readiness(tb testing.TB) healthDoc {
	tb.Helper()
	code, h := b.probe(tb, "/readyz")
	switch {
	case code == http.StatusOK && h.Status == "ready" && h.Ready && len(h.Problems) == 0:
	case code == http.StatusServiceUnavailable && h.Status == "not ready" && !h.Ready && len(h.Problems) > 0:
	default:
		tb.Fatalf("/readyz = %d %+v: inconsistent", code, h)
	}
	return h
}

// waitReadiness waits until /readyz satisfies ok, checking it again at
// every change, and returns it.
func (b *testBundle) waitReadiness(tb testing.TB, what string, ok func(healthDoc) bool) healthDoc {
	tb.Helper()
	var h healthDoc
	b.eventually(tb, what, func() bool {
		h = b.readiness(tb)
		return ok(h)
	})
	return h
}

// hasProblem reports whether one of h's problems contains part.
func hasProblem(h healthDoc, part string) bool {
	for _, p := range h.Problems {
		if strings.Contains(p, part) {
			return true
		}
	}
	return false
}

// metric scrapes /metrics for one sample, e.g. `sundial_config_errors` or
// `sundial_config_reloads_total{result="invalid"}`; -1 when it is absent.
func (b *testBundle) metric(tb testing.TB, sample string) float64 {
	tb.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`)
	m := re.FindSubmatch(b.get(tb, "/metrics"))
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// everySecond is a schedule that fires every second and prints
// "<tag> <fireId>".
func everySecond(tag string) string {
	return scriptSchedule(map[string]any{"type": "text/javascript",
		"source": fmt.Sprintf("java.lang.System.out.println(%q + ' ' + context.fireId);", tag)})
}

// scriptSchedule is a schedule firing every second that runs script.
func scriptSchedule(script map[string]any) string {
	b, err := json.MarshalIndent(map[string]any{
		"schedule":      "* * * * * ?",
		"invokeService": "script",
		"invokeContext": map[string]any{"script": script},
	}, "", "  ")
	if err != nil {
		panic(err)
	}
	return string(b)
}

// assertNoLinesAfter fails if a line starting with prefix arrived after t.
func assertNoLinesAfter(tb testing.TB, out *lineWriter, prefix string, t time.Time) {
	tb.Helper()
	if late := out.matchingAfter(prefix, t); len(late) > 0 {
		tb.Errorf("%d line(s) %q after %s, first %q at %s", len(late), prefix, t.Format("15:04:05.000"),
			late[0].text, late[0].at.Format("15:04:05.000"))
	}
}

func TestDaemon_StartServesHealthAndMetrics(t *testing.T) {
	t.Parallel()
	conf, scripts := newDirs(t, map[string]string{"schedule-a.json": everySecond("a")})
	b := start(t, conf, scripts)

	h := b.health(t)
	if h.Node != "test-node" || h.Schedules != 1 || len(h.Config.Errors) != 0 || h.Config.Hash != b.lastHash() || !h.Ready {
		t.Errorf("/healthz = %+v, want node test-node, 1 schedule, no errors, hash %s, ready", h, b.lastHash())
	}
	if h := b.readiness(t); !h.Ready {
		t.Errorf("/readyz = %+v, want ready", h)
	}
	if got := b.metric(t, "sundial_config_errors"); got != 0 {
		t.Errorf("sundial_config_errors = %v, want 0", got)
	}
	if ev := b.applied.list(); len(ev) == 0 || ev[0].result != "applied" {
		t.Errorf("OnApplied calls = %+v, want the first load applied", ev)
	}
	// The schedule fires, and its run is in the history and the metrics.
	b.waitRecord(t, "a", func(r scheduler.RunRecord) bool { return r.Outcome == scheduler.OutcomeSuccess })
	if got := b.metric(t, `sundial_runs_total{outcome="success",schedule="a"}`); got < 1 {
		t.Errorf(`sundial_runs_total{outcome="success",schedule="a"} = %v, want >= 1`, got)
	}
}

func TestDaemon_NewFileFires(t *testing.T) {
	t.Parallel()
	conf, scripts := newDirs(t, nil)
	b := start(t, conf, scripts)
	mark := b.mark()

	writeFile(t, filepath.Join(conf, "schedule-new.json"), everySecond("new"))
	applied := b.waitApplied(t, mark, "applied")
	b.waitLines(t, "new ", applied.at, 1)
	r := b.waitRecord(t, "new", func(r scheduler.RunRecord) bool { return true })
	if r.Outcome != scheduler.OutcomeSuccess || !strings.HasPrefix(r.FireID, "new@") {
		t.Errorf("run = %+v, want a success with fire id new@…", r)
	}
}

func TestDaemon_EditChangesWhatRuns(t *testing.T) {
	t.Parallel()
	conf, scripts := newDirs(t, map[string]string{"schedule-a.json": everySecond("v1")})
	b := start(t, conf, scripts)
	b.waitLines(t, "v1 ", time.Time{}, 1)
	mark := b.mark()

	writeFile(t, filepath.Join(conf, "schedule-a.json"), everySecond("v2"))
	applied := b.waitApplied(t, mark, "applied")
	v2 := b.waitLines(t, "v2 ", time.Time{}, 2)
	assertNoLinesAfter(t, b.out, "v1 ", v2[0].at)
	if h := b.readiness(t); h.Config.Hash != applied.hash || !h.Ready {
		t.Errorf("/readyz = %+v, want ready with hash %s", h, applied.hash)
	}
}

func TestDaemon_DeletionStops(t *testing.T) {
	t.Parallel()
	conf, scripts := newDirs(t, map[string]string{
		"schedule-a.json":       everySecond("a"),
		"schedule-witness.json": everySecond("witness"),
	})
	b := start(t, conf, scripts)
	b.waitLines(t, "a ", time.Time{}, 1)
	mark := b.mark()

	if err := os.Remove(filepath.Join(conf, "schedule-a.json")); err != nil {
		t.Fatal(err)
	}
	applied := b.waitApplied(t, mark, "applied")
	if _, ok := b.d.Scheduler().Schedule("a"); ok {
		t.Error(`schedule "a" still scheduled after its file was removed`)
	}
	// Two witness fires after the removal: a full second has passed, in
	// which "a" would have fired.
	b.waitLines(t, "witness ", applied.at, 2)
	for _, r := range b.d.Scheduler().History() {
		if r.ScheduleID == "a" && r.ActualFireTime.After(applied.at) {
			t.Errorf("run %s started at %s, after the removal was applied at %s", r.FireID,
				r.ActualFireTime.Format("15:04:05.000"), applied.at.Format("15:04:05.000"))
		}
	}
	if h := b.health(t); h.Schedules != 1 {
		t.Errorf("/healthz schedules = %d, want 1", h.Schedules)
	}
}

func TestDaemon_BadEditKeepsLastGoodVersion(t *testing.T) {
	t.Parallel()
	const v2 = `java.lang.System.out.println('v2 ' + context.fireId);`
	for _, tc := range []struct {
		name, content string
		pos, msg      string // expected file position and message
		// revert fixes the file by restoring the last good version (as
		// `git revert` does) rather than by writing a new one.
		revert bool
	}{
		{
			name: "invalid cron",
			content: `{
  "schedule": "61 * * * * ?",
  "invokeService": "script",
  "invokeContext": {"script": {"type": "text/javascript", "source": "` + v2 + `"}}
}`,
			pos: ":2:15: ",
			msg: `invalid cron expression "61 * * * * ?"`,
		},
		{
			name: "unknown key",
			content: `{
  "schedule": "* * * * * ?",
  "invokeService": "script",
  "invokeContext": {"script": {"type": "text/javascript", "source": "` + v2 + `"}},
  "bogus": true
}`,
			pos: ":5:3: ",
			msg: `unknown key "bogus"`,
		},
		{
			name: "broken JSON",
			content: `{
  "schedule": "* * * * * ?",
  "invokeService": "script",
  "invokeContext": {"script": {"type": "text/javascript", "source": "` + v2 + `"}}
`,
			pos: ":5:1: ",
			msg: "syntax error",
		},
		{
			name: "broken JSON, reverted",
			content: `{
  "schedule": "* * * * * ?",
  "invokeService": "script",
  "invokeContext": {"script": {"type": "text/javascript", "source": "` + v2 + `"}}
`,
			pos:    ":5:1: ",
			msg:    "syntax error",
			revert: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			conf, scripts := newDirs(t, map[string]string{"schedule-a.json": everySecond("v1")})
			b := start(t, conf, scripts)
			b.waitLines(t, "v1 ", time.Time{}, 1)
			file := filepath.Join(conf, "schedule-a.json")

			// The bad edit is reported with file:line:col, and v1 keeps firing.
			writeFile(t, file, tc.content)
			h := b.waitReadiness(t, "/readyz to report the bad file", func(h healthDoc) bool { return !h.Ready })
			reported := time.Now()
			if !hasProblem(h, "1 error(s) in configuration files") {
				t.Errorf("/readyz problems = %q, want the invalid file counted", h.Problems)
			}
			b.health(t) // alive all the same
			if len(h.Config.Errors) != 1 || !strings.HasPrefix(h.Config.Errors[0], file+tc.pos) ||
				!strings.Contains(h.Config.Errors[0], tc.msg) {
				t.Errorf("/healthz errors = %q, want one error %q…%q", h.Config.Errors, file+tc.pos, tc.msg)
			}
			if got := b.metric(t, "sundial_config_errors"); got != 1 {
				t.Errorf("sundial_config_errors = %v, want 1", got)
			}
			b.waitLines(t, "v1 ", reported, 2)
			if got := b.out.matching("v2 "); len(got) > 0 {
				t.Errorf("the invalid version ran: %q", got[0].text)
			}

			// Fixing the file applies it and clears the error.
			fixed := everySecond("v3")
			if tc.revert {
				fixed = everySecond("v1")
			}
			writeFile(t, file, fixed)
			h = b.waitReadiness(t, "/readyz to be ready again", func(h healthDoc) bool { return h.Ready })
			if len(h.Config.Errors) != 0 {
				t.Errorf("/healthz errors after the fix = %q, want none", h.Config.Errors)
			}
			if got := b.metric(t, "sundial_config_errors"); got != 0 {
				t.Errorf("sundial_config_errors after the fix = %v, want 0", got)
			}
			if tc.revert {
				b.waitLines(t, "v1 ", time.Now(), 1)
				return
			}
			v3 := b.waitLines(t, "v3 ", time.Time{}, 1)
			assertNoLinesAfter(t, b.out, "v1 ", v3[0].at)
		})
	}
}

// TestDaemon_BadEditCountedInvalid checks that a reload that finds an
// invalid file is counted as such, in sundial_config_reloads_total and in
// the OnApplied result.
func TestDaemon_BadEditCountedInvalid(t *testing.T) {
	t.Parallel()
	conf, scripts := newDirs(t, map[string]string{"schedule-a.json": everySecond("v1")})
	b := start(t, conf, scripts)
	n := len(b.applied.list())
	writeFile(t, filepath.Join(conf, "schedule-a.json"), `{"schedule": "61 * * * * ?"}`)
	var last appliedEvent
	b.eventually(t, "a reload", func() bool {
		ev := b.applied.list()
		if len(ev) > n {
			last = ev[len(ev)-1]
			return true
		}
		return false
	})
	if last.result != "invalid" {
		t.Errorf("OnApplied result = %q, want \"invalid\"", last.result)
	}
	if got := b.metric(t, `sundial_config_reloads_total{result="invalid"}`); got != 1 {
		t.Errorf(`sundial_config_reloads_total{result="invalid"} = %v, want 1`, got)
	}
}

// TestDaemon_SymlinkFlip flips a git-sync / Kubernetes ConfigMap tree the
// way kubelet does: write the new revision directory, make a temporary
// symlink to it, rename that over "..data", remove the old revision.
func TestDaemon_SymlinkFlip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// confInVolume: the conf directory is the volume itself, whose
		// files are symlinks into ..data (a ConfigMap mount); otherwise the
		// conf path is a symlink to ..data (conf -> ..data -> ..rev1).
		confInVolume bool
	}{
		{name: "conf symlink to ..data"},
		{name: "ConfigMap volume", confInVolume: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			vol := filepath.Join(root, "volume")
			rev := func(name, tag string) {
				dir := filepath.Join(vol, name)
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Join(dir, "schedule-a.json"), everySecond(tag))
			}
			symlink := func(target, link string) {
				if err := os.Symlink(target, link); err != nil {
					t.Fatal(err)
				}
			}
			rev("..rev1", "v1")
			symlink("..rev1", filepath.Join(vol, "..data"))
			conf := filepath.Join(root, "conf")
			if tc.confInVolume {
				conf = vol
				symlink(filepath.Join("..data", "schedule-a.json"), filepath.Join(vol, "schedule-a.json"))
			} else {
				symlink(filepath.Join("volume", "..data"), conf)
			}
			scripts := filepath.Join(root, "scripts")
			if err := os.Mkdir(scripts, 0o755); err != nil {
				t.Fatal(err)
			}
			b := start(t, conf, scripts)
			b.waitLines(t, "v1 ", time.Time{}, 1)
			mark := b.mark()

			rev("..rev2", "v2")
			symlink("..rev2", filepath.Join(vol, "..data_tmp"))
			if err := os.Rename(filepath.Join(vol, "..data_tmp"), filepath.Join(vol, "..data")); err != nil {
				t.Fatal(err)
			}
			if err := os.RemoveAll(filepath.Join(vol, "..rev1")); err != nil {
				t.Fatal(err)
			}
			b.waitApplied(t, mark, "applied")
			v2 := b.waitLines(t, "v2 ", time.Time{}, 2)
			assertNoLinesAfter(t, b.out, "v1 ", v2[0].at)
			if h := b.readiness(t); !h.Ready {
				t.Errorf("/readyz = %+v, want ready", h)
			}
		})
	}
}

func TestDaemon_RenameSaveApplies(t *testing.T) {
	t.Parallel()
	conf, scripts := newDirs(t, map[string]string{"schedule-a.json": everySecond("v1")})
	b := start(t, conf, scripts)
	b.waitLines(t, "v1 ", time.Time{}, 1)
	mark := b.mark()

	// An editor's save: write a temporary file, then rename it over the old one.
	tmp := filepath.Join(conf, ".schedule-a.json.swp")
	writeFile(t, tmp, everySecond("v2"))
	if err := os.Rename(tmp, filepath.Join(conf, "schedule-a.json")); err != nil {
		t.Fatal(err)
	}
	b.waitApplied(t, mark, "applied")
	v2 := b.waitLines(t, "v2 ", time.Time{}, 2)
	assertNoLinesAfter(t, b.out, "v1 ", v2[0].at)
}

func TestDaemon_ChangedScriptFileUsedFromNextRun(t *testing.T) {
	t.Parallel()
	job := func(tag string) string {
		return fmt.Sprintf("java.lang.System.out.println(%q + ' ' + context.fireId);\n", tag)
	}
	conf, scripts := newDirs(t, map[string]string{
		"schedule-job.json": scriptSchedule(map[string]any{"type": "text/javascript", "file": "script/job.js"}),
		"scripts/job.js":    job("job-v1"),
	})
	b := start(t, conf, scripts)
	b.waitLines(t, "job-v1 ", time.Time{}, 1)

	writeFile(t, filepath.Join(scripts, "job.js"), job("job-v2"))
	v2 := b.waitLines(t, "job-v2 ", time.Time{}, 2)
	assertNoLinesAfter(t, b.out, "job-v1 ", v2[0].at)
}

func TestDaemon_ThrowingScriptFailsItsRun(t *testing.T) {
	t.Parallel()
	conf, scripts := newDirs(t, map[string]string{
		"schedule-throws.json": scriptSchedule(map[string]any{"type": "text/javascript", "file": "script/throws.js"}),
		"scripts/throws.js":    "var n = 42;\nthrow new Error('boom ' + n);\n",
	})
	b := start(t, conf, scripts)
	r := b.waitRecord(t, "throws", func(r scheduler.RunRecord) bool { return r.Outcome != scheduler.OutcomeSkipped })
	if r.Outcome != scheduler.OutcomeError || !strings.Contains(r.Error, "boom 42") ||
		!regexp.MustCompile(`throws\.js:2:\d+`).MatchString(r.Error) {
		t.Errorf("run = %s %q, want an error with the message \"boom 42\" at throws.js:2", r.Outcome, r.Error)
	}
	if got := b.metric(t, `sundial_runs_total{outcome="error",schedule="throws"}`); got < 1 {
		t.Errorf(`sundial_runs_total{outcome="error",schedule="throws"} = %v, want >= 1`, got)
	}
}

func TestDaemon_LoopingScriptTimesOut(t *testing.T) {
	t.Parallel()
	conf, scripts := newDirs(t, map[string]string{
		"schedule-loop.json": scriptSchedule(map[string]any{"type": "text/javascript", "timeout": "200ms",
			"source": "var i = 0;\nwhile (true) { i++; }\n"}),
	})
	b := start(t, conf, scripts)
	r := b.waitRecord(t, "loop", func(r scheduler.RunRecord) bool { return r.Outcome != scheduler.OutcomeSkipped })
	if r.Outcome != scheduler.OutcomeError || !strings.Contains(r.Error, "script timed out after 200ms") {
		t.Errorf("run = %s %q, want an error \"script timed out after 200ms\"", r.Outcome, r.Error)
	}
}

// TestDaemon_ReloadChannel checks the SIGHUP path: with the watcher's quiet
// period at an hour, only the reload channel can apply the edit.
func TestDaemon_ReloadChannel(t *testing.T) {
	t.Parallel()
	conf, scripts := newDirs(t, map[string]string{"schedule-a.json": everySecond("v1")})
	b := start(t, conf, scripts, func(o *daemon.Options) { o.Debounce = time.Hour })
	b.waitLines(t, "v1 ", time.Time{}, 1)
	mark := b.mark()

	writeFile(t, filepath.Join(conf, "schedule-a.json"), everySecond("v2"))
	b.reload <- struct{}{}
	b.waitApplied(t, mark, "applied")
	v2 := b.waitLines(t, "v2 ", time.Time{}, 1)
	assertNoLinesAfter(t, b.out, "v1 ", v2[0].at)
}

// TestDaemon_EditDoesNotRefireSameSecond edits a schedule right after it
// fired: the new version must not fire the second the old one just fired.
func TestDaemon_EditDoesNotRefireSameSecond(t *testing.T) {
	t.Parallel()
	conf, scripts := newDirs(t, map[string]string{"schedule-a.json": everySecond("v1")})
	b := start(t, conf, scripts)
	// Edit just after a fire, so the edit is applied within the second
	// that fired.
	last := b.waitLines(t, "v1 ", time.Time{}, 1)[0]
	b.waitLines(t, "v1 ", last.at, 1)
	writeFile(t, filepath.Join(conf, "schedule-a.json"), everySecond("v2"))
	b.waitLines(t, "v2 ", time.Time{}, 2)
	b.waitRecord(t, "a", func(r scheduler.RunRecord) bool { return r.Outcome == scheduler.OutcomeSuccess })

	seen := map[string]bool{}
	for _, r := range b.d.Scheduler().History() {
		if r.Outcome == scheduler.OutcomeSkipped {
			continue
		}
		if seen[r.FireID] {
			t.Errorf("fire %s ran twice", r.FireID)
		}
		seen[r.FireID] = true
	}
	// The scripts print the fire id: each id once across both versions.
	printed := map[string]string{}
	for _, l := range b.out.all() {
		tag, id, _ := strings.Cut(l.text, " ")
		if prevTag, dup := printed[id]; dup {
			t.Errorf("fire %s ran as %s and as %s", id, prevTag, tag)
		}
		printed[id] = tag
	}
}

// TestDaemon_FailedReloadShowsInHealth removes the conf directory: the reload
// fails, the running schedule keeps firing, and /healthz says why.
func TestDaemon_FailedReloadShowsInHealth(t *testing.T) {
	t.Parallel()
	conf, scripts := newDirs(t, map[string]string{"schedule-a.json": everySecond("v1")})
	b := start(t, conf, scripts)
	mark := b.mark()
	if err := os.RemoveAll(conf); err != nil {
		t.Fatal(err)
	}
	b.waitResult(t, mark, "failed")
	h := b.readiness(t)
	if h.Ready || h.Config.ReloadError == "" || !hasProblem(h, "conf directory is missing") {
		t.Errorf("/readyz after a failed reload = %+v, want not ready, the directory missing", h)
	}
	b.health(t)
	b.waitLines(t, "v1 ", time.Now(), 1) // the last applied version keeps running
}

// TestDaemon_BusyPortFailsBeforeStart: a taken --listen address stops the
// start with an error naming the address.
func TestDaemon_BusyPortFailsBeforeStart(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conf, scripts := newDirs(t, map[string]string{"schedule-a.json": everySecond("v1")})
	d, err := daemon.New(daemon.Options{ConfDir: conf, ScriptsDir: scripts, Listen: ln.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	err = d.Run(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "listen on "+ln.Addr().String()) {
		t.Fatalf("Run on a busy port = %v, want a listen error", err)
	}
}
