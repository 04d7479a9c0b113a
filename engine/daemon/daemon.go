// Package daemon wires Sundial's parts into the running process that
// `sundial serve` starts: it loads the conf directory, hands each valid
// snapshot to the scheduler, reloads on file-system events and SIGHUP, runs
// the services, and serves /healthz (liveness), /readyz (readiness) and
// /metrics. It owns the reload loop; the scheduler owns the triggers.
package daemon

import (
	"context"
	"crypto/tls"
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

	"sundial/engine/actor"
	"sundial/engine/auth"
	"sundial/engine/clock"
	"sundial/engine/cluster"
	"sundial/engine/config"
	"sundial/engine/jobs"
	"sundial/engine/scheduler"
	"sundial/engine/script"
	"sundial/engine/store"
	syncsvc "sundial/engine/sync"
	"sundial/engine/system"
	"sundial/engine/taskscanner"
	"sundial/engine/watch"
)

// Options configure a Daemon.
type Options struct {
	ConfDir    string // the conf directory (default "conf")
	ScriptsDir string // where "file" scripts are found (default "scripts")
	Listen     string // HTTP address of the REST API and of /healthz, /readyz and /metrics; "" disables it
	NodeID     string // this node's id; default: openidm.node.id, then the host name
	// TLSCertFile and TLSKeyFile, both set, make the listener serve HTTPS
	// with that PEM certificate (chain) and key.
	TLSCertFile, TLSKeyFile string

	// Store persists triggers and runs; nil keeps them in memory.
	Store scheduler.StateStore
	// DataDir holds the API admin's secret (admin.secret) while access.json
	// defines no client; "" leaves the API without clients until it does.
	DataDir string
	// MetricsAuth puts /metrics behind the API's authentication (any
	// client's credentials); by default it is open, as Prometheus expects.
	MetricsAuth bool
	// TokenLifetime is how long an API token from /oauth2/token is valid;
	// zero takes auth.DefaultTokenLifetime.
	TokenLifetime time.Duration

	// DB, when set, keeps the persisted schedules' triggers and the runs in
	// that database, and makes the node a member of the cluster sharing it
	// (engine/cluster); Store is then ignored. The daemon does not close it.
	DB store.Store
	// CheckInInterval and NodeTimeout tune the cluster membership; zero
	// takes cluster.DefaultCheckInInterval and cluster.DefaultNodeTimeout.
	CheckInInterval time.Duration
	NodeTimeout     time.Duration
	// Retention bounds the run history DB keeps; it is pruned in the
	// background while the node runs.
	Retention Retention

	// ScriptMemoryCeiling bounds the memory of all running scripts
	// together, in bytes (each run reserves its memoryLimit); zero takes
	// script.DefaultMemoryCeiling.
	ScriptMemoryCeiling int64

	// Grace is how long Stop lets runs finish before cancelling them.
	Grace time.Duration
	// Debounce is the watcher's quiet period; zero takes watch.DefaultDebounce.
	Debounce time.Duration
	// ReloadTimeout bounds each load of the conf directory, the first one
	// included, and each apply; zero takes DefaultReloadTimeout. A load past
	// it is abandoned and reported in the log and /readyz; the next change
	// or SIGHUP starts a fresh one.
	ReloadTimeout time.Duration

	// Load reads a conf directory; nil takes config.Load. Tests put a load
	// that blocks here to exercise ReloadTimeout.
	Load func(dir string, opts config.LoadOptions) (*config.Desired, error)

	Logger *slog.Logger
	Clock  clock.Clock
	Stdout io.Writer // where scripts' console.log and System.out.println go

	// OnApplied, when set, is called at the end of every load (the first
	// one included) with the snapshot's hash ("" when the directory could
	// not be read) and the result counted in sundial_config_reloads_total:
	// applied, unchanged, invalid or failed. It runs on the reload path, so
	// it must be quick; tests use it to wait for a reload instead of time.
	OnApplied func(hash, result string)
	// OnPruned, when set, is called after every pass of the run history's
	// retention; tests use it to wait for one.
	OnPruned func()
}

