package watch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"sundial/engine/clock"
)

// Defaults for Options.
const (
	DefaultDebounce = 100 * time.Millisecond
	DefaultMaxDelay = time.Second
)

// MaxEventPaths bounds Event.Paths, so a signal stays a small log line even
// after a checkout that touched thousands of files.
const MaxEventPaths = 100

// Retry backoff for a watched directory that is missing and whose return no
// event can report (its parent is gone too, or could not be watched).
const (
	initialRetry = time.Second
	maxRetry     = 30 * time.Second
)

// maxSettle bounds how often one resolution is redone because the path
// changed while its watches were being set up.
const maxSettle = 4

// Errors returned by Start.
var (
	ErrStarted = errors.New("watch: already started")
	ErrStopped = errors.New("watch: stopped")
)

// Options configure a Watcher.
type Options struct {
	// Dirs are the directories to watch, recursively: the conf directory and
	// the scripts directory. Each may be, or pass through, symlinks. Relative
	// paths are made absolute by New.
	Dirs []string
	// Debounce is the quiet period that ends a burst of events. Zero means
	// DefaultDebounce.
	Debounce time.Duration
	// MaxDelay caps how long a burst can hold back its signal, so a trickle of
	// events that never pauses for Debounce still signals at least every
	// MaxDelay. Zero means DefaultMaxDelay; a value below Debounce is raised
	// to Debounce.
	MaxDelay time.Duration
	// Logger receives warnings (a watched directory missing) and debug
	// details. Nil discards them.
	Logger *slog.Logger
	// Clock times the debounce and the retries. Nil means clock.Real{}.
	Clock clock.Clock
}

// Event is one "reload now" signal.
type Event struct {
	// Paths are the changed paths behind the signal, sorted, at most
	// MaxEventPaths, for logging. For a symlink flip it is the link's path.
	Paths []string
	// Omitted counts changed paths left out of Paths (approximately, when
	// signals merged).
	Omitted int
	// At is when the signal was sent, on the watcher's clock.
	At time.Time
}

// Watcher turns file-system events under Options.Dirs into debounced reload
// signals. Create it with New, then Start it; a Watcher runs once.
type Watcher struct {
	dirs     []string
	debounce time.Duration
	maxDelay time.Duration
	log      *slog.Logger
	clock    clock.Clock

	out     chan Event
	started chan struct{}      // closed once Start has set up the watches
	done    chan struct{}      // closed when the watcher has stopped for good
	pings   chan chan struct{} // Ping's requests, answered by the run goroutine

	// observed and sent, when a test sets them before Start, are called by
	// the run goroutine: observed with each change once it is fully handled
	// (watches updated, timers armed), sent with each signal once it is on the
	// channel. Tests wait on them instead of on time; unset, they cost a nil
	// check.
	observed func(path string)
	sent     func(Event)

	mu       sync.Mutex // guards phase and cancel
	phase    phase
	cancel   context.CancelFunc
	closeErr error // written by the run goroutine before done is closed
}

type phase int

const (
	phaseNew phase = iota
	phaseRunning
	phaseStopped
)

// New checks opts and returns a Watcher that is not yet watching.
func New(opts Options) (*Watcher, error) {
	if len(opts.Dirs) == 0 {
		return nil, errors.New("new watcher: no directories to watch")
	}
	if opts.Debounce < 0 {
		return nil, fmt.Errorf("new watcher: negative debounce %s", opts.Debounce)
	}
	if opts.MaxDelay < 0 {
		return nil, fmt.Errorf("new watcher: negative max delay %s", opts.MaxDelay)
	}
	w := &Watcher{
		debounce: opts.Debounce,
		maxDelay: opts.MaxDelay,
		log:      opts.Logger,
		clock:    opts.Clock,
		out:      make(chan Event, 1),
		started:  make(chan struct{}),
		done:     make(chan struct{}),
		pings:    make(chan chan struct{}),
	}
	for _, d := range opts.Dirs {
		if d == "" {
			return nil, errors.New("new watcher: empty directory name")
		}
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, fmt.Errorf("new watcher: %w", err)
		}
		w.dirs = append(w.dirs, abs)
	}
	if w.debounce == 0 {
		w.debounce = DefaultDebounce
	}
	if w.maxDelay == 0 {
		w.maxDelay = DefaultMaxDelay
	}
	if w.maxDelay < w.debounce {
		w.maxDelay = w.debounce
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.clock == nil {
		w.clock = clock.Real{}
	}
	return w, nil
}

