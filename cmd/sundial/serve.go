package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"sundial/engine/daemon"
	"sundial/engine/persist"
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
	nodeID    string
	store     string
	checkIn   time.Duration
	timeout   time.Duration
	grace     time.Duration
	logLevel  string
	logFormat string
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
project directory (the parent of --conf), created on first start. Nodes started
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
	f.StringVar(&opts.listen, "listen", "127.0.0.1:8080", "HTTP address for /healthz and /metrics (\"\" to disable)")
	f.StringVar(&opts.nodeID, "node-id", "", "this node's id (default: openidm.node.id from boot.properties, then the host name)")
	f.StringVar(&opts.store, "store", "", "where state is kept: a SQLite file path (default: var/sundial.db beside the conf directory), sqlite:<path>, postgres://... for a cluster, or \"memory\" (nothing persisted)")
	f.DurationVar(&opts.checkIn, "checkin-interval", persist.DefaultCheckInInterval, "how often the node checks in to the store")
	f.DurationVar(&opts.timeout, "node-timeout", persist.DefaultNodeTimeout, "how long a node may go without checking in before the others recover its runs (at least twice --checkin-interval)")
	f.DurationVar(&opts.grace, "grace", 30*time.Second, "on shutdown, how long running runs may take to finish before they are interrupted")
	f.StringVar(&opts.logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&opts.logFormat, "log-format", "text", "log format: text or json (one JSON object per line)")
	return cmd
}

func runServe(ctx context.Context, opts serveOptions) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(opts.logLevel))); err != nil {
		return usageError(fmt.Errorf("--log-level %q: want debug, info, warn or error", opts.logLevel))
	}
	hopts := &slog.HandlerOptions{Level: level}
	var logger *slog.Logger
	var scriptOut io.Writer // nil: scripts' console.log lines are log records
	switch opts.logFormat {
	case "json":
		logger = slog.New(slog.NewJSONHandler(os.Stderr, hopts))
	case "text":
		logger = slog.New(slog.NewTextHandler(os.Stderr, hopts))
		scriptOut = os.Stdout
	default:
		return usageError(fmt.Errorf("--log-format %q: want text or json", opts.logFormat))
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

	if opts.checkIn <= 0 || opts.timeout < 2*opts.checkIn {
		return usageError(fmt.Errorf("--node-timeout %s must be at least twice --checkin-interval %s", opts.timeout, opts.checkIn))
	}
	db, err := openStore(ctx, opts, logger)
	if err != nil {
		return err
	}
	if db != nil {
		defer db.Close()
	}

	d, err := daemon.New(daemon.Options{
		ConfDir:         opts.conf,
		ScriptsDir:      opts.scripts,
		Listen:          opts.listen,
		NodeID:          opts.nodeID,
		DB:              db,
		CheckInInterval: opts.checkIn,
		NodeTimeout:     opts.timeout,
		Grace:           opts.grace,
		Logger:          logger,
		Stdout:          scriptOut,
	})
	if err != nil {
		return err
	}
	return d.Run(ctx, reload)
}

// storeOpenTimeout bounds the wait for the store at start.
const storeOpenTimeout = 15 * time.Second

// openStore opens --store (nil for "memory"), creating the default SQLite
// file and its directory on first start.
func openStore(ctx context.Context, opts serveOptions, logger *slog.Logger) (store.Store, error) {
	dsn := opts.store
	switch dsn {
	case "memory":
		logger.Warn("store: memory: nothing is persisted, and persisted schedules start afresh at every start")
		return nil, nil
	case "":
		dsn = filepath.Join(filepath.Dir(filepath.Clean(opts.conf)), "var", "sundial.db")
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
