package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"sundial/engine/daemon"
)

func init() { register(newServeCmd) }

// serveOptions are the flags of `sundial serve`.
type serveOptions struct {
	conf     string
	scripts  string
	listen   string
	nodeID   string
	grace    time.Duration
	logLevel string
	logJSON  bool
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
the grace period to finish.`,
		Example: `  sundial serve --conf conf/ --scripts scripts/
  sundial serve --conf /etc/sundial/conf --listen :8080 --log-level debug`,
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
	f.DurationVar(&opts.grace, "grace", 30*time.Second, "on shutdown, how long running runs may take to finish before they are interrupted")
	f.StringVar(&opts.logLevel, "log-level", "info", "debug, info, warn or error")
	f.BoolVar(&opts.logJSON, "log-json", false, "log as JSON lines instead of text")
	return cmd
}

func runServe(ctx context.Context, opts serveOptions) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(opts.logLevel))); err != nil {
		return usageError(fmt.Errorf("--log-level %q: want debug, info, warn or error", opts.logLevel))
	}
	hopts := &slog.HandlerOptions{Level: level}
	var logger *slog.Logger
	if opts.logJSON {
		logger = slog.New(slog.NewJSONHandler(os.Stderr, hopts))
	} else {
		logger = slog.New(slog.NewTextHandler(os.Stderr, hopts))
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
		for range hup {
			select {
			case reload <- struct{}{}:
			default:
			}
		}
	}()

	d, err := daemon.New(daemon.Options{
		ConfDir:    opts.conf,
		ScriptsDir: opts.scripts,
		Listen:     opts.listen,
		NodeID:     opts.nodeID,
		Grace:      opts.grace,
		Logger:     logger,
		Stdout:     os.Stdout,
	})
	if err != nil {
		return err
	}
	return d.Run(ctx, reload)
}
