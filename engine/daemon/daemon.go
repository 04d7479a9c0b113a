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
	scripts  atomic.Pointer[script.Engine]
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

// Registry returns the daemon's metrics registry.
func (d *Daemon) Registry() *prometheus.Registry { return d.registry }

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
	if d.persist != nil {
		// After the first apply (the stored triggers are synced and recovery
		// runs find their schedules), before the scheduler fires anything.
		d.persist.Attach(persist.Hooks{
			Adopt:            d.sched.Adopt,
			Recover:          d.runRecovery,
			ConfigHash:       d.appliedHash,
			ExecutePersisted: d.executesPersisted,
			// A reload that failed while the store was away is retried.
			StoreBack: func() { d.Reload(ctx) },
		})
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
	if d.opts.Listen != "" {
		if d.listener, err = net.Listen("tcp", d.opts.Listen); err != nil {
			d.sched.Stop(0)
			return fmt.Errorf("listen on %s: %w", d.opts.Listen, err)
		}
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
			d.log.Info("sundial stopped")
			return err
		case ev, ok := <-d.watcher.Reloads():
			if !ok {
				return errors.New("configuration watcher stopped")
			}
			d.log.Debug("configuration changed", "paths", ev.Paths)
			d.Reload(ctx)
		case <-reload:
			d.log.Info("reload requested")
			d.Reload(ctx)
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
		d.reloads.WithLabelValues("failed").Inc()
		d.log.Error("configuration not reloaded: the last applied version keeps running", "err", err)
		d.notifyApplied("", "failed")
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
	for _, e := range errs {
		d.log.Error("invalid configuration file: its last good version keeps running", "err", e.Error())
	}
	if prev != nil {
		for _, w := range next.AllWarnings() {
			if !containsError(prev.AllWarnings(), w) {
				d.log.Warn("configuration warning", "warning", w.Error())
			}
		}
	} else {
		for _, w := range next.AllWarnings() {
			d.log.Warn("configuration warning", "warning", w.Error())
		}
	}
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
	d.setScripts(next)
	res, err := d.sched.Reconcile(ctx, next)
	if err != nil {
		d.reloads.WithLabelValues("failed").Inc()
		d.log.Error("configuration not applied: the last applied version keeps running", "err", err)
		d.notifyApplied(next.Hash, "failed")
		return
	}
	for id, e := range res.Errors {
		d.log.Error("schedule not applied", "schedule", id, "err", e)
	}
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

func containsError(list []error, e error) bool {
	for _, x := range list {
		if x.Error() == e.Error() {
			return true
		}
	}
	return false
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// setScripts makes a script engine for the snapshot's boot properties.
func (d *Daemon) setScripts(desired *config.Desired) {
	if cur := d.scripts.Load(); cur != nil && d.current.Load() != nil && sameProps(d.current.Load().Properties, desired.Properties) {
		return
	}
	d.scripts.Store(script.New(script.Config{
		ScriptsDir: d.opts.ScriptsDir,
		Properties: desired.Properties,
		Logger:     d.log,
		Stdout:     d.opts.Stdout,
	}))
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
	rc["recovery"] = false // recovery runs: see runRecovery
	return d.scripts.Load().InvokeSchedule(ctx, s.ID, s.InvokeLogLevel, s.InvokeContext, rc)
}
