package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"sundial/engine/store"
	_ "sundial/engine/store/postgres"
	_ "sundial/engine/store/sqlite"
	"sundial/internal/pgtest"
	"sundial/internal/syncbuf"
	"sundial/internal/testbin"
)

// bin is the sundial binary the tests run, built once by TestMain (without
// the race detector: the processes under test need not pay for it).
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sundial-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if bin, err = testbin.Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := pgtest.Main(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// project is a temporary project directory: conf/, scripts/, var/.
type project struct {
	dir, conf, scripts string
}

func newProject(t *testing.T) *project {
	t.Helper()
	dir := t.TempDir()
	p := &project{dir: dir, conf: filepath.Join(dir, "conf"), scripts: filepath.Join(dir, "scripts")}
	for _, d := range []string{p.conf, p.scripts} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// copyExample copies the directories dirs of examples/<name> into the
// project, as a user starting from the example would.
func (p *project) copyExample(t *testing.T, name string, dirs ...string) {
	t.Helper()
	for _, dir := range dirs {
		if err := os.CopyFS(filepath.Join(p.dir, dir), os.DirFS(filepath.Join("..", "..", "examples", name, dir))); err != nil && !errors.Is(err, os.ErrExist) {
			t.Fatal(err)
		}
	}
}

// write writes a file under the project directory.
func (p *project) write(t *testing.T, rel, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(p.dir, rel), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// sqliteDSN is the project's default store.
func (p *project) sqliteDSN() string { return filepath.Join(p.dir, "var", "sundial.db") }

// proc is a running `sundial serve`.
type proc struct {
	node           string
	cmd            *exec.Cmd
	stdout, stderr *syncbuf.Buffer
	exited         chan struct{}
	addr           string
}

// serveArgs are the flags every test node gets: short check-ins.
var serveArgs = []string{"--listen", "127.0.0.1:0", "--checkin-interval", "250ms", "--node-timeout", "2s", "--grace", "5s"}

// startNode starts `sundial serve` for p as node, on the store dsn ("" for
// the project's default SQLite file), and waits until it has started.
func startNode(t *testing.T, p *project, node, dsn string, extra ...string) *proc {
	t.Helper()
	args := []string{"serve", "--conf", p.conf, "--scripts", p.scripts, "--node-id", node}
	if dsn != "" {
		args = append(args, "--store", dsn)
	}
	args = append(append(args, serveArgs...), extra...)
	pr := &proc{node: node, stdout: &syncbuf.Buffer{}, stderr: &syncbuf.Buffer{}, exited: make(chan struct{})}
	pr.cmd = exec.Command(bin, args...)
	pr.cmd.Dir = p.dir
	pr.cmd.Stdout, pr.cmd.Stderr = pr.stdout, pr.stderr
	if err := pr.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = pr.cmd.Wait()
		close(pr.exited)
	}()
	t.Cleanup(func() {
		pr.kill(t)
		if t.Failed() {
			t.Logf("node %s stderr (last 4 KiB):\n%s", node, tail(pr.stderr.String(), 4096))
		}
	})
	started := regexp.MustCompile(`msg="sundial started".* listen=(\S+)`)
	waitFor(t, 60*time.Second, "node "+node+" to start", func() bool {
		select {
		case <-pr.exited:
			t.Fatalf("node %s exited during start:\n%s", node, pr.stderr.String())
		default:
		}
		m := started.FindStringSubmatch(pr.stderr.String())
		if m != nil {
			pr.addr = m[1]
		}
		return m != nil
	})
	return pr
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// kill sends SIGKILL (kill -9) and waits for the process to be gone.
func (pr *proc) kill(t *testing.T) {
	t.Helper()
	select {
	case <-pr.exited:
		return
	default:
	}
	_ = pr.cmd.Process.Signal(syscall.SIGKILL)
	<-pr.exited
}

// stop sends SIGTERM and waits for a clean exit.
func (pr *proc) stop(t *testing.T) {
	t.Helper()
	_ = pr.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-pr.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("node %s did not stop within 30s", pr.node)
	}
	if !pr.cmd.ProcessState.Success() {
		t.Fatalf("node %s exited with %v:\n%s", pr.node, pr.cmd.ProcessState, tail(pr.stderr.String(), 4096))
	}
}

// count counts the stdout lines matching re.
func (pr *proc) count(re *regexp.Regexp) int { return len(re.FindAllString(pr.stdout.String(), -1)) }

// waitFor polls cond every 25ms until it holds, failing the test after
// within.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		<-tick.C
	}
}

// openStore opens a handle of the test's own on a node's database.
func openStore(t *testing.T, dsn string) store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// runs returns every recorded run, skipped fires included.
func runs(t *testing.T, s store.Store) []store.Run {
	t.Helper()
	rs, err := s.ListRuns(context.Background(), store.ListRunsParams{Limit: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// runsOf returns the runs of a schedule that ran (not skipped fires),
// oldest first.
func runsOf(t *testing.T, s store.Store, schedule string) []store.Run {
	t.Helper()
	rs, err := s.ListRuns(context.Background(), store.ListRunsParams{ScheduleID: schedule, Limit: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Run
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i].Status != store.RunSkipped {
			out = append(out, rs[i])
		}
	}
	return out
}

// getRun returns a run, or a zero Run when it is not recorded.
func getRun(t *testing.T, s store.Store, id string) store.Run {
	t.Helper()
	for _, r := range runs(t, s) {
		if r.ID == id {
			return r
		}
	}
	return store.Run{}
}

// scheduleJSON is a persisted schedule file running a script file.
func scheduleJSON(fields, script string) string {
	return fmt.Sprintf(`{%s, "persisted": true, "invokeService": "script",
  "invokeContext": {"script": {"type": "text/javascript", "file": "script/%s"}}}`, fields, script)
}

// fireLine is what fire.js prints.
var fireLine = regexp.MustCompile(`(?m)^FIRE (\S+)$`)

// countFires counts the FIRE lines of a node by fire id.
func countFires(pr *proc) map[string]int {
	out := map[string]int{}
	for _, m := range fireLine.FindAllStringSubmatch(pr.stdout.String(), -1) {
		out[m[1]]++
	}
	return out
}
