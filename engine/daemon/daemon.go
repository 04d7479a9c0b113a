// Package daemon wires Sundial's parts into the running process that
// `sundial serve` starts: it loads the conf directory, hands each valid
// snapshot to the scheduler, reloads on file-system events and SIGHUP, runs
// the services, and serves /healthz and /metrics. It owns the reload loop;
// the scheduler owns the triggers.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"sundial/engine/clock"
	"sundial/engine/config"
	"sundial/engine/persist"
	"sundial/engine/scheduler"
	"sundial/engine/script"
	"sundial/engine/store"
	"sundial/engine/watch"
)

// Options configure a Daemon.
type Options struct {
	ConfDir    string // the conf directory (default "conf")
	ScriptsDir string // where "file" scripts are found (default "scripts")
	Listen     string // HTTP address for /healthz and /metrics; "" disables it
	NodeID     string // this node's id; default: openidm.node.id, then the host name

	// Store persists triggers and runs; nil keeps them in memory.
	Store scheduler.StateStore
	// DB, when set, keeps the persisted schedules' triggers and the runs in
	// that database, and makes the node a member of the cluster sharing it
	// (engine/persist); Store is then ignored. The daemon does not close it.
	DB store.Store
	// CheckInInterval and NodeTimeout tune the cluster membership; zero
	// takes persist.DefaultCheckInInterval and persist.DefaultNodeTimeout.
	CheckInInterval time.Duration
	NodeTimeout     time.Duration

	// Grace is how long Stop lets runs finish before cancelling them.
	Grace time.Duration
	// Debounce is the watcher's quiet period; zero takes watch.DefaultDebounce.
	Debounce time.Duration

	Logger *slog.Logger
	Clock  clock.Clock
	Stdout io.Writer // where scripts' console.log and System.out.println go

	// OnApplied, when set, is called at the end of every load (the first
	// one included) with the snapshot's hash ("" when the directory could
	// not be read) and the result counted in sundial_config_reloads_total:
	// applied, unchanged, invalid or failed. It runs on the reload path, so
	// it must be quick; tests use it to wait for a reload instead of time.
	OnApplied func(hash, result string)
}

// Daemon is one running Sundial node. Create it with New, then Run it.
type Daemon struct {
	opts     Options
	log      *slog.Logger
	registry *prometheus.Registry
	sched    *scheduler.Scheduler
	scripts  atomic.Pointer[scriptEngine]
	watcher  *watch.Watcher

	reloadMu sync.Mutex // serialises reloads (watcher, SIGHUP, API)
	current  atomic.Pointer[config.Desired]
	applied  atomic.Pointer[reloadStatus]

	configErrors prometheus.Gauge
	reloads      *prometheus.CounterVec
	reloadTime   prometheus.Histogram

	nodeID   string
	persist  *persist.Node // nil without Options.DB
	listener net.Listener
	ready    chan struct{}
}

// reloadStatus is what /healthz reports about the configuration.
type reloadStatus struct {
	At     time.Time
	Hash   string
	Errors []string // file:line:col: message
	// Failed is why the last reload could not be applied ("" when it was):
	// the directory could not be read, or the store refused the change.
	Failed string
}

// New builds a daemon; nothing runs until Run.
func New(opts Options) (*Daemon, error) {
	if opts.ConfDir == "" {
		opts.ConfDir = "conf"
	}
	if opts.ScriptsDir == "" {
		opts.ScriptsDir = "scripts"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Grace == 0 {
		opts.Grace = 30 * time.Second
	}
	d := &Daemon{opts: opts, log: opts.Logger, registry: prometheus.NewRegistry(), ready: make(chan struct{})}
	d.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	d.configErrors = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "sundial_config_errors",
		Help: "Configuration files that failed validation at the last reload (their last good version keeps running).",
	})
	d.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sundial_config_reloads_total",
		Help: "Configuration reloads, by result: applied, unchanged, invalid (some file failed), failed (the directory could not be read or applied).",
	}, []string{"result"})
	d.reloadTime = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "sundial_config_reload_seconds",
		Help:    "Time to load, validate and apply the conf directory.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
	})
	d.registry.MustRegister(d.configErrors, d.reloads, d.reloadTime)
	return d, nil
}