// Start sets up the watches and returns once they are in place: a change made
// after Start returns is signalled. No signal is sent for the state found at
// Start, so load the configuration once after Start returns, not before, or a
// change in between could go unseen.
//
// A directory that does not exist is not an error: it is logged at warn and
// watched as soon as it appears. Start fails if fsnotify cannot be set up or a
// directory that exists cannot be watched, for example when the inotify watch
// limit is reached (a subdirectory without permission is only logged); the
// Watcher is then stopped.
//
// The watcher runs until ctx is done or Stop is called. Start returns
// ErrStarted when called twice and ErrStopped after Stop.
func (w *Watcher) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start watch: %w", err)
	}
	w.mu.Lock()
	switch w.phase {
	case phaseRunning:
		w.mu.Unlock()
		return ErrStarted
	case phaseStopped:
		w.mu.Unlock()
		return ErrStopped
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		w.phase = phaseStopped
		close(w.out)
		close(w.done)
		w.mu.Unlock()
		return fmt.Errorf("start watch: %w", err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	w.phase, w.cancel = phaseRunning, cancel
	w.mu.Unlock()

	ready := make(chan error, 1)
	go w.run(runCtx, fsw, ready)
	if err := <-ready; err != nil {
		w.mu.Lock()
		w.phase = phaseStopped
		w.mu.Unlock()
		cancel()
		<-w.done
		return err
	}
	return nil
}

// Started returns a channel closed once Start has set up the watches. It is
// never closed if Start fails or is never called.
func (w *Watcher) Started() <-chan struct{} { return w.started }

// Reloads returns the channel of reload signals. The contract:
//
//   - Every create, write, remove or rename under the watched directories
//     that the watcher sees after Start returns is followed by a signal sent
//     after it was seen, so a load begun on receipt sees that change or a
//     later state. Chmod-only events are ignored.
//   - Events closer together than Debounce form one burst and make one
//     signal, sent Debounce after the burst's last event or MaxDelay after its
//     first, whichever comes sooner.
//   - The channel holds one signal. If the previous signal is still unreceived
//     when the next is due, the two merge into one (Paths united, At the
//     later), so a slow consumer finds at most one signal waiting and the
//     watcher never blocks on it.
//   - The channel is closed when the watcher stops.
func (w *Watcher) Reloads() <-chan Event { return w.out }

// Ping returns nil once the watcher's goroutine has answered: it is not
// stuck. It returns ErrStopped when the watcher is not running, and ctx's
// error when no answer came before ctx ended.
func (w *Watcher) Ping(ctx context.Context) error {
	select {
	case <-w.started:
	default:
		return ErrStopped
	}
	answer := make(chan struct{})
	select {
	case w.pings <- answer:
	case <-w.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-answer:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stop stops watching, drops any signal still being debounced and closes the
// Reloads channel. It waits for the watcher's goroutine to exit. It is
// idempotent and safe to call before Start (Start then returns ErrStopped).
func (w *Watcher) Stop() error {
	w.mu.Lock()
	switch w.phase {
	case phaseNew:
		w.phase = phaseStopped
		close(w.out)
		close(w.done)
	case phaseRunning:
		w.phase = phaseStopped
		w.cancel()
	}
	w.mu.Unlock()
	<-w.done
	return w.closeErr
}

// run is the watcher's goroutine. It creates and alone owns the runState: all
// mutable watching and debouncing state lives there and is touched by no
// other goroutine, so it needs no lock.
func (w *Watcher) run(ctx context.Context, fsw *fsnotify.Watcher, ready chan<- error) {
	s := &runState{
		w:          w,
		fsw:        fsw,
		log:        w.log,
		watched:    map[string]fs.FileInfo{},
		pending:    map[string]struct{}{},
		debounce:   w.clock.NewTimer(time.Hour),
		retry:      w.clock.NewTimer(time.Hour),
		retryDelay: initialRetry,
	}
	s.debounce.Stop()
	s.retry.Stop()
	defer func() {
		s.debounce.Stop()
		s.retry.Stop()
		if err := fsw.Close(); err != nil {
			w.closeErr = fmt.Errorf("stop watch: %w", err)
		}
		close(w.out)
		close(w.done)
	}()

	for _, d := range w.dirs {
		r := &root{path: d}
		s.roots = append(s.roots, r)
		if err := s.resolveRoot(r); err != nil {
			ready <- fmt.Errorf("start watch: %w", err)
			return
		}
	}
	s.updateRetry()
	close(w.started)
	ready <- nil

	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-fsw.Events:
			if !ok {
				return
			}
			s.handle(ev)
		case err, ok := <-fsw.Errors:
			if !ok {
				return
			}
			s.handleError(err)
		case <-s.debounce.C():
			s.fire()
		case <-s.retry.C():
			s.retryMissing()
		case answer := <-w.pings:
			close(answer)
		}
		s.updateRetry()
		if w.observed != nil {
			for _, p := range s.noted {
				w.observed(p)
			}
			s.noted = s.noted[:0]
		}
	}
}

// runState is the watcher's mutable state. Only the run goroutine creates,
// reads and writes it; nothing else holds a reference to it, so it needs no
// lock.
type runState struct {
	w     *Watcher
	fsw   *fsnotify.Watcher
	log   *slog.Logger
	roots []*root

	// watched holds the directories fsnotify watches for us, with the
	// directory's identity when the watch was added, so a directory replaced
	// under the same name is noticed and watched afresh.
	watched map[string]fs.FileInfo

	// The burst being debounced.
	pending  map[string]struct{} // changed paths
	first    time.Time           // when the burst's first change was seen
	due      time.Time           // when its signal goes out
	debounce clock.Timer
	noted    []string // changes noted this loop turn, for Watcher.observed

	// Retrying missing roots.
	retry      clock.Timer
	retryArmed bool
	retryAt    time.Time
	retryDelay time.Duration
	attempts   int
	// retriesQuiet: the retries run at maxRetry and are logged at debug.
	retriesQuiet bool
}

// root is one of Options.Dirs and where it currently leads.
type root struct {
	path    string              // as configured, absolute and clean
	target  string              // the real directory it resolves to; "" while it does not
	err     error               // why target is ""
	names   map[string]struct{} // see resolution.names
	anchors map[string]struct{} // directories holding names, watched non-recursively
	seen    bool                // resolved at least once
}

// handle processes one fsnotify event.
func (s *runState) handle(ev fsnotify.Event) {
	if !ev.Has(fsnotify.Create) && !ev.Has(fsnotify.Write) && !ev.Has(fsnotify.Remove) && !ev.Has(fsnotify.Rename) {
		return // chmod-only: no content changed
	}
	name := filepath.Clean(ev.Name)
	gone := ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename)

	// A removed or renamed-away directory takes its watches, and those of
	// everything under it, with it: drop them. Which roots lost an anchor is
	// computed first, while the anchors still say so.
	var lostAnchor map[*root]bool
	if gone {
		if _, ok := s.watched[name]; ok {
			lostAnchor = map[*root]bool{}
			for _, r := range s.roots {
				for a := range r.anchors {
					if within(a, name) {
						lostAnchor[r] = true
					}
				}
			}
			s.forget(name)
		}
	}

	relevant := false
	for _, r := range s.roots {
		_, isName := r.names[name]
		inTree := r.target != "" && within(name, r.target)
		switch {
		case isName || (inTree && name == r.target) || lostAnchor[r]:
			// A link on the way was replaced, or the directory itself (or
			// one holding a link) came or went: resolve again and move the
			// watches before the signal goes out.
			s.logErr(r, s.resolveRoot(r))
		case inTree && ev.Has(fsnotify.Create):
			// A new subdirectory (or a whole tree moved in) is watched
			// before the signal goes out, so nothing created in it is lost.
			if err := s.addTree(name); err != nil && !vanished(err) {
				s.log.Error("cannot watch new directory; changes in it will be missed", "path", name, "err", err)
			}
		}
		if isName || inTree || lostAnchor[r] {
			relevant = true
		}
	}
	if relevant {
		s.note(name)
	}
}

