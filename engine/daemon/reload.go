package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync/atomic"
	"time"

	"sundial/engine/clock"
	"sundial/engine/config"
	"sundial/engine/script"
	"sundial/engine/watch"
)

// DefaultReloadTimeout is Options.ReloadTimeout's default.
const DefaultReloadTimeout = 60 * time.Second

// errReloadDeadline is why an apply past Options.ReloadTimeout is cancelled.
var errReloadDeadline = errors.New("reload deadline passed")

// maxBlockedLoads bounds the loads left behind past their deadline that
// have not returned yet (a read that never ends holds an OS thread). While
// that many are blocked no new load starts, and /healthz fails: only a
// restart frees them.
const maxBlockedLoads = 4

// Reload loads and validates the whole conf directory and applies it, and
// returns once that is done, once the load has passed its deadline
// (Options.ReloadTimeout), or when ctx ends. A file that fails keeps its
// last good version running. Reloads run one at a time on the reload loop
// that Run starts; before Run has started it, Reload waits for it.
func (d *Daemon) Reload(ctx context.Context) {
	done := make(chan struct{})
	select {
	case d.reloadReq <- done:
	case <-ctx.Done():
		return
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// attemptPhase is where one reload attempt is.
type attemptPhase int32

const (
	phaseLoading   attemptPhase = iota // reading the conf directory
	phaseApplying                      // handing the snapshot to the scheduler
	phaseAbandoned                     // the load passed its deadline; its result will be dropped
)

// reloadAttempt is one load-and-apply, run on its own goroutine so that a
// read that blocks (a FIFO, a hung network file system) never blocks the
// reload loop.
type reloadAttempt struct {
	started time.Time
	// phase moves loading → applying on the attempt's goroutine, or
	// loading → abandoned on the loop at the deadline, whichever comes first.
	phase   atomic.Int32
	cancel  context.CancelFunc // cancels the apply
	waiters []chan struct{}    // Reload calls this attempt answers
}

// reloadState is what /readyz shows about the reload loop. The loop
// publishes a new one at every change; nothing else writes it.
type reloadState struct {
	// Stuck says why the newest reload is past its deadline, "" when it is not.
	Stuck      string    `json:"stuck,omitempty"`
	StuckSince time.Time `json:"stuckSince,omitzero"`
	// BlockedLoads counts loads abandoned at their deadline that have not
	// returned yet.
	BlockedLoads int `json:"blockedLoads"`
}

// reloadLoop is the goroutine that turns change signals into reloads, one at
// a time, each within Options.ReloadTimeout. Only that goroutine touches it.
type reloadLoop struct {
	d        *Daemon
	timeout  time.Duration
	timer    clock.Timer // the current attempt's deadline
	current  *reloadAttempt
	blocked  map[*reloadAttempt]bool // abandoned, not returned yet
	finished chan *reloadAttempt     // every attempt's goroutine ends by sending itself
	pending  bool                    // a change was signalled since the current attempt began
	waiters  []chan struct{}         // Reload calls for the next attempt
}

// runReloads runs the reload loop until ctx ends. It returns an error only
// when the watcher stopped on its own.
func (d *Daemon) runReloads(ctx context.Context, sighup <-chan struct{}) error {
	l := &reloadLoop{
		d:        d,
		timeout:  d.opts.ReloadTimeout,
		timer:    d.opts.Clock.NewTimer(time.Hour),
		blocked:  map[*reloadAttempt]bool{},
		finished: make(chan *reloadAttempt, maxBlockedLoads+1),
	}
	l.timer.Stop()
	defer l.timer.Stop()
	var storeBack <-chan struct{} // the store answers again: retry a reload that failed while it was away
	if d.node != nil {
		storeBack = d.node.StoreBack()
	}
	for {
		if l.pending && l.current == nil && len(l.blocked) < maxBlockedLoads {
			l.start(ctx)
		}
		select {
		case <-ctx.Done():
			l.stop()
			return nil
		case ev, ok := <-d.watcher.Reloads():
			if !ok {
				if ctx.Err() != nil {
					// The watcher shares ctx: it closed for the same stop.
					l.stop()
					return nil
				}
				return errors.New("configuration watcher stopped")
			}
			d.log.Debug("configuration changed", "paths", ev.Paths)
			l.pending = true
		case <-sighup:
			d.log.Info("reload requested")
			l.pending = true
		case <-storeBack:
			l.pending = true
		case done := <-d.reloadReq:
			l.pending = true
			l.waiters = append(l.waiters, done)
		case a := <-l.finished:
			l.finishedAttempt(a)
		case <-l.timer.C():
			l.deadline()
		case p := <-d.reloadPings:
			p <- len(l.blocked) < maxBlockedLoads
		}
	}
}

// stop ends the loop's work when the daemon stops: a load in progress is
// abandoned; an apply is waited for (it ends at its deadline at the latest),
// so that the scheduler stops after the last reconcile, not during it.
func (l *reloadLoop) stop() {
	waiters := l.waiters
	if a := l.current; a != nil {
		waiters = append(waiters, a.waiters...)
		if !a.phase.CompareAndSwap(int32(phaseLoading), int32(phaseAbandoned)) {
			for done := range l.finished {
				if done == a {
					break
				}
			}
		}
	}
	for _, w := range waiters {
		close(w)
	}
}

// start begins an attempt on its own goroutine.
func (l *reloadLoop) start(ctx context.Context) {
	d := l.d
	// The apply ends at its deadline, not at the stop: a reconcile cut
	// short half-way helps nobody, and the stop waits for it (stopWait).
	actx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	a := &reloadAttempt{started: d.opts.Clock.Now(), cancel: func() { cancel(errReloadDeadline) }, waiters: l.waiters}
	l.current, l.pending, l.waiters = a, false, nil
	l.timer.Reset(l.timeout)
	go func() {
		defer func() { l.finished <- a }()
		defer cancel(nil)
		next, err := d.load(config.LoadOptions{Previous: d.current.Load()})
		if !a.phase.CompareAndSwap(int32(phaseLoading), int32(phaseApplying)) {
			return // abandoned at its deadline: a newer attempt reads the files again
		}
		d.reload(actx, next, err, a.started)
	}()
}

// finishedAttempt handles an attempt's goroutine returning.
func (l *reloadLoop) finishedAttempt(a *reloadAttempt) {
	d := l.d
	if a == l.current {
		l.timer.Stop()
		l.current = nil
		for _, w := range a.waiters {
			close(w)
		}
		was := d.reloading.Load()
		l.publish("", time.Time{})
		if was.Stuck != "" {
			// Readiness comes back with this; say so, as the stuck reload
			// was (after publishing, so that a reader of the line sees it).
			d.log.Info("a fresh configuration load finished: reloads are no longer stuck",
				"stuck_since", was.StuckSince, "still_blocked", len(l.blocked))
		}
		return
	}
	delete(l.blocked, a)
	d.log.Warn("a configuration load that had passed its deadline returned; its result was dropped and the directory is read again",
		"took", d.opts.Clock.Now().Sub(a.started).Round(time.Millisecond), "still_blocked", len(l.blocked))
	l.pending = true
	l.publishKeep()
}

// deadline handles the current attempt passing Options.ReloadTimeout: a
// load is abandoned (the next signal, or its return, starts a fresh one); an
// apply is cancelled and waited for.
func (l *reloadLoop) deadline() {
	a, d := l.current, l.d
	if a == nil {
		return // a stale tick
	}
	if left := l.timeout - d.opts.Clock.Now().Sub(a.started); left > 0 {
		l.timer.Reset(left) // a stale tick from an earlier attempt
		return
	}
	if a.phase.CompareAndSwap(int32(phaseLoading), int32(phaseAbandoned)) {
		l.blocked[a] = true
		l.current = nil
		for _, w := range a.waiters {
			close(w)
		}
		msg := fmt.Sprintf("configuration load still reading after %s; the last applied version keeps running", l.timeout)
		d.log.Error(msg+"; the next change or SIGHUP starts a fresh load",
			"dir", d.opts.ConfDir, "timeout", l.timeout, "blocked_loads", len(l.blocked))
		if len(l.blocked) >= maxBlockedLoads {
			d.log.Error("configuration loads blocked: no new load starts until one returns; restart the process",
				"blocked_loads", len(l.blocked))
		}
		l.publish(msg, a.started)
		return
	}
	a.cancel()
	msg := fmt.Sprintf("configuration apply still running after %s; cancelled, waiting for it to return", l.timeout)
	d.log.Error(msg, "dir", d.opts.ConfDir, "timeout", l.timeout)
	l.publish(msg, a.started)
}

func (l *reloadLoop) publish(stuck string, since time.Time) {
	l.d.reloading.Store(&reloadState{Stuck: stuck, StuckSince: since, BlockedLoads: len(l.blocked)})
}

// publishKeep publishes a new blocked-load count, keeping what is stuck.
func (l *reloadLoop) publishKeep() {
	st := *l.d.reloading.Load()
	st.BlockedLoads = len(l.blocked)
	l.d.reloading.Store(&st)
}

// load reads the conf directory with the daemon's load function.
func (d *Daemon) load(opts config.LoadOptions) (*config.Desired, error) {
	opts.ScriptsDir, opts.Logger = d.opts.ScriptsDir, d.log
	// A script that does not compile makes its schedule invalid, so that
	// the last good version keeps running instead of failing every run.
	opts.CheckScript = script.Check
	return d.opts.Load(d.opts.ConfDir, opts)
}

// loadFirst is the load at start, within Options.ReloadTimeout: a conf
// directory that cannot be read in time fails the start.
func (d *Daemon) loadFirst() (*config.Desired, error) {
	type result struct {
		desired *config.Desired
		err     error
	}
	ch := make(chan result, 1)
	go func() {
		desired, err := d.load(config.LoadOptions{})
		ch <- result{desired, err}
	}()
	t := d.opts.Clock.NewTimer(d.opts.ReloadTimeout)
	defer t.Stop()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("load configuration: %w", r.err)
		}
		d.conf.loaded(d.opts.ConfDir)
		return r.desired, nil
	case <-t.C():
		return nil, fmt.Errorf("load configuration: %s still being read after %s (a FIFO or a hung file system?)",
			d.opts.ConfDir, d.opts.ReloadTimeout)
	}
}