// Scheduler returns the scheduler, once Run has created it.
func (d *Daemon) Scheduler() *scheduler.Scheduler { return d.sched }

// Ready is closed once the first configuration is applied and the HTTP
// server listens.
func (d *Daemon) Ready() <-chan struct{} { return d.ready }

// Addr is the HTTP listener's address, once Ready.
func (d *Daemon) Addr() string {
	if d.listener == nil {
		return ""
	}
	return d.listener.Addr().String()
}

// Run starts the node and blocks until ctx is cancelled, then stops it:
// no new fires, running runs get Options.Grace to finish. The first
// configuration load must succeed in reading the directory; a file that
// fails validation is reported and left out.
func (d *Daemon) Run(ctx context.Context, reload <-chan struct{}) error {
	first, err := config.Load(d.opts.ConfDir, config.LoadOptions{ScriptsDir: d.opts.ScriptsDir, Logger: d.log})
	if err != nil {
		return fmt.Errorf("load configuration: %w", err)
	}
	nodeID := d.opts.NodeID
	if nodeID == "" {
		nodeID = first.Properties["openidm.node.id"]
	}
	if nodeID == "" {
		nodeID, _ = os.Hostname()
	}
	d.nodeID = nodeID
	// Listen before anything else happens, so that a busy port fails the
	// start before this node joins the cluster and recovers its old runs.
	if d.opts.Listen != "" {
		if d.listener, err = net.Listen("tcp", d.opts.Listen); err != nil {
			return fmt.Errorf("listen on %s: %w", d.opts.Listen, err)
		}
		defer d.listener.Close()
	}
	d.setScripts(first)
	stateStore := d.opts.Store
	if d.opts.DB != nil {
		if d.persist, err = d.newPersist(nodeID); err != nil {
			return err
		}
		stateStore = d.persist
	}
	d.sched, err = scheduler.New(scheduler.Options{
		Clock:      d.opts.Clock,
		Logger:     d.log,
		Registerer: d.registry,
		Services:   map[string]scheduler.Service{script.ServiceName: scheduler.ServiceFunc(d.invokeScript)},
		Store:      stateStore,
		NodeID:     nodeID,
	})
	if err != nil {
		return fmt.Errorf("create scheduler: %w", err)
	}

	// Watch before the first apply, so that no change between the two is lost.
	d.watcher, err = watch.New(watch.Options{
		Dirs:     []string{d.opts.ConfDir, d.opts.ScriptsDir},
		Debounce: d.opts.Debounce,
		Logger:   d.log,
	})
	if err != nil {
		return fmt.Errorf("watch configuration: %w", err)
	}
	if err := d.watcher.Start(ctx); err != nil {
		return fmt.Errorf("watch configuration: %w", err)
	}
	defer d.watcher.Stop()

	d.apply(ctx, first)
	var storeBack <-chan struct{} // a reload that failed while the store was away is retried
	if d.persist != nil {
		// After the first apply, before the scheduler fires anything.
		storeBack = d.persist.StoreBack()
		if err := d.persist.Start(ctx); err != nil {
			return fmt.Errorf("join the cluster: %w", err)
		}
		// Deferred after the scheduler's Stop: its run ends go through it.
		defer d.persist.Stop()
	}
	// The scheduler's own context is not ctx: cancelling it would stop runs
	// at once, without the grace period Stop gives them.
	if err := d.sched.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start scheduler: %w", err)
	}

	var srv *http.Server
	if d.listener != nil {
		srv = &http.Server{Handler: d.handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.Serve(d.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
				d.log.Error("http server stopped", "err", err)
			}
		}()
	}
	d.log.Info("sundial started", "node", nodeID, "conf", d.opts.ConfDir, "scripts", d.opts.ScriptsDir,
		"schedules", len(first.Schedules), "listen", d.Addr())
	close(d.ready)

	// Reloads run on their own goroutine, one at a time, so that a slow one
	// (a store that stalls) never keeps SIGTERM waiting.
	reloadReq := make(chan struct{}, 1)
	reloaderDone := make(chan struct{})
	go func() {
		defer close(reloaderDone)
		for {
			select {
			case <-ctx.Done():
				return
			case <-reloadReq:
				d.Reload(ctx)
			}
		}
	}()
	requestReload := func() {
		select {
		case reloadReq <- struct{}{}:
		default: // one is already pending; it will read the latest files
		}
	}

	for {
		select {
		case <-ctx.Done():
			d.log.Info("stopping: no new fires; running runs get the grace period", "grace", d.opts.Grace)
			if srv != nil {
				shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_ = srv.Shutdown(shutdownCtx)
				cancel()
			}
			err := d.sched.Stop(d.opts.Grace)
			select {
			case <-reloaderDone:
			case <-time.After(5 * time.Second):
				d.log.Warn("a reload was still in progress at shutdown")
			}
			d.log.Info("sundial stopped")
			return err
		case ev, ok := <-d.watcher.Reloads():
			if !ok {
				return errors.New("configuration watcher stopped")
			}
			d.log.Debug("configuration changed", "paths", ev.Paths)
			requestReload()
		case <-reload:
			d.log.Info("reload requested")
			requestReload()
		case <-storeBack:
			requestReload()
		}
	}
}