// handleError processes an error from fsnotify. On an overflow events were
// lost, so every root is walked again and a reload signalled.
func (s *runState) handleError(err error) {
	if !errors.Is(err, fsnotify.ErrEventOverflow) {
		s.log.Error("file-system watch error", "err", err)
		return
	}
	s.log.Warn("file-system event queue overflowed; rescanning watched directories", "err", err)
	for _, r := range s.roots {
		s.logErr(r, s.resolveRoot(r))
		s.note(r.path)
	}
}

func (s *runState) logErr(r *root, err error) {
	if err != nil {
		s.log.Error("cannot watch directory; changes in it may be missed", "dir", r.path, "err", err)
	}
}

// resolveRoot resolves r again, watches the directories holding its links
// and the whole tree it now leads to, and drops watches nothing needs any
// more. It returns an error only when a directory that exists cannot be
// watched.
func (s *runState) resolveRoot(r *root) error {
	prevTarget, wasSeen := r.target, r.seen
	var hard error
	for attempt := 1; ; attempt++ {
		hard = nil
		res := resolve(r.path)
		r.names, r.anchors = res.names, res.anchors()
		r.target, r.err = res.target, res.err
		for a := range r.anchors {
			if err := s.add(a); err != nil && !vanished(err) {
				s.log.Warn("cannot watch a directory on the way to a watched directory; a symlink flip there may be missed until the next retry",
					"dir", r.path, "holder", a, "err", err)
			}
		}
		if r.target != "" {
			if err := s.addTree(r.target); err != nil && !vanished(err) {
				hard = err
			}
		}
		// The path may have changed while its watches were being set up,
		// before they could report it: resolve again until it holds still.
		if attempt == maxSettle || resolve(r.path).same(res) {
			break
		}
	}
	if hard != nil && r.target != "" {
		if _, ok := s.watched[r.target]; !ok {
			// Not watched at all: treat it as missing, so it is retried.
			r.target, r.err = "", hard
		}
	}
	s.gc()
	r.seen = true

	switch {
	case !wasSeen && r.target != "":
		s.log.Debug("watching directory", "dir", r.path, "target", r.target)
	case !wasSeen:
		s.log.Warn("watched directory is missing; watching for it to appear", "dir", r.path, "err", r.err)
	case prevTarget != "" && r.target == "":
		s.log.Warn("watched directory is gone; watching for it to reappear", "dir", r.path, "err", r.err)
	case prevTarget == "" && r.target != "":
		s.log.Info("watched directory is back", "dir", r.path, "target", r.target)
	case prevTarget != r.target:
		s.log.Info("watched directory now resolves elsewhere", "dir", r.path, "from", prevTarget, "to", r.target)
	}
	return hard
}