// reload applies what one attempt loaded, or reports why it did not.
func (d *Daemon) reload(ctx context.Context, next *config.Desired, err error, started time.Time) {
	switch {
	case err != nil && errors.Is(err, fs.ErrNotExist) && !dirExists(d.opts.ConfDir):
		d.conf.missing = true
		d.reloadFailed(ctx, slog.LevelWarn, "", "conf directory is missing: the last applied version keeps running until it is back", err)
		return
	case err != nil:
		d.reloadFailed(ctx, slog.LevelError, "", "configuration not reloaded: the last applied version keeps running", err)
		return
	case d.conf.recreatedEmpty(d.opts.ConfDir, d.current.Load(), next):
		d.reloadFailed(ctx, slog.LevelWarn, next.Hash, "conf directory was replaced by an empty one: not applied, the last applied version keeps running until files appear in it",
			fmt.Errorf("%s: recreated empty", d.opts.ConfDir))
		return
	}
	d.conf.loaded(d.opts.ConfDir)
	d.apply(ctx, next)
	d.reloadTime.Observe(d.opts.Clock.Now().Sub(started).Seconds())
}

// apply hands a snapshot to the scheduler, unless nothing changed.
func (d *Daemon) apply(ctx context.Context, next *config.Desired) {
	prev := d.current.Load()
	errs := next.AllErrors()
	status := &reloadStatus{At: d.opts.Clock.Now(), Hash: next.Hash}
	for _, e := range errs {
		status.Errors = append(status.Errors, e.Error())
	}
	d.configErrors.Set(float64(len(next.Errors)))
	d.logProblems(prev, next, errs)
	d.setClients(ctx, next)
	d.systems.Apply(next)
	result := "applied"
	if len(errs) > 0 {
		result = "invalid"
	}
	if prev != nil && prev.Hash == next.Hash && !d.rest.unapplied.Load() {
		// Nothing to reconcile; a file that failed is still an invalid reload
		// even though its last good version leaves the snapshot unchanged.
		if result == "applied" {
			result = "unchanged"
		}
		d.reloads.WithLabelValues(result).Inc()
		d.current.Store(next)
		d.applied.Store(status)
		d.notifyApplied(next.Hash, result)
		return
	}
	// The scheduler gets the files merged with the schedules created over
	// REST; the lock keeps a REST change from applying in between.
	d.rest.applyMu.Lock()
	if len(d.rest.stale) > 0 || d.rest.staleAll {
		if err := d.readStoredLocked(ctx, []string{}, next.Scheduler.Location); err != nil {
			d.log.Error("REST schedules changed by another node still not read", "err", err)
		}
	}
	d.warnShadowed(next)
	res, err := d.sched.Reconcile(ctx, d.rest.merged(next))
	if err != nil {
		d.rest.applyMu.Unlock()
		d.reloadFailed(ctx, slog.LevelError, next.Hash, "configuration not applied: the last applied version keeps running", err)
		return
	}
	for id, e := range res.Errors {
		d.log.Error("schedule not applied", "schedule", id, "err", e)
	}
	d.rest.reconciled()
	d.setScripts(next) // only now: a failed apply must not half-apply new properties
	d.current.Store(next)
	d.rest.applyMu.Unlock()
	d.applied.Store(status)
	d.reloads.WithLabelValues(result).Inc()
	d.log.Info("configuration applied", "hash", shortHash(next.Hash), "added", res.Added, "changed", res.Changed,
		"removed", res.Removed, "unchanged", res.Unchanged, "invalid_files", len(next.Errors))
	// Loading a directory leaves garbage several times the snapshot's size
	// (about 17 KB a file); return it to the OS now rather than holding
	// twice the live heap until the next GC cycle decides to.
	debug.FreeOSMemory()
	d.notifyApplied(next.Hash, result)
}

