package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"sundial/engine/cluster"
	"sundial/engine/daemon"
	"sundial/engine/script"
	"sundial/engine/store"
	_ "sundial/engine/store/postgres" // --store postgres://...
	_ "sundial/engine/store/sqlite"   // the default store
)

func init() { register(newServeCmd) }

// serveOptions are the flags of `sundial serve`.
type serveOptions struct {
	conf      string
	scripts   string
	listen    string
	tlsCert   string
	tlsKey    string
	nodeID    string
	store     string
	checkIn   time.Duration
	timeout   time.Duration
	grace     time.Duration
	reload    time.Duration
	keepRuns  int
	memCeil   string
	runMaxAge time.Duration
	logLevel  string
	logFormat string
	dataDir   string
}

func newServeCmd() *cobra.Command {
	var opts serveOptions
	cmd := &cobra.Command{
		Use:   "serve [--conf DIR] [--scripts DIR] [--listen ADDR]",
		Short: "Run the scheduler daemon on a conf directory",
		Long: `Run the scheduler: load and validate the conf directory, fire its schedules,
and apply every change to the directory live (files are watched; SIGHUP also
reloads). A file that fails validation is logged with file:line:col and its last
good version keeps running. SIGINT or SIGTERM stop firing and give running runs
the grace period to finish.

State (the triggers of persisted schedules, the run history, the node's
check-ins) lives in the store: by default the SQLite file var/sundial.db of the
project directory (the parent of --conf), created with its var/ directory on
first start; an explicit --store path must be in an existing directory. Nodes started
with the same --store postgres://... form a cluster: each persisted schedule
fires once across them, and the runs of a node that stops checking in for
--node-timeout are recovered by the others (see docs/cluster.md). A store that
cannot be reached at start is an error.`,
		Example: `  sundial serve --conf conf/ --scripts scripts/
  sundial serve --conf /etc/sundial/conf --listen :8080 --log-level debug
  sundial serve --store postgres://sundial@db:5432/sundial --node-id node1 --node-timeout 15s`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.conf, "conf", "conf", "configuration directory (schedule-*.json|yaml, scheduler.json, boot.properties)")
	f.StringVar(&opts.scripts, "scripts", "scripts", "directory of the scripts that schedules reference by \"file\"")
	f.StringVar(&opts.listen, "listen", "127.0.0.1:8080", "HTTP address of the REST API (/openidm/..., /oauth2/token) and of /healthz, /readyz and /metrics (\"\" to disable)")
	f.StringVar(&opts.dataDir, "data-dir", "", "the node's own files: the default SQLite store (sundial.db) and, while access.json defines no client, the API admin's secret (admin.secret); default: var/ beside the conf directory")
	f.StringVar(&opts.tlsCert, "tls-cert", "", "PEM certificate (chain) file: serve HTTPS (with --tls-key)")
	f.StringVar(&opts.tlsKey, "tls-key", "", "PEM private key file of --tls-cert")
	f.StringVar(&opts.nodeID, "node-id", "", "this node's id (default: openidm.node.id from boot.properties, then the host name)")
	f.StringVar(&opts.store, "store", "", "where state is kept: a SQLite file path (default: var/sundial.db beside the conf directory), sqlite:<path>, postgres://... for a cluster, or \"memory\" (nothing persisted)")
	f.DurationVar(&opts.checkIn, "checkin-interval", cluster.DefaultCheckInInterval, "how often the node checks in to the store")
	f.DurationVar(&opts.timeout, "node-timeout", cluster.DefaultNodeTimeout, "how long a node may go without checking in before the others recover its runs (at least twice --checkin-interval)")
	f.DurationVar(&opts.reload, "reload-timeout", daemon.DefaultReloadTimeout, "how long one load of the conf directory may take before it is abandoned and reported in /readyz")
	f.IntVar(&opts.keepRuns, "keep-runs", daemon.DefaultKeepRuns, "finished runs kept in the store's history per schedule, whatever their age (-1: no limit by count)")
	f.DurationVar(&opts.runMaxAge, "runs-max-age", daemon.DefaultRunMaxAge, "finished runs older than this are pruned from the store's history (-1s: no age limit)")
	f.StringVar(&opts.memCeil, "script-memory-ceiling", "4GiB", "memory of all running scripts together (each run reserves its memoryLimit, 64MiB by default); a run that does not fit waits for room")
	f.DurationVar(&opts.grace, "grace", 30*time.Second, "on shutdown, how long running runs may take to finish before they are interrupted")
	f.StringVar(&opts.logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&opts.logFormat, "log-format", "text", "log format: text or json (one JSON object per line, durations in seconds)")
	return cmd
}