// Daemon is one running Sundial node. Create it with New, then Run it.
type Daemon struct {
	opts     Options
	log      *slog.Logger
	registry *prometheus.Registry
	sched    *scheduler.Scheduler
	scanner  *taskscanner.Scanner // the taskscanner service (taskscan.go)
	sync     *syncsvc.Service     // the sync service (sync.go); nil without Options.DB
	scripts  atomic.Pointer[scriptEngine]
	// memory is shared by the script engines that replace one another on
	// reloads, so that the ceiling holds across them.
	memory  *script.MemoryGuard
	watcher *watch.Watcher

	// The reload loop (reload.go) owns the reloads; these reach it.
	reloadReq   chan chan struct{} // Reload calls
	reloadPings chan chan bool     // liveness probes; the answer: can it still start a load
	reloading   atomic.Pointer[reloadState]
	conf        confDirState

	// current is the conf directory's last applied snapshot (without the
	// REST schedules, which rest holds).
	current atomic.Pointer[config.Desired]
	rest    restSchedules
	applied atomic.Pointer[reloadStatus]
	// reloadLog is the latest reloads, for the web page (web.go).
	reloadLog reloadHistory

	configErrors prometheus.Gauge
	reloads      *prometheus.CounterVec
	reloadTime   prometheus.Histogram

	probeMu sync.Mutex
	probe   *schedulerProbe // the health endpoints' call of the scheduler in flight, if any

	auth *auth.Authenticator // the REST API's clients, set at every apply
	// systems are the connectors of the applied provisioner files.
	systems *system.Registry
	// Whether the bootstrap admin is the API's client, and whether the
	// log said the API has none; only apply touches them.
	bootstrapped, warnedNoClients bool

	// The job engine (jobs.go); nil without a store. jobsCtx is the
	// context its instances run in, ended at the stop.
	jobs     *jobs.Engine
	jobsJS   store.JobInstances
	jobsCtx  context.Context
	stopJobs context.CancelFunc

	nodeID   string
	node     *cluster.Node // the cluster node; nil without Options.DB
	listener net.Listener
	ready    chan struct{}
}

// reloadStatus is what /readyz reports about the configuration.
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
	if opts.ReloadTimeout < 0 {
		return nil, fmt.Errorf("new daemon: negative reload timeout %s", opts.ReloadTimeout)
	}
	if opts.Load == nil {
		opts.Load = config.Load
	}
	if opts.ReloadTimeout == 0 {
		opts.ReloadTimeout = DefaultReloadTimeout
	}
	d := &Daemon{
		opts: opts, log: opts.Logger, registry: prometheus.NewRegistry(), ready: make(chan struct{}),
		reloadReq: make(chan chan struct{}), reloadPings: make(chan chan bool),
		memory:  script.NewMemoryGuard(opts.ScriptMemoryCeiling),
		systems: system.New(opts.Logger),
	}
	d.reloading.Store(&reloadState{})
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
// fails validation is reported and left out. Every signal on reload (SIGHUP)
// reloads the configuration.
func (d *Daemon) Run(ctx context.Context, reload <-chan struct{}) error {
	// Watch before the first load, so that no change after it goes unseen.
	if err := d.startWatcher(ctx); err != nil {
		return err
	}
	defer d.watcher.Stop()
	first, err := d.loadFirst()
	if err != nil {
		return err
	}
	d.nodeID = d.pickNodeID(first)
	// Listen before anything else happens, so that a busy port fails the
	// start before this node joins the cluster and recovers its old runs.
	if err := d.listen(); err != nil {
		return err
	}
	if d.listener != nil {
		defer d.listener.Close()
	}
	if err := d.newAuthenticator(ctx); err != nil {
		return err
	}
	d.setScripts(first)
	if err := d.newScheduler(); err != nil {
		return err
	}

	d.jobsCtx, d.stopJobs = context.WithCancel(context.WithoutCancel(ctx))
	defer d.stopJobs()
	if err := d.newJobs(ctx, first); err != nil {
		return err
	}
	if err := d.loadStored(ctx, first); err != nil {
		return err
	}
	d.apply(ctx, first)
	if d.node != nil {
		if err := d.joinCluster(ctx); err != nil {
			return err
		}
		// What other nodes stored between the read above and the start of
		// the node's change feed.
		d.refreshStored(ctx, nil)
		// Deferred after the scheduler's Stop: its run ends go through it.
		defer d.node.Stop()
		stopPruning := d.startPruning(ctx)
		defer stopPruning()
	}
	d.syncPending(ctx)
	// The scheduler's own context is not ctx: cancelling it would stop runs
	// at once, without the grace period Stop gives them.
	if err := d.sched.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start scheduler: %w", err)
	}
	srv := d.serveHTTP()
	d.logStart(first)
	// The first load and the start's snapshot leave garbage several times
	// the configuration's size: return it to the OS now, as every reload
	// does, instead of holding it until the next GC cycle.
	debug.FreeOSMemory()
	close(d.ready)

	// Reloads run on their own loop, so that a slow one (a store that
	// stalls) keeps SIGTERM waiting stopWait at most.
	loopDone := make(chan error, 1)
	go func() { loopDone <- d.runReloads(ctx, reload) }()
	select {
	case <-ctx.Done():
		return d.stop(srv, loopDone)
	case err := <-loopDone: // the watcher stopped on its own, or with ctx
		stopErr := d.stop(srv, nil)
		if ctx.Err() != nil {
			return stopErr // the same stop, seen by the reload loop first
		}
		return err
	}
}

// pickNodeID is Options.NodeID, else openidm.node.id, else the host name.
func (d *Daemon) pickNodeID(first *config.Desired) string {
	if id := d.opts.NodeID; id != "" {
		return id
	}
	if id := first.Properties["openidm.node.id"]; id != "" {
		return id
	}
	host, _ := os.Hostname()
	return host
}