// Reload loads and validates the whole conf directory and applies it. A
// file that fails keeps its last good version running.
func (d *Daemon) Reload(ctx context.Context) {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	start := time.Now()
	next, err := config.Load(d.opts.ConfDir, config.LoadOptions{ScriptsDir: d.opts.ScriptsDir, Previous: d.current.Load(), Logger: d.log})
	if err != nil {
		d.reloadFailed("", "configuration not reloaded: the last applied version keeps running", err)
		return
	}
	d.apply(ctx, next)
	d.reloadTime.Observe(time.Since(start).Seconds())
}

// apply hands a snapshot to the scheduler, unless nothing changed.
func (d *Daemon) apply(ctx context.Context, next *config.Desired) {
	prev := d.current.Load()
	errs := next.AllErrors()
	status := &reloadStatus{At: time.Now(), Hash: next.Hash}
	for _, e := range errs {
		status.Errors = append(status.Errors, e.Error())
	}
	d.configErrors.Set(float64(len(next.Errors)))
	d.logProblems(prev, next, errs)
	result := "applied"
	if len(errs) > 0 {
		result = "invalid"
	}
	if prev != nil && prev.Hash == next.Hash {
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
	res, err := d.sched.Reconcile(ctx, next)
	if err != nil {
		d.reloadFailed(next.Hash, "configuration not applied: the last applied version keeps running", err)
		return
	}
	for id, e := range res.Errors {
		d.log.Error("schedule not applied", "schedule", id, "err", e)
	}
	d.setScripts(next) // only now: a failed apply must not half-apply new properties
	d.current.Store(next)
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

// reloadFailed records and reports a reload that could not be applied.
func (d *Daemon) reloadFailed(hash, msg string, err error) {
	d.reloads.WithLabelValues("failed").Inc()
	d.log.Error(msg, "err", err)
	st := reloadStatus{At: time.Now(), Failed: err.Error()}
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

// scriptEngine is the script engine and the boot properties it was made with.
type scriptEngine struct {
	*script.Engine
	props map[string]string
}

// setScripts makes a script engine for the snapshot's boot properties, unless
// the current one already has them.
func (d *Daemon) setScripts(desired *config.Desired) {
	if cur := d.scripts.Load(); cur != nil && sameProps(cur.props, desired.Properties) {
		return
	}
	d.scripts.Store(&scriptEngine{
		Engine: script.New(script.Config{
			ScriptsDir: d.opts.ScriptsDir,
			Properties: desired.Properties,
			Logger:     d.log,
			Stdout:     d.opts.Stdout,
		}),
		props: desired.Properties,
	})
}

func sameProps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// invokeScript is the "script" service.
func (d *Daemon) invokeScript(ctx context.Context, run scheduler.Run) error {
	s := run.Schedule
	rc := run.Context()
	return d.scripts.Load().InvokeSchedule(ctx, s.ID, s.InvokeLogLevel, s.InvokeContext, rc)
}
