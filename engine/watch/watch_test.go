package watch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sundial/engine/clock"
	"sundial/internal/syncbuf"
)

// Tests run on real temporary directories with real fsnotify events. They
// wait for signals (on Reloads, or on the observed/sent test hooks), never
// for time: deadline is only how long a broken watcher gets before failing.
const deadline = 5 * time.Second

// realDebounce is short, so the real-clock tests are quick.
const realDebounce = 20 * time.Millisecond

// tempDir returns a fresh directory by its real path, which is how event
// paths are reported.
func tempDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func mkdir(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func rename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

// flip points link at target atomically, as git-sync and the kubelet do:
// a new symlink renamed over the old one.
func flip(t *testing.T, target, link string) {
	t.Helper()
	tmp := link + ".tmp"
	symlink(t, target, tmp)
	rename(t, tmp, link)
}

// drop makes path appear with a single event: the file is written in the
// directory outside (not watched) and renamed in. Fake-clock tests use it so
// that one observation is the whole change.
func drop(t *testing.T, outside, path string) {
	t.Helper()
	src := filepath.Join(outside, filepath.Base(path))
	write(t, src, "x")
	rename(t, src, path)
}

type probes struct {
	observed chan string
	sent     chan Event
}

// newWatcher builds a Watcher with the test hooks wired; opts.Debounce
// defaults to realDebounce.
func newWatcher(t *testing.T, opts Options) (*Watcher, probes) {
	t.Helper()
	if opts.Debounce == 0 {
		opts.Debounce = realDebounce
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	w, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	p := probes{observed: make(chan string, 4096), sent: make(chan Event, 4096)}
	w.observed = func(path string) { p.observed <- path }
	w.sent = func(ev Event) { p.sent <- ev }
	t.Cleanup(func() {
		if err := w.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return w, p
}

// startWatcher is newWatcher plus Start.
func startWatcher(t *testing.T, opts Options) (*Watcher, probes) {
	t.Helper()
	w, p := newWatcher(t, opts)
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return w, p
}

type testWriter struct{ t *testing.T }

func (tw testWriter) Write(b []byte) (int, error) {
	tw.t.Helper()
	tw.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// next returns the next signal.
func next(t *testing.T, w *Watcher) Event {
	t.Helper()
	select {
	case ev, ok := <-w.Reloads():
		if !ok {
			t.Fatal("reloads channel closed")
		}
		return ev
	case <-time.After(deadline):
		t.Fatalf("no signal within %s", deadline)
	}
	return Event{}
}

// waitFor returns the first signal listing path, and every signal received
// up to and including it.
func waitFor(t *testing.T, w *Watcher, path string) (Event, []Event) {
	t.Helper()
	var got []Event
	timeout := time.After(deadline)
	for {
		select {
		case ev, ok := <-w.Reloads():
			if !ok {
				t.Fatalf("reloads channel closed while waiting for %s", path)
			}
			got = append(got, ev)
			if slices.Contains(ev.Paths, path) {
				return ev, got
			}
		case <-timeout:
			t.Fatalf("no signal listing %s within %s; got %v", path, deadline, got)
		}
	}
}

// waitObserved waits until the watcher has fully handled a change to path.
func waitObserved(t *testing.T, p probes, path string) {
	t.Helper()
	timeout := time.After(deadline)
	for {
		select {
		case got := <-p.observed:
			if got == path {
				return
			}
		case <-timeout:
			t.Fatalf("watcher did not see %s within %s", path, deadline)
		}
	}
}

var sentinels struct {
	sync.Mutex
	n int
}

// quiet proves that nothing done before it signals except the allowed
// paths: it writes a fresh sentinel file in dir, a watched directory, and
// reads signals up to the sentinel's. Events reach the watcher in order, so a
// signal owed for an earlier change arrives before the sentinel's or merged
// into it, and none is owed afterwards.
//
// The allowed paths are those the test changed on purpose. On the real clock
// one write can make two signals, when the machine stalls the watcher for
// longer than the debounce between the write's two events (the truncate and
// the write); the contract permits that, and the fake-clock tests pin the
// exact count.
func quiet(t *testing.T, w *Watcher, dir string, allowed ...string) {
	t.Helper()
	sentinels.Lock()
	sentinels.n++
	name := filepath.Join(dir, fmt.Sprintf("sentinel-%d", sentinels.n))
	sentinels.Unlock()
	write(t, name, "x")
	_, got := waitFor(t, w, name)
	only(t, got, append(allowed, name)...)
}

// only fails unless every signal in evs lists only allowed paths.
func only(t *testing.T, evs []Event, allowed ...string) {
	t.Helper()
	for _, ev := range evs {
		for _, p := range ev.Paths {
			if !slices.Contains(allowed, p) {
				t.Fatalf("unexpected signal for %s (in %v); allowed: %v", p, ev.Paths, allowed)
			}
		}
	}
}

func TestNewChecksOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no dirs", Options{}, "new watcher: no directories to watch"},
		{"empty dir", Options{Dirs: []string{""}}, "new watcher: empty directory name"},
		{"negative debounce", Options{Dirs: []string{"x"}, Debounce: -1}, "new watcher: negative debounce -1ns"},
		{"negative max delay", Options{Dirs: []string{"x"}, MaxDelay: -time.Second}, "new watcher: negative max delay -1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("New error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	w, err := New(Options{Dirs: []string{"conf"}, Debounce: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(w.dirs[0]) {
		t.Errorf("dir %q not made absolute", w.dirs[0])
	}
	if w.maxDelay != 2*time.Second {
		t.Errorf("max delay %s, want it raised to the debounce, 2s", w.maxDelay)
	}
	w, err = New(Options{Dirs: []string{"conf"}})
	if err != nil {
		t.Fatal(err)
	}
	if w.debounce != DefaultDebounce || w.maxDelay != DefaultMaxDelay {
		t.Errorf("defaults %s/%s, want %s/%s", w.debounce, w.maxDelay, DefaultDebounce, DefaultMaxDelay)
	}
}

func TestLifecycle(t *testing.T) {
	t.Run("stop before start", func(t *testing.T) {
		w, err := New(Options{Dirs: []string{tempDir(t)}})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := w.Stop(); err != nil {
				t.Fatalf("stop: %v", err)
			}
		}
		if err := w.Start(context.Background()); !errors.Is(err, ErrStopped) {
			t.Fatalf("start after stop = %v, want ErrStopped", err)
		}
		if _, ok := <-w.Reloads(); ok {
			t.Fatal("reloads channel open after stop")
		}
	})
	t.Run("start stop start", func(t *testing.T) {
		w, err := New(Options{Dirs: []string{tempDir(t)}})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		select {
		case <-w.Started():
		default:
			t.Fatal("Started not closed after Start returned")
		}
		if err := w.Start(context.Background()); !errors.Is(err, ErrStarted) {
			t.Fatalf("second start = %v, want ErrStarted", err)
		}
		for range 2 {
			if err := w.Stop(); err != nil {
				t.Fatalf("stop: %v", err)
			}
		}
		if err := w.Start(context.Background()); !errors.Is(err, ErrStopped) {
			t.Fatalf("start after stop = %v, want ErrStopped", err)
		}
		if _, ok := <-w.Reloads(); ok {
			t.Fatal("reloads channel open after stop")
		}
	})
	t.Run("canceled context", func(t *testing.T) {
		w, err := New(Options{Dirs: []string{tempDir(t)}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := w.Start(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("start with canceled context = %v, want context.Canceled", err)
		}
		if err := w.Stop(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("context ends the watch", func(t *testing.T) {
		w, err := New(Options{Dirs: []string{tempDir(t)}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		if err := w.Start(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		select {
		case _, ok := <-w.Reloads():
			if ok {
				t.Fatal("unexpected signal")
			}
		case <-time.After(deadline):
			t.Fatal("reloads channel not closed after the context ended")
		}
		if err := w.Stop(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestWriteInPlace(t *testing.T) {
	conf := tempDir(t)
	a := filepath.Join(conf, "schedule-a.json")
	write(t, a, "{}")
	w, _ := startWatcher(t, Options{Dirs: []string{conf}})

	write(t, a, `{"enabled": true}`)
	if ev := next(t, w); !slices.Equal(ev.Paths, []string{a}) {
		t.Fatalf("signal lists %v, want [%s]", ev.Paths, a)
	}
	quiet(t, w, conf, a)
}

func TestCreateAndDelete(t *testing.T) {
	conf := tempDir(t)
	a := filepath.Join(conf, "schedule-a.json")
	w, _ := startWatcher(t, Options{Dirs: []string{conf}})

	write(t, a, "{}")
	if ev := next(t, w); !slices.Equal(ev.Paths, []string{a}) {
		t.Fatalf("signal lists %v, want [%s]", ev.Paths, a)
	}
	quiet(t, w, conf, a)

	if err := os.Remove(a); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, w); !slices.Equal(ev.Paths, []string{a}) {
		t.Fatalf("signal lists %v, want [%s]", ev.Paths, a)
	}
	quiet(t, w, conf)
}

func TestRenameOverSave(t *testing.T) {
	conf := tempDir(t)
	a := filepath.Join(conf, "schedule-a.json")
	write(t, a, "{}")
	w, _ := startWatcher(t, Options{Dirs: []string{conf}})

	// An editor's safe save: write a temporary file, rename it over.
	tmp := filepath.Join(conf, ".schedule-a.json.swp")
	write(t, tmp, `{"enabled": false}`)
	rename(t, tmp, a)
	_, got := waitFor(t, w, a)
	only(t, got, a, tmp)
	quiet(t, w, conf, a, tmp)
}

func TestChmodIgnored(t *testing.T) {
	conf := tempDir(t)
	a := filepath.Join(conf, "schedule-a.json")
	write(t, a, "{}")
	w, _ := startWatcher(t, Options{Dirs: []string{conf}})

	if err := os.Chmod(a, 0o600); err != nil {
		t.Fatal(err)
	}
	quiet(t, w, conf)
}

// TestBurstRealClock: 50 writes in a row, on the real clock. They normally
// take a few milliseconds, well inside the 20ms debounce, and make one
// signal. A loaded machine can stretch the burst or stall the watcher, and
// each pause of 20ms may then split it, which the contract allows; so the
// bound is one signal plus one per 20ms the writes took, plus one for a
// stalled watcher. A broken debounce would give dozens.
func TestBurstRealClock(t *testing.T) {
	conf := tempDir(t)
	a := filepath.Join(conf, "schedule-a.json")
	write(t, a, "{}")
	w, _ := startWatcher(t, Options{Dirs: []string{conf}})

	begin := time.Now()
	for i := range 50 {
		write(t, a, fmt.Sprintf(`{"n": %d}`, i))
	}
	took := time.Since(begin)
	sentinel := filepath.Join(conf, "sentinel")
	write(t, sentinel, "x")
	_, got := waitFor(t, w, sentinel)
	n := 0
	for _, ev := range got {
		if slices.Contains(ev.Paths, a) {
			n++
		}
	}
	limit := 2 + int(took/realDebounce)
	if n < 1 || n > limit {
		t.Fatalf("%d signals listed the burst file, want 1 to %d (the writes took %s): %v", n, limit, took, got)
	}
	t.Logf("%d signal(s) for a burst of 50 writes that took %s", n, took)
	quiet(t, w, conf, a, sentinel)
}

// TestBurstIsOneSignal is the exact form of the debounce contract, on a fake
// clock: any number of events with no quiet period between them make one
// signal, sent once Debounce has passed, and nothing is left pending.
func TestBurstIsOneSignal(t *testing.T) {
	conf, outside := tempDir(t), tempDir(t)
	a := filepath.Join(conf, "schedule-a.json")
	write(t, a, "{}")
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	fake := clock.NewFake(t0)
	w, p := startWatcher(t, Options{Dirs: []string{conf}, Debounce: 100 * time.Millisecond, Clock: fake})

	for i := range 50 {
		write(t, a, fmt.Sprintf(`{"n": %d}`, i))
	}
	// Events reach the watcher in order, so once it has seen the sentinel it
	// has seen the whole burst.
	sentinel := filepath.Join(conf, "sentinel")
	drop(t, outside, sentinel)
	waitObserved(t, p, sentinel)
	select {
	case ev := <-w.Reloads():
		t.Fatalf("signal before the debounce elapsed: %v", ev)
	default:
	}

	fake.Advance(99 * time.Millisecond)
	fake.Advance(time.Millisecond)
	ev := next(t, w)
	if want := []string{a, sentinel}; !slices.Equal(ev.Paths, want) {
		t.Fatalf("signal lists %v, want %v", ev.Paths, want)
	}
	if want := t0.Add(100 * time.Millisecond); !ev.At.Equal(want) {
		t.Fatalf("signal at %s, want %s", ev.At, want)
	}
	// Nothing pending: a pending change always has a timer armed.
	if n := fake.Timers(); n != 0 {
		t.Fatalf("%d timers armed after the signal, want 0", n)
	}
	if len(w.Reloads()) != 0 {
		t.Fatal("a second signal is waiting")
	}
}

// TestMaxDelayCapsTrickle: events 90ms apart never leave the 100ms debounce
// quiet, yet a signal goes out once MaxDelay has passed since the first, and
// the next event starts a fresh burst.
func TestMaxDelayCapsTrickle(t *testing.T) {
	conf, outside := tempDir(t), tempDir(t)
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	fake := clock.NewFake(t0)
	w, p := startWatcher(t, Options{
		Dirs: []string{conf}, Debounce: 100 * time.Millisecond, MaxDelay: time.Second, Clock: fake,
	})

	// Each file arrives by one rename, so it is one event and one observation.
	add := func(i int) string {
		dst := filepath.Join(conf, fmt.Sprintf("f%02d", i))
		drop(t, outside, dst)
		waitObserved(t, p, dst)
		return dst
	}
	var want []string
	for i := range 12 { // seen at 0, 90ms, …, 990ms
		want = append(want, add(i))
		select {
		case ev := <-w.Reloads():
			t.Fatalf("signal at step %d, before MaxDelay: %v", i, ev)
		default:
		}
		fake.Advance(90 * time.Millisecond)
	}
	ev := next(t, w)
	if !slices.Equal(ev.Paths, want) {
		t.Fatalf("signal lists %v, want %v", ev.Paths, want)
	}
	if at := ev.At.Sub(t0); at < time.Second || at > 1080*time.Millisecond {
		t.Fatalf("signal %s after the first event, want between 1s and 1.08s", at)
	}

	last := add(12)
	fake.Advance(100 * time.Millisecond)
	if ev := next(t, w); !slices.Equal(ev.Paths, []string{last}) {
		t.Fatalf("signal lists %v, want [%s]", ev.Paths, last)
	}
}

// TestSlowConsumerMerges: a signal nobody has taken yet absorbs the next one.
func TestSlowConsumerMerges(t *testing.T) {
	conf, outside := tempDir(t), tempDir(t)
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	fake := clock.NewFake(t0)
	w, p := startWatcher(t, Options{Dirs: []string{conf}, Debounce: 100 * time.Millisecond, Clock: fake})

	a, b := filepath.Join(conf, "a.json"), filepath.Join(conf, "b.json")
	for _, f := range []string{b, a} {
		drop(t, outside, f)
		waitObserved(t, p, f)
		fake.Advance(100 * time.Millisecond)
		select {
		case <-p.sent:
		case <-time.After(deadline):
			t.Fatalf("no signal sent for %s", f)
		}
	}
	ev := next(t, w)
	if want := []string{a, b}; !slices.Equal(ev.Paths, want) {
		t.Fatalf("merged signal lists %v, want %v", ev.Paths, want)
	}
	if want := t0.Add(200 * time.Millisecond); !ev.At.Equal(want) {
		t.Fatalf("merged signal at %s, want the later one, %s", ev.At, want)
	}
	if len(w.Reloads()) != 0 {
		t.Fatal("a second signal is waiting")
	}
}

func TestNewSubdirectories(t *testing.T) {
	base := tempDir(t)
	scripts := filepath.Join(base, "scripts")
	mkdir(t, filepath.Join(scripts, "existing"))
	w, p := startWatcher(t, Options{Dirs: []string{scripts}})

	// A file in a subdirectory that existed at Start.
	old := filepath.Join(scripts, "existing", "old.js")
	write(t, old, "1")
	waitFor(t, w, old)

	// mkdir -p: each level is either reported by its parent's watch or
	// listed when the parent is walked. Events arrive in order, so once the
	// marker, made afterwards, is seen, every level has been handled.
	lib := filepath.Join(scripts, "lib")
	mkdir(t, filepath.Join(lib, "deep", "er"))
	marker := filepath.Join(scripts, "marker")
	write(t, marker, "x")
	waitObserved(t, p, marker)
	x := filepath.Join(lib, "deep", "er", "x.js")
	write(t, x, "logger.info('x')")
	waitFor(t, w, x)

	// A whole tree moved in, then renamed inside the watched tree.
	outside := filepath.Join(base, "pkg")
	mkdir(t, filepath.Join(outside, "sub"))
	write(t, filepath.Join(outside, "sub", "y.js"), "1")
	pkg := filepath.Join(scripts, "pkg")
	rename(t, outside, pkg)
	waitFor(t, w, pkg)
	y := filepath.Join(pkg, "sub", "y.js")
	write(t, y, "2")
	waitFor(t, w, y)

	pkg2 := filepath.Join(scripts, "pkg2")
	rename(t, pkg, pkg2)
	waitFor(t, w, pkg2)
	y2 := filepath.Join(pkg2, "sub", "y.js")
	write(t, y2, "3")
	waitFor(t, w, y2)
	quiet(t, w, scripts, old, lib, filepath.Join(lib, "deep"), filepath.Join(lib, "deep", "er"), marker, x, pkg, y, pkg2, y2)
}

func TestGitDirectorySkipped(t *testing.T) {
	conf := tempDir(t)
	objects := filepath.Join(conf, ".git", "objects")
	mkdir(t, objects)
	w, _ := startWatcher(t, Options{Dirs: []string{conf}})

	write(t, filepath.Join(objects, "ab"), "blob")
	quiet(t, w, conf)
}

// TestSymlinkFlipKubernetes: the watched path is a symlink to a symlink,
// conf -> dir/..data -> ..2026_rev1, and ..data is flipped by renaming a new
// symlink over it.
func TestSymlinkFlipKubernetes(t *testing.T) {
	base := tempDir(t)
	dir := filepath.Join(base, "dir")
	rev1, rev2 := filepath.Join(dir, "..2026_rev1"), filepath.Join(dir, "..2026_rev2")
	mkdir(t, rev1)
	write(t, filepath.Join(rev1, "schedule-a.json"), "{}")
	data := filepath.Join(dir, "..data")
	symlink(t, "..2026_rev1", data)
	conf := filepath.Join(base, "conf")
	symlink(t, filepath.Join("dir", "..data"), conf)
	w, _ := startWatcher(t, Options{Dirs: []string{conf}})

	// Writes inside the current target are seen.
	a1 := filepath.Join(rev1, "schedule-a.json")
	write(t, a1, `{"n": 1}`)
	waitFor(t, w, a1)

	// Preparing the new revision beside the old one signals nothing; the
	// flip signals.
	mkdir(t, rev2)
	a2 := filepath.Join(rev2, "schedule-a.json")
	write(t, a2, `{"n": 2}`)
	flip(t, "..2026_rev2", data)
	_, got := waitFor(t, w, data)
	only(t, got, a1, data)

	// The watches moved to the new target…
	write(t, a2, `{"n": 3}`)
	_, got = waitFor(t, w, a2)
	only(t, got, a1, a2)
	// …and off the old one, which the kubelet now deletes.
	write(t, a1, `{"n": 4}`)
	if err := os.RemoveAll(rev1); err != nil {
		t.Fatal(err)
	}
	quiet(t, w, rev2, a2)

	// Flipping the outer link works the same way.
	rev3 := filepath.Join(base, "rev3")
	mkdir(t, rev3)
	flip(t, "rev3", conf)
	waitFor(t, w, conf)
	a3 := filepath.Join(rev3, "a.json")
	write(t, a3, "{}")
	waitFor(t, w, a3)
	quiet(t, w, rev3, a2, conf, a3)
}

// TestSymlinkFlipConfigMapVolume: the watched directory is a ConfigMap volume
// itself: it holds ..data -> ..rev and, per key, file -> ..data/file.
func TestSymlinkFlipConfigMapVolume(t *testing.T) {
	conf := tempDir(t)
	rev1, rev2 := filepath.Join(conf, "..2026_rev1"), filepath.Join(conf, "..2026_rev2")
	mkdir(t, rev1)
	write(t, filepath.Join(rev1, "schedule-a.json"), "{}")
	data := filepath.Join(conf, "..data")
	symlink(t, "..2026_rev1", data)
	symlink(t, filepath.Join("..data", "schedule-a.json"), filepath.Join(conf, "schedule-a.json"))
	w, _ := startWatcher(t, Options{Dirs: []string{conf}})

	mkdir(t, rev2)
	write(t, filepath.Join(rev2, "schedule-a.json"), `{"n": 2}`)
	flip(t, "..2026_rev2", data)
	waitFor(t, w, data)
	if err := os.RemoveAll(rev1); err != nil {
		t.Fatal(err)
	}
	_, got := waitFor(t, w, rev1)
	allowed := []string{rev2, filepath.Join(rev2, "schedule-a.json"), data, data + ".tmp", rev1, filepath.Join(rev1, "schedule-a.json")}
	only(t, got, allowed...)
	quiet(t, w, conf, allowed...)
}

// TestSymlinkFlipGitSync: a symlink in the middle of the watched path, as
// with --conf /git/link/conf where git-sync flips link to a new worktree.
// The link holds an absolute target.
func TestSymlinkFlipGitSync(t *testing.T) {
	base := tempDir(t)
	for _, rev := range []string{"rev1", "rev2"} {
		mkdir(t, filepath.Join(base, "worktrees", rev, "conf"))
		write(t, filepath.Join(base, "worktrees", rev, "conf", "schedule-a.json"), "{}")
	}
	link := filepath.Join(base, "link")
	symlink(t, filepath.Join(base, "worktrees", "rev1"), link)
	w, _ := startWatcher(t, Options{Dirs: []string{filepath.Join(link, "conf")}})

	flip(t, filepath.Join(base, "worktrees", "rev2"), link)
	_, got := waitFor(t, w, link)
	only(t, got, link)
	a2 := filepath.Join(base, "worktrees", "rev2", "conf", "schedule-a.json")
	write(t, a2, `{"n": 2}`)
	waitFor(t, w, a2)
	write(t, filepath.Join(base, "worktrees", "rev1", "conf", "schedule-a.json"), `{"n": 3}`)
	quiet(t, w, filepath.Join(base, "worktrees", "rev2", "conf"), a2)
}

// TestRemovedAndRecreated: the watched directory, then its parent too, are
// removed and made again; the watcher follows.
func TestRemovedAndRecreated(t *testing.T) {
	base := tempDir(t)
	parent := filepath.Join(base, "x")
	conf := filepath.Join(parent, "conf")
	mkdir(t, conf)
	write(t, filepath.Join(conf, "schedule-a.json"), "{}")
	logs := &syncbuf.Buffer{}
	w, p := startWatcher(t, Options{
		Dirs:   []string{conf},
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})

	if err := os.RemoveAll(conf); err != nil {
		t.Fatal(err)
	}
	waitObserved(t, p, conf) // handled: the watcher now waits for conf to come back
	waitFor(t, w, conf)
	if !strings.Contains(logs.String(), "level=WARN msg=\"watched directory is gone") {
		t.Errorf("no warning logged for the missing directory:\n%s", logs)
	}
	mkdir(t, conf)
	waitObserved(t, p, conf) // handled: conf is watched again
	a := filepath.Join(conf, "schedule-a.json")
	write(t, a, "{}")
	waitFor(t, w, a)

	// Now the parent goes too, and comes back one level at a time.
	if err := os.RemoveAll(conf); err != nil {
		t.Fatal(err)
	}
	waitObserved(t, p, conf) // handled: x now holds the watch for conf
	if err := os.RemoveAll(parent); err != nil {
		t.Fatal(err)
	}
	waitObserved(t, p, parent) // handled: base now holds the watch for x
	mkdir(t, parent)
	waitObserved(t, p, parent)
	mkdir(t, conf)
	waitObserved(t, p, conf)
	b := filepath.Join(conf, "schedule-b.json")
	write(t, b, "{}")
	waitFor(t, w, b)
	quiet(t, w, conf, parent, conf, a, b)
}

// TestMissingAtStartRetries: a directory missing at Start is not an error; the
// watcher warns, retries with backoff, and picks it up when it appears.
func TestMissingAtStartRetries(t *testing.T) {
	base := tempDir(t)
	conf := filepath.Join(base, "conf")
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	fake := clock.NewFake(t0)
	logs := &syncbuf.Buffer{}
	w, p := startWatcher(t, Options{
		Dirs: []string{conf}, Debounce: 100 * time.Millisecond, Clock: fake,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	if d, ok := fake.NextDeadline(); !ok || !d.Equal(t0.Add(time.Second)) {
		t.Fatalf("retry armed for %v (%v), want %s", d, ok, t0.Add(time.Second))
	}
	changed := fake.Changed()
	fake.Advance(time.Second)
	// The retry finds nothing and backs off to 2s.
	want := t0.Add(3 * time.Second)
	for d, _ := fake.NextDeadline(); !d.Equal(want); d, _ = fake.NextDeadline() {
		select {
		case <-changed:
			changed = fake.Changed()
		case <-time.After(deadline):
			t.Fatalf("retry not re-armed for %s; next deadline %s", want, d)
		}
	}
	if !strings.Contains(logs.String(), "watched directory is still missing") {
		t.Errorf("no warning logged for the retry:\n%s", logs)
	}

	mkdir(t, conf)
	waitObserved(t, p, conf)
	// Only the debounce timer is left: the retry is disarmed.
	if n := fake.Timers(); n != 1 {
		t.Fatalf("%d timers armed, want 1 (the debounce)", n)
	}
	fake.Advance(100 * time.Millisecond)
	if ev := next(t, w); !slices.Equal(ev.Paths, []string{conf}) {
		t.Fatalf("signal lists %v, want [%s]", ev.Paths, conf)
	}
	a := filepath.Join(conf, "a.json")
	drop(t, base, a)
	waitObserved(t, p, a)
	fake.Advance(100 * time.Millisecond)
	waitFor(t, w, a)
}

// TestOverlappingDirs: conf and scripts side by side, both through the same
// git-sync link, flipped once.
func TestOverlappingDirs(t *testing.T) {
	base := tempDir(t)
	for _, rev := range []string{"rev1", "rev2"} {
		mkdir(t, filepath.Join(base, rev, "conf"))
		mkdir(t, filepath.Join(base, rev, "scripts", "lib"))
	}
	link := filepath.Join(base, "link")
	symlink(t, "rev1", link)
	w, _ := startWatcher(t, Options{Dirs: []string{filepath.Join(link, "conf"), filepath.Join(link, "scripts")}})

	flip(t, "rev2", link)
	_, got := waitFor(t, w, link)
	only(t, got, link)
	allowed := []string{link}
	for _, f := range []string{filepath.Join("conf", "a.json"), filepath.Join("scripts", "lib", "x.js")} {
		path := filepath.Join(base, "rev2", f)
		write(t, path, "1")
		waitFor(t, w, path)
		allowed = append(allowed, path)
	}
	quiet(t, w, filepath.Join(base, "rev2", "scripts"), allowed...)
}

func TestMergeAndCap(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	got := merge(Event{Paths: []string{"b", "c"}, At: t0}, Event{Paths: []string{"a", "b"}, At: t0.Add(time.Second)})
	if want := []string{"a", "b", "c"}; !slices.Equal(got.Paths, want) || got.Omitted != 0 || !got.At.Equal(t0.Add(time.Second)) {
		t.Fatalf("merge = %+v, want paths %v at the later time", got, want)
	}

	var many []string
	for i := range MaxEventPaths + 20 {
		many = append(many, fmt.Sprintf("p%03d", i))
	}
	slices.Reverse(many)
	paths, omitted := capPaths(slices.Clone(many))
	if len(paths) != MaxEventPaths || omitted != 20 || paths[0] != "p000" {
		t.Fatalf("capPaths kept %d (first %s), omitted %d; want %d from p000, 20 omitted", len(paths), paths[0], omitted, MaxEventPaths)
	}
	got = merge(Event{Paths: paths, Omitted: omitted}, Event{Paths: []string{"zz"}, Omitted: 3})
	if len(got.Paths) != MaxEventPaths || got.Omitted != 24 {
		t.Fatalf("merge of capped events kept %d, omitted %d; want %d, 24", len(got.Paths), got.Omitted, MaxEventPaths)
	}
}

// TestPing: the watcher's goroutine answers while it runs, and Ping says
// ErrStopped before Start and after Stop.
func TestPing(t *testing.T) {
	dir := tempDir(t)
	w, _ := newWatcher(t, Options{Dirs: []string{dir}})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if err := w.Ping(ctx); !errors.Is(err, ErrStopped) {
		t.Errorf("Ping before Start = %v, want ErrStopped", err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := w.Ping(ctx); err != nil {
		t.Errorf("Ping while running = %v, want nil", err)
	}
	if err := w.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := w.Ping(ctx); !errors.Is(err, ErrStopped) {
		t.Errorf("Ping after Stop = %v, want ErrStopped", err)
	}
}

// TestRecreatedWithinDebounceIsOneSignal: the watched directory removed,
// made again and refilled within one quiet period makes one signal, sent
// after the last change, so the load it starts sees the final state and
// never the missing or empty directory.
func TestRecreatedWithinDebounceIsOneSignal(t *testing.T) {
	base := tempDir(t)
	conf := filepath.Join(base, "conf")
	mkdir(t, conf)
	a := filepath.Join(conf, "schedule-a.json")
	write(t, a, "{}")
	fake := clock.NewFake(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	w, p := startWatcher(t, Options{Dirs: []string{conf}, Debounce: 100 * time.Millisecond, Clock: fake})

	if err := os.RemoveAll(conf); err != nil {
		t.Fatal(err)
	}
	waitObserved(t, p, conf)
	mkdir(t, conf)
	waitObserved(t, p, conf)
	drop(t, base, a)
	waitObserved(t, p, a)
	select {
	case ev := <-w.Reloads():
		t.Fatalf("signal %v before the quiet period ended", ev.Paths)
	default:
	}
	fake.Advance(100 * time.Millisecond)
	ev := next(t, w)
	if !slices.Contains(ev.Paths, conf) || !slices.Contains(ev.Paths, a) {
		t.Errorf("signal lists %v, want %s and %s", ev.Paths, conf, a)
	}
	select {
	case ev := <-w.Reloads():
		t.Errorf("a second signal %v", ev.Paths)
	default:
	}
}

// TestMissingRetriesQuietAtMaxBackoff: a directory that never appears warns
// while the backoff grows and once more when it reaches its longest
// interval; later retries are logged at debug level only.
func TestMissingRetriesQuietAtMaxBackoff(t *testing.T) {
	conf := filepath.Join(tempDir(t), "scripts")
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	fake := clock.NewFake(t0)
	logs := &syncbuf.Buffer{}
	startWatcher(t, Options{
		Dirs: []string{conf}, Debounce: 100 * time.Millisecond, Clock: fake,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	// Retries at 1, 2, 4, 8, 16, 30, 30, 30 s after each other.
	at := t0
	for _, d := range []time.Duration{1, 2, 4, 8, 16, 30, 30, 30} {
		at = at.Add(d * time.Second)
		waitArmed(t, fake, at)
		fake.Advance(at.Sub(fake.Now()))
	}
	// The last retry ran once the next one is armed.
	want := at.Add(30 * time.Second)
	waitArmed(t, fake, want)
	var warns, debugs int
	for _, line := range strings.Split(logs.String(), "\n") {
		switch {
		case strings.Contains(line, "level=WARN") && strings.Contains(line, "still missing"):
			warns++
		case strings.Contains(line, "level=DEBUG") && strings.Contains(line, "still missing"):
			debugs++
		}
	}
	// 1 → 2, 2 → 4, 4 → 8, 8 → 16 s: four warnings while growing, one when
	// it reaches 30 s, then debug.
	if warns != 5 || debugs != 3 {
		t.Errorf("%d warnings and %d debug lines for the retries, want 5 and 3:\n%s", warns, debugs, logs)
	}
	if !strings.Contains(logs.String(), "logged at debug level from now on") {
		t.Errorf("the last warning does not say the retries go on quietly:\n%s", logs)
	}
}

// waitArmed waits until the fake clock's next deadline is at.
func waitArmed(t *testing.T, fake *clock.Fake, at time.Time) {
	t.Helper()
	changed := fake.Changed()
	for next, _ := fake.NextDeadline(); !next.Equal(at); next, _ = fake.NextDeadline() {
		select {
		case <-changed:
			changed = fake.Changed()
		case <-time.After(deadline):
			t.Fatalf("no timer armed for %s; next deadline %s", at, next)
		}
	}
}
