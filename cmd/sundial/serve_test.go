package main

// Tests of `sundial serve` as operators run it: the real binary, built once,
// started as a subprocess on a temporary conf directory and stopped with a
// signal. They wait on the process's output and on /healthz, never on time.

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sundial/internal/syncbuf"
	"sundial/internal/testbin"
)

// serveWait bounds every wait of these tests.
const serveWait = 5 * time.Second

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// sundialBinary builds the sundial command once per test binary.
func sundialBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "sundial-serve-test"); binErr != nil {
			return
		}
		binPath, binErr = testbin.Build(binDir)
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// waitOutput polls w until re matches, and returns the submatches.
func waitOutput(t testing.TB, w *syncbuf.Buffer, re *regexp.Regexp, what string) []string {
	t.Helper()
	return waitOutputWithin(t, w, re, what, serveWait)
}

// waitOutputWithin is waitOutput with another bound than serveWait.
func waitOutputWithin(t testing.TB, w *syncbuf.Buffer, re *regexp.Regexp, what string, within time.Duration) []string {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if m := re.FindStringSubmatch(w.String()); m != nil {
			return m
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("timed out after %s waiting for %s; output:\n%s", within, what, w.String())
		}
	}
}

// serveProc is a running `sundial serve`.
type serveProc struct {
	cmd            *exec.Cmd
	stdout, stderr *syncbuf.Buffer
	exited         chan struct{}
	err            error // of cmd.Wait, once exited is closed
}

func startServe(t testing.TB, args ...string) *serveProc {
	t.Helper()
	return startServeIn(t, "", args...)
}

// startServeIn starts `sundial serve` with args in the working directory dir
// ("" for the test's).
func startServeIn(t testing.TB, dir string, args ...string) *serveProc {
	t.Helper()
	p := &serveProc{stdout: &syncbuf.Buffer{}, stderr: &syncbuf.Buffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(sundialBinary(t), append([]string{"serve"}, args...)...)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("sundial serve stderr:\n%s", p.stderr.String())
		}
	})
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *serveProc) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(within):
		t.Fatalf("sundial serve still running %s later", within)
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &ee):
		return ee.ExitCode()
	default:
		t.Fatal(p.err)
		return -1
	}
}

// newServeProject makes a project directory with empty conf/ and scripts/.
func newServeProject(t *testing.T) (root, conf, scripts string) {
	t.Helper()
	root = t.TempDir()
	conf, scripts = filepath.Join(root, "conf"), filepath.Join(root, "scripts")
	for _, dir := range []string{conf, scripts} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return root, conf, scripts
}

func TestServe_FiresReloadsAndStopsOnSIGTERM(t *testing.T) {
	t.Parallel()
	_, conf, scripts := newServeProject(t)
	schedule := `{"schedule": "* * * * * ?", "invokeService": "script",
  "invokeContext": {"script": {"type": "text/javascript", "file": "script/hello.js"}}}`
	if err := os.WriteFile(filepath.Join(conf, "schedule-hello.json"), []byte(schedule), 0o644); err != nil {
		t.Fatal(err)
	}
	hello := `java.lang.System.out.println("hello from " + context.fireId);`
	if err := os.WriteFile(filepath.Join(scripts, "hello.js"), []byte(hello), 0o644); err != nil {
		t.Fatal(err)
	}
	const grace = 2 * time.Second
	p := startServe(t, "--conf", conf, "--scripts", scripts, "--listen", "127.0.0.1:0", "--grace", grace.String())

	// It starts and says where it listens.
	addr := waitOutput(t, p.stderr, regexp.MustCompile(`msg="sundial started".* listen=(\S+)`), "the start line")[1]
	resp, err := (&http.Client{Timeout: serveWait}).Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var h struct {
		Status    string `json:"status"`
		Schedules int    `json:"schedules"`
	}
	if err := json.Unmarshal(body, &h); err != nil || resp.StatusCode != http.StatusOK || h.Status != "ok" || h.Schedules != 1 {
		t.Fatalf("/healthz: %s %s (%v), want 200, status ok, 1 schedule", resp.Status, body, err)
	}

	// The schedule fires: the script's println reaches stdout.
	waitOutput(t, p.stdout, regexp.MustCompile(`(?m)^hello from hello@\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`), "the script's output")

	// SIGHUP reloads.
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, p.stderr, regexp.MustCompile(`msg="reload requested"`), "the reload")

	// SIGTERM stops it with exit status 0 within the grace period.
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, grace+serveWait); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}
	if !strings.Contains(p.stderr.String(), `msg="sundial stopped"`) {
		t.Errorf("no \"sundial stopped\" line in stderr")
	}
}

func TestServe_MissingConfDir(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "no-such-conf")
	p := startServe(t, "--conf", missing, "--scripts", t.TempDir(), "--listen", "127.0.0.1:0")
	if code := p.wait(t, serveWait); code == 0 {
		t.Errorf("exit status 0 for a missing conf directory, want non-zero")
	}
	want := "sundial: load configuration: load " + missing + ": open " + missing + ": no such file or directory"
	if got := p.stderr.String(); !strings.Contains(got, want) {
		t.Errorf("stderr = %q, want it to contain %q", got, want)
	}
}