// addTree watches top and every directory under it. Each directory is
// watched before it is listed, so a subdirectory created meanwhile is either
// listed or reported. It does not follow symlinks and skips ".git".
func (s *runState) addTree(top string) error {
	return filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == top {
				return err
			}
			// A subdirectory vanished or cannot be listed; its removal, if
			// that is what happened, is reported by its parent.
			s.log.Debug("skipping directory", "path", p, "err", err)
			return nil
		}
		if !d.IsDir() {
			return nil
		}
		if p != top && d.Name() == ".git" {
			return fs.SkipDir
		}
		if err := s.add(p); err != nil {
			switch {
			case p == top:
				return err
			case vanished(err):
				return fs.SkipDir
			case errors.Is(err, fs.ErrPermission):
				s.log.Warn("cannot watch subdirectory; changes in it will be missed", "path", p, "err", err)
				return fs.SkipDir
			}
			return err // out of watches, or worse: stop here and say so
		}
		return nil
	})
}

// add makes sure fsnotify watches dir, the directory now at that path.
func (s *runState) add(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if old, ok := s.watched[dir]; ok {
		if os.SameFile(old, fi) {
			return nil
		}
		// Replaced under the same name: the old watch follows the old
		// directory (or is already gone with it).
		_ = s.fsw.Remove(dir)
		delete(s.watched, dir)
	}
	if err := s.fsw.Add(dir); err != nil {
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	s.watched[dir] = fi
	return nil
}

// forget drops the watches on dir and on everything under it, after dir was
// removed or renamed away.
func (s *runState) forget(dir string) {
	for d := range s.watched {
		if within(d, dir) {
			// The error is ErrNonExistentWatch when fsnotify already dropped
			// the watch with the deleted directory; either way it is gone.
			_ = s.fsw.Remove(d)
			delete(s.watched, d)
		}
	}
}

// gc drops the watches no root needs any more: the old target after a flip,
// the holder of a link that is no longer on the way.
func (s *runState) gc() {
	for d := range s.watched {
		if !s.wanted(d) {
			_ = s.fsw.Remove(d)
			delete(s.watched, d)
		}
	}
}

func (s *runState) wanted(dir string) bool {
	for _, r := range s.roots {
		if _, ok := r.anchors[dir]; ok {
			return true
		}
		if r.target != "" && within(dir, r.target) {
			return true
		}
	}
	return false
}

// note records a change and (re)arms the debounce timer.
func (s *runState) note(path string) {
	now := s.w.clock.Now()
	if len(s.pending) == 0 {
		s.first = now
	}
	s.pending[path] = struct{}{}
	s.due = now.Add(s.w.debounce)
	if limit := s.first.Add(s.w.maxDelay); limit.Before(s.due) {
		s.due = limit
	}
	s.debounce.Reset(s.due.Sub(now))
	if s.w.observed != nil {
		s.noted = append(s.noted, path)
	}
}

// fire sends the pending burst's signal, if it is due.
func (s *runState) fire() {
	if len(s.pending) == 0 {
		return // a stale tick
	}
	now := s.w.clock.Now()
	if now.Before(s.due) {
		s.debounce.Reset(s.due.Sub(now)) // a stale tick from before the last Reset
		return
	}
	paths := make([]string, 0, len(s.pending))
	for p := range s.pending {
		paths = append(paths, p)
	}
	clear(s.pending)
	ev := Event{At: now}
	ev.Paths, ev.Omitted = capPaths(paths)
	s.send(ev)
}

// send delivers ev on the capacity-1 channel, merging it with a signal the
// consumer has not taken yet. It never blocks: this goroutine is the only
// sender, so once the buffer is found empty, or emptied, the send fits.
func (s *runState) send(ev Event) {
	select {
	case old := <-s.w.out:
		ev = merge(old, ev)
	default:
	}
	s.w.out <- ev
	if s.w.sent != nil {
		s.w.sent(ev)
	}
}

// merge folds an unreceived signal into a newer one.
func merge(old, ev Event) Event {
	paths := append(append([]string(nil), old.Paths...), ev.Paths...)
	seen := make(map[string]struct{}, len(paths))
	uniq := paths[:0]
	for _, p := range paths {
		if _, ok := seen[p]; !ok {
			seen[p] = struct{}{}
			uniq = append(uniq, p)
		}
	}
	out := Event{At: ev.At}
	var extra int
	out.Paths, extra = capPaths(uniq)
	out.Omitted = old.Omitted + ev.Omitted + extra
	return out
}

// capPaths sorts paths and keeps the first MaxEventPaths, reporting how many
// it dropped.
func capPaths(paths []string) ([]string, int) {
	sort.Strings(paths)
	if len(paths) <= MaxEventPaths {
		return paths, 0
	}
	return paths[:MaxEventPaths:MaxEventPaths], len(paths) - MaxEventPaths
}

// updateRetry arms the retry timer while a root is missing, and disarms it
// and resets the backoff once none is.
func (s *runState) updateRetry() {
	missing := false
	for _, r := range s.roots {
		if r.target == "" {
			missing = true
			break
		}
	}
	if !missing {
		if s.retryArmed {
			s.retry.Stop()
			s.retryArmed = false
		}
		s.retryDelay, s.attempts, s.retriesQuiet = initialRetry, 0, false
		return
	}
	if !s.retryArmed {
		s.retryAt = s.w.clock.Now().Add(s.retryDelay)
		s.retry.Reset(s.retryDelay)
		s.retryArmed = true
	}
}

// retryMissing resolves the missing roots again. Events normally report a
// directory's return at once; this covers what they cannot, such as a parent
// that could not be watched.
func (s *runState) retryMissing() {
	if !s.retryArmed {
		return // a stale tick
	}
	if now := s.w.clock.Now(); now.Before(s.retryAt) {
		s.retry.Reset(s.retryAt.Sub(now))
		return
	}
	s.retryArmed = false
	s.attempts++
	s.retryDelay = min(2*s.retryDelay, maxRetry)
	quiet := s.retriesQuiet
	s.retriesQuiet = s.retryDelay == maxRetry
	for _, r := range s.roots {
		if r.target != "" {
			continue
		}
		s.logErr(r, s.resolveRoot(r))
		if r.target != "" {
			s.note(r.path)
			continue
		}
		// Warn while the backoff grows; once it retries at its longest
		// interval, say so once and log further retries at debug level: a
		// directory that is never created (an unused scripts directory)
		// must not warn every half minute for ever.
		switch {
		case s.retryDelay < maxRetry:
			s.log.Warn("watched directory is still missing; retrying", "dir", r.path, "err", r.err,
				"attempt", s.attempts, "next_retry", s.retryDelay)
		case !quiet:
			s.log.Warn("watched directory is still missing; retrying every "+maxRetry.String()+", logged at debug level from now on",
				"dir", r.path, "err", r.err, "attempt", s.attempts)
		default:
			s.log.Debug("watched directory is still missing; retrying", "dir", r.path, "err", r.err,
				"attempt", s.attempts, "next_retry", s.retryDelay)
		}
	}
}