// notifyApplied calls Options.OnApplied, if set.
func (d *Daemon) notifyApplied(hash, result string) {
	d.recordReload(hash, result)
	if d.opts.OnApplied != nil {
		d.opts.OnApplied(hash, result)
	}
}

// logProblems logs the invalid files and warnings of next: new ones at error
// and warn, ones the previous reload already reported at debug.
func (d *Daemon) logProblems(prev, next *config.Desired, errs []error) {
	seen := map[string]bool{}
	if st := d.applied.Load(); st != nil {
		for _, e := range st.Errors {
			seen[e] = true
		}
	}
	if prev != nil {
		for _, w := range prev.AllWarnings() {
			seen[w.Error()] = true
		}
	}
	outcome := "left out"
	if prev != nil {
		outcome = "its last good version keeps running"
	}
	for _, e := range errs {
		if msg := e.Error(); seen[msg] {
			d.log.Debug("configuration file still invalid", "err", msg)
		} else {
			d.log.Error("invalid configuration file: "+outcome, "err", msg)
		}
	}
	for _, w := range next.AllWarnings() {
		if msg := w.Error(); !seen[msg] {
			d.log.Warn("configuration warning", "warning", msg)
		}
	}
}

// reloadFailed records and reports, at level, a reload that could not be
// applied. One cut short by the daemon stopping is only logged at debug: it
// is no fault.
func (d *Daemon) reloadFailed(ctx context.Context, level slog.Level, hash, msg string, err error) {
	if cause := context.Cause(ctx); cause != nil && errors.Is(err, ctx.Err()) {
		if !errors.Is(cause, errReloadDeadline) {
			d.log.Debug("reload interrupted by the stop", "err", err)
			return
		}
		err = fmt.Errorf("%w after %s: %w", cause, d.opts.ReloadTimeout, err)
	}
	d.reloads.WithLabelValues("failed").Inc()
	d.log.Log(ctx, level, msg, "err", err)
	st := reloadStatus{At: d.opts.Clock.Now(), Failed: msg + ": " + err.Error()}
	if cur := d.applied.Load(); cur != nil {
		st.Hash, st.Errors = cur.Hash, cur.Errors
	}
	d.applied.Store(&st)
	d.notifyApplied(hash, "failed")
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// confDirState is what the reloads know about the conf directory itself, to
// tell a directory emptied on purpose (its files deleted: applied) from one
// removed and made again (`rm -rf conf && mkdir conf && cp saved/* conf/`),
// caught empty before its files are back (held). It is written at the start
// and then only by the attempt that applies, one at a time.
type confDirState struct {
	resolved string      // the directory the conf path led to at the last load
	info     os.FileInfo // its identity then
	missing  bool        // a reload found it missing since the last load
}

// loaded records the conf directory that a load just read.
func (c *confDirState) loaded(dir string) {
	c.missing = false
	c.resolved, c.info = "", nil
	if resolved, err := filepath.EvalSymlinks(dir); err == nil {
		if fi, err := os.Stat(resolved); err == nil {
			c.resolved, c.info = resolved, fi
		}
	}
}

// recreatedEmpty reports whether next should be held back: the conf
// directory holds no file at all, the applied snapshot has schedules, and
// the directory is not the one last loaded (it went missing, or a new
// directory took its place at the same path). A symlink flip to another
// directory is not a re-creation: that empty directory is what was meant.
func (c *confDirState) recreatedEmpty(dir string, prev, next *config.Desired) bool {
	if prev == nil || len(prev.Schedules) == 0 || len(next.Schedules) > 0 || len(next.Errors) > 0 {
		return false
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) > 0 {
		return false
	}
	if c.missing {
		return true
	}
	resolved, err := filepath.EvalSymlinks(dir)
	if err != nil || resolved != c.resolved || c.info == nil {
		return false
	}
	fi, err := os.Stat(resolved)
	return err == nil && !os.SameFile(fi, c.info)
}

func dirExists(dir string) bool {
	fi, err := os.Stat(dir)
	return err == nil && fi.IsDir()
}

// startWatcher watches the conf and scripts directories.
func (d *Daemon) startWatcher(ctx context.Context) error {
	w, err := watch.New(watch.Options{
		Dirs:     []string{d.opts.ConfDir, d.opts.ScriptsDir},
		Debounce: d.opts.Debounce,
		Logger:   d.log,
		Clock:    d.opts.Clock,
	})
	if err != nil {
		return fmt.Errorf("watch configuration: %w", err)
	}
	if err := w.Start(ctx); err != nil {
		return fmt.Errorf("watch configuration: %w", err)
	}
	d.watcher = w
	return nil
}