// TestServe_FlagErrors checks that nonsensical flag values are refused
// before anything starts, with a message naming the flag.
func TestServe_FlagErrors(t *testing.T) {
	t.Parallel()
	conf := t.TempDir()
	missingDir := filepath.Join(t.TempDir(), "no-such-dir", "deeper")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--checkin-interval", "0s"}, 2, "sundial: --checkin-interval 0s: must be positive\n"},
		{[]string{"--checkin-interval", "-1s"}, 2, "sundial: --checkin-interval -1s: must be positive\n"},
		{[]string{"--node-timeout", "-5s"}, 2, "sundial: --node-timeout -5s: must be positive\n"},
		{[]string{"--node-timeout", "5s", "--checkin-interval", "5s"}, 2, "sundial: --node-timeout 5s must be at least twice --checkin-interval 5s\n"},
		{[]string{"--grace", "-1s"}, 2, "sundial: --grace -1s: must be positive\n"},
		{[]string{"--grace", "0s"}, 2, "sundial: --grace 0s: must be positive\n"},
		{[]string{"--reload-timeout", "0s"}, 2, "sundial: --reload-timeout 0s: must be positive\n"},
		{[]string{"--keep-runs", "0"}, 2, "sundial: --keep-runs 0: must be positive, or -1 for no limit\n"},
		{[]string{"--script-memory-ceiling", "lots"}, 2, "sundial: --script-memory-ceiling: invalid size \"lots\""},
		{[]string{"--log-format", "xml"}, 2, "sundial: --log-format \"xml\": want text or json\n"},
		{[]string{"--store", filepath.Join(missingDir, "x.db")}, 1, "sundial: --store " + filepath.Join(missingDir, "x.db") +
			": directory " + missingDir + " does not exist (create it, or leave --store out for var/sundial.db beside the conf directory)\n"},
		{[]string{"--store", "sqlite:" + filepath.Join(missingDir, "x.db")}, 1, "directory " + missingDir + " does not exist"},
	} {
		code, stdout, stderr := runCLI(append([]string{"serve", "--conf", conf, "--listen", ""}, tc.args...)...)
		if code != tc.code || stdout != "" || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit %d and %q", tc.args, code, stdout, stderr, tc.code, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Dir(missingDir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a --store in a missing directory created %s (stat: %v)", filepath.Dir(missingDir), err)
	}
}

// TestServe_ConfDotStoreAndJSONLogs starts serve in its conf directory with
// --conf . and --log-format json: the default store goes to var/ of the
// parent directory, and the run-end lines give durations in seconds.
func TestServe_ConfDotStoreAndJSONLogs(t *testing.T) {
	t.Parallel()
	root, conf, scripts := newServeProject(t)
	schedule := `{"schedule": "* * * * * ?", "invokeService": "script",
  "invokeContext": {"script": {"type": "text/javascript", "source": "1"}}}`
	if err := os.WriteFile(filepath.Join(conf, "schedule-tick.json"), []byte(schedule), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startServeIn(t, conf, "--conf", ".", "--scripts", scripts, "--listen", "", "--log-format", "json")
	line := waitOutput(t, p.stderr, regexp.MustCompile(`(?m)^\{.*"msg":"run ended".*\}$`), "a run-end line")[0]
	var rec map[string]any
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	for _, key := range []string{"delay", "duration"} {
		// Seconds: a run of a script "1" takes far less than 1000 s, and a
		// count of nanoseconds would be at least 1000.
		if v, ok := rec[key].(float64); !ok || v >= 1000 || v < -1000 {
			t.Errorf("%s = %v in %s; want seconds", key, rec[key], line)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "var", "sundial.db")); err != nil {
		t.Errorf("default store not in the parent of --conf: %v", err)
	}
	if _, err := os.Stat(filepath.Join(conf, "var")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("--conf . created var/ inside the conf directory (stat: %v)", err)
	}
}

// TestJSONLogAttrs checks the JSON log form of durations and empty lists.
func TestJSONLogAttrs(t *testing.T) {
	var b strings.Builder
	logger := slog.New(slog.NewJSONHandler(&b, &slog.HandlerOptions{ReplaceAttr: jsonAttr}))
	logger.Info("m", slog.Duration("delay", 1500*time.Millisecond), slog.Any("paths", []string(nil)),
		slog.Any("full", []int{1}), slog.Group("g", slog.Duration("late", -2*time.Second)), slog.Int("n", 3))
	var rec map[string]any
	if err := json.Unmarshal([]byte(b.String()), &rec); err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{`"delay":1.5`, `"paths":[]`, `"full":[1]`, `"g":{"late":-2}`, `"n":3`} {
		if !strings.Contains(b.String(), part) {
			t.Errorf("JSON log line lacks %s: %s", part, b.String())
		}
	}
}

// With --log-format json, a script's console.log lines are JSON records on
// stderr with the schedule and the fire id, and nothing reaches stdout.
func TestServe_JSONLogsCarryScriptOutput(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	conf := filepath.Join(root, "conf")
	if err := os.Mkdir(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	schedule := `{"schedule": "* * * * * ?", "invokeService": "script",
  "invokeContext": {"script": {"type": "text/javascript", "source": "console.log('P ' + context.fireId)"}}}`
	if err := os.WriteFile(filepath.Join(conf, "schedule-hello.json"), []byte(schedule), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, "--conf", conf, "--scripts", t.TempDir(), "--listen", "127.0.0.1:0", "--log-format", "json")
	line := waitOutput(t, p.stderr, regexp.MustCompile(`(?m)^\{.*"msg":"P hello@.*$`), "the script's output as a record")[0]
	var rec map[string]any
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	if rec["schedule"] != "hello" || rec["fireId"] != strings.TrimPrefix(rec["msg"].(string), "P ") || rec["stream"] != "stdout" {
		t.Errorf("record = %v, want schedule hello and the fire id", rec)
	}
	if out := p.stdout.String(); out != "" {
		t.Errorf("stdout = %q, want nothing", out)
	}
}