func runServe(ctx context.Context, opts serveOptions) error {
	if err := opts.check(); err != nil {
		return err
	}
	ceiling, err := script.ParseSize(opts.memCeil)
	if err != nil {
		return usageError(fmt.Errorf("--script-memory-ceiling: %w", err))
	}
	logger, err := newLogger(opts, os.Stderr)
	if err != nil {
		return err
	}
	dataDir, err := resolveDataDir(opts)
	if err != nil {
		return err
	}
	dsn, err := storeDSN(opts, dataDir)
	if err != nil {
		return err
	}
	var scriptOut io.Writer // nil: scripts' console.log lines are log records
	if opts.logFormat == "text" {
		scriptOut = os.Stdout
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				select {
				case reload <- struct{}{}:
				default:
				}
			}
		}
	}()

	db, err := openStore(ctx, dsn, logger)
	if err != nil {
		return err
	}
	if db != nil {
		defer db.Close()
	}

	d, err := daemon.New(daemon.Options{
		ConfDir:             opts.conf,
		ScriptsDir:          opts.scripts,
		Listen:              opts.listen,
		TLSCertFile:         opts.tlsCert,
		TLSKeyFile:          opts.tlsKey,
		NodeID:              opts.nodeID,
		DataDir:             dataDir,
		DB:                  db,
		CheckInInterval:     opts.checkIn,
		NodeTimeout:         opts.timeout,
		Grace:               opts.grace,
		ReloadTimeout:       opts.reload,
		ScriptMemoryCeiling: ceiling,
		Retention:           daemon.Retention{KeepPerSchedule: opts.keepRuns, MaxAge: opts.runMaxAge},
		Logger:              logger,
		Stdout:              scriptOut,
	})
	if err != nil {
		return err
	}
	return d.Run(ctx, reload)
}

// check rejects flag values that make no sense, naming the flag: a usage
// error (exit status 2).
func (o serveOptions) check() error {
	var err error
	switch {
	case o.checkIn <= 0:
		err = fmt.Errorf("--checkin-interval %s: must be positive", o.checkIn)
	case o.timeout <= 0:
		err = fmt.Errorf("--node-timeout %s: must be positive", o.timeout)
	case o.timeout < 2*o.checkIn:
		err = fmt.Errorf("--node-timeout %s must be at least twice --checkin-interval %s", o.timeout, o.checkIn)
	case o.grace <= 0:
		// The daemon reads a zero grace as its 30 s default.
		err = fmt.Errorf("--grace %s: must be positive", o.grace)
	case o.keepRuns == 0 || o.keepRuns < -1:
		err = fmt.Errorf("--keep-runs %d: must be positive, or -1 for no limit", o.keepRuns)
	case o.runMaxAge == 0 || o.runMaxAge < -time.Second:
		err = fmt.Errorf("--runs-max-age %s: must be positive, or -1s for no limit", o.runMaxAge)
	case o.reload <= 0:
		err = fmt.Errorf("--reload-timeout %s: must be positive", o.reload)
	}
	if err != nil {
		return usageError(err)
	}
	return nil
}

// newLogger builds the daemon's logger from --log-level and --log-format.
func newLogger(opts serveOptions, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(opts.logLevel))); err != nil {
		return nil, usageError(fmt.Errorf("--log-level %q: want debug, info, warn or error", opts.logLevel))
	}
	switch opts.logFormat {
	case "json":
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: jsonAttr})), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})), nil
	}
	return nil, usageError(fmt.Errorf("--log-format %q: want text or json", opts.logFormat))
}

// jsonAttr makes JSON log lines easy to consume: a duration is a number of
// seconds (1.5, not 1500000000 nanoseconds), and an empty list is [] (not
// null).
func jsonAttr(_ []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindDuration:
		return slog.Float64(a.Key, a.Value.Duration().Seconds())
	case slog.KindAny:
		if v := reflect.ValueOf(a.Value.Any()); v.Kind() == reflect.Slice && v.IsNil() {
			return slog.Any(a.Key, reflect.MakeSlice(v.Type(), 0, 0).Interface())
		}
	}
	return a
}

// storeOpenTimeout bounds the wait for the store at start.
const storeOpenTimeout = 15 * time.Second

// resolveDataDir resolves --data-dir: by default var/ of the project
// directory, the parent of --conf (made absolute first, so that --conf .
// means the parent of the working directory). It is created (0750) when
// missing.
func resolveDataDir(opts serveOptions) (string, error) {
	dir := opts.dataDir
	if dir == "" {
		conf, err := filepath.Abs(opts.conf)
		if err != nil {
			return "", fmt.Errorf("--conf %s: %w", opts.conf, err)
		}
		dir = filepath.Join(filepath.Dir(conf), "var")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("create the data directory: %w", err)
	}
	return dir, nil
}

// storeDSN resolves --store. Empty is the SQLite file sundial.db of the
// data directory. An explicit SQLite path must be in a directory that
// exists: a typo is an error naming it, never a new directory tree.
func storeDSN(opts serveOptions, dataDir string) (string, error) {
	switch opts.store {
	case "memory":
		return "memory", nil
	case "":
		return filepath.Join(dataDir, "sundial.db"), nil
	}
	backend, target, err := store.ParseDSN(opts.store)
	if err != nil || backend != store.BackendSQLite {
		return opts.store, nil // store.Open reports a bad DSN
	}
	dir := filepath.Dir(target)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("--store %s: directory %s does not exist (create it, or leave --store out for var/sundial.db beside the conf directory)", opts.store, dir)
	}
	return opts.store, nil
}

// openStore opens the store dsn names (nil for "memory").
func openStore(ctx context.Context, dsn string, logger *slog.Logger) (store.Store, error) {
	if dsn == "memory" {
		logger.Warn("store: memory: nothing is persisted, and persisted schedules start afresh at every start")
		return nil, nil
	}
	octx, cancel := context.WithTimeout(ctx, storeOpenTimeout)
	defer cancel()
	db, err := store.Open(octx, dsn)
	if err != nil {
		return nil, fmt.Errorf("open the store: %w", err)
	}
	logger.Info("store opened", "store", describeStore(db))
	return db, nil
}

func describeStore(s store.Store) string {
	if d, ok := s.(fmt.Stringer); ok {
		return d.String()
	}
	return fmt.Sprintf("%T", s)
}