// listen opens Options.Listen, if set.
func (d *Daemon) listen() error {
	if d.opts.Listen == "" {
		return nil
	}
	var tlsConf *tls.Config
	if d.opts.TLSCertFile != "" || d.opts.TLSKeyFile != "" {
		// A bad certificate fails the start, not the first request.
		cert, err := tls.LoadX509KeyPair(d.opts.TLSCertFile, d.opts.TLSKeyFile)
		if err != nil {
			return fmt.Errorf("listen on %s: tls certificate %s and key %s: %w", d.opts.Listen, d.opts.TLSCertFile, d.opts.TLSKeyFile, err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", d.opts.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", d.opts.Listen, err)
	}
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
	}
	d.listener = ln
	return nil
}

// newScheduler creates the scheduler over the node's state store: the
// cluster node with Options.DB, else Options.Store.
func (d *Daemon) newScheduler() error {
	stateStore := d.opts.Store
	if d.opts.DB != nil {
		var err error
		if d.node, err = d.newClusterNode(d.nodeID); err != nil {
			return err
		}
		stateStore = clusterStateStore{Node: d.node, rest: &d.rest}
	}
	var err error
	d.scanner = d.newTaskScanner()
	d.sync = d.newSyncService()
	d.sched, err = scheduler.New(scheduler.Options{
		Clock:      d.opts.Clock,
		Logger:     d.log,
		Registerer: d.registry,
		Services: map[string]scheduler.Service{
			script.ServiceName:      scheduler.ServiceFunc(d.invokeScript),
			taskscanner.ServiceName: d.scanner,
			JobServiceName:          scheduler.ServiceFunc(d.invokeJob),
			syncServiceName:         scheduler.ServiceFunc(d.invokeSync),
			provisionerServiceName:  scheduler.ServiceFunc(d.invokeProvisioner),
		},
		Store:  stateStore,
		NodeID: d.nodeID,
	})
	if err != nil {
		return fmt.Errorf("create scheduler: %w", err)
	}
	return nil
}

// joinCluster starts the cluster node: after the first apply (the stored
// triggers are synced and recovery runs find their schedules), before the
// scheduler fires anything.
func (d *Daemon) joinCluster(ctx context.Context) error {
	if err := d.node.Start(ctx); err != nil {
		return fmt.Errorf("join the cluster: %w", err)
	}
	return nil
}

// serveHTTP serves /healthz, /readyz and /metrics on the listener, if any.
func (d *Daemon) serveHTTP() *http.Server {
	if d.listener == nil {
		return nil
	}
	srv := &http.Server{Handler: d.handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(d.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("http server stopped", "err", err)
		}
	}()
	return srv
}

// stopWait bounds how long the stop waits for the HTTP server and for a
// reload in progress.
const stopWait = 5 * time.Second

// stop stops the node: the HTTP server, then the scheduler, whose running
// runs get Options.Grace. loopDone, when not nil, reports the reload loop's
// end. It logs what it waits for.
func (d *Daemon) stop(srv *http.Server, loopDone <-chan error) error {
	running := d.sched.Executing()
	ids := make([]string, len(running))
	for i, r := range running {
		ids[i] = r.FireID
	}
	d.log.Info("stopping: no new fires; waiting for the running runs", "running", len(ids), "runs", ids, "grace", d.opts.Grace)
	began := time.Now()
	if srv != nil {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), stopWait)
		_ = srv.Shutdown(shutdownCtx)
		cancel()
	}
	if loopDone != nil {
		select {
		case <-loopDone:
		case <-time.After(stopWait):
			d.log.Warn("a reload was still being applied at the stop; stopping without it", "waited", stopWait)
		}
	}
	err := d.sched.Stop(d.opts.Grace)
	d.stopJobs()
	if d.jobs != nil {
		d.jobs.Close()
	}
	d.scanner.Close()
	d.systems.Close()
	d.log.Info("sundial stopped", "waited", time.Since(began).Round(time.Millisecond))
	return err
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
			Memory:     d.memory,
			// The script service's scripts have openidm on the managed
			// objects too, each write its own transaction.
			ScheduleResources: d.scheduleResources(),
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

// scheduleActor is who changes what a fire of a schedule changes: the
// schedule, schedule/<id>, in the fire's transaction.
func scheduleActor(run scheduler.Run) actor.Actor {
	return actor.Actor{UserID: "schedule/" + run.ScheduleID, TransactionID: run.FireID}
}

// invokeScript is the "script" service.
func (d *Daemon) invokeScript(ctx context.Context, run scheduler.Run) error {
	s := run.Schedule
	rc := run.Context()
	return d.scripts.Load().InvokeSchedule(actor.With(ctx, scheduleActor(run)), s.ID, s.InvokeLogLevel, s.InvokeContext.Map(), rc)
}
