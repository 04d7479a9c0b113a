package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"sundial/engine/config"
	"sundial/engine/taskscanner"
)

func init() { register(newScanCmd) }

type scanOptions struct {
	conf, scripts, store string
	at                   string
	first                int
	dryRun               bool
}

func newScanCmd() *cobra.Command {
	opts := scanOptions{conf: "conf", scripts: "scripts", first: 10}
	cmd := &cobra.Command{
		Use:   "scan --dry-run [flags] SCHEDULE_ID",
		Short: "Show what a task scan would process: its resolved filter and matching objects",
		Long: `Scan reads the task-scan schedule SCHEDULE_ID (conf/schedule-SCHEDULE_ID.json),
resolves the macros of its filter at --at (default now), and prints the filter, the
number of matching managed objects in the store (and how many the scan would take,
after maxRecords), and the first --first of them, one JSON object per line. It
changes nothing and runs no script: --dry-run is required.`,
		Example: "  sundial scan --dry-run taskscan_sunset\n  sundial scan --dry-run --at 2030-01-01T00:00:00Z --first 3 taskscan_sunset",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runScan(cmd.Context(), opts, args[0], cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.dryRun, "dry-run", false, "print what the scan would do (required: scans run under serve)")
	f.StringVar(&opts.conf, "conf", opts.conf, "the conf directory")
	f.StringVar(&opts.scripts, "scripts", opts.scripts, "the scripts directory")
	f.StringVar(&opts.store, "store", "", "the store, as serve's --store")
	f.StringVar(&opts.at, "at", "", "the instant ${Time.now} resolves to (RFC 3339; default now)")
	f.IntVar(&opts.first, "first", opts.first, "how many matching objects to print")
	return cmd
}

func runScan(ctx context.Context, opts scanOptions, id string, stdout io.Writer) error {
	if !opts.dryRun {
		return usageError(fmt.Errorf("scan %s: only --dry-run is supported; scans run under sundial serve (or POST /openidm/taskscanner?_action=execute)", id))
	}
	if opts.first < 0 {
		return usageError(fmt.Errorf("--first %d: want 0 or more", opts.first))
	}
	at := time.Now()
	if opts.at != "" {
		t, err := time.Parse(time.RFC3339Nano, opts.at)
		if err != nil {
			return usageError(fmt.Errorf("--at %q: want an RFC 3339 time such as 2030-01-01T00:00:00Z", opts.at))
		}
		at = t
	}
	d, err := config.Load(opts.conf, config.LoadOptions{ScriptsDir: opts.scripts})
	if err != nil {
		return err
	}
	sched := d.Schedules[id]
	switch {
	case sched == nil:
		return fmt.Errorf("scan %s: no valid schedule %s in %s", id, id, opts.conf)
	case sched.InvokeService != taskscanner.ServiceName:
		return fmt.Errorf("scan %s: invokeService is %s, not taskscanner", id, sched.InvokeService)
	}
	objs, closeStore, err := openObjects(ctx, opts.conf, opts.store, "it holds no managed objects")
	if err != nil {
		return err
	}
	defer closeStore()
	plan, err := taskscanner.DryRun(ctx, taskscanner.PlanParams{Objects: objs, InvokeContext: sched.InvokeContext.Map(), At: at, First: opts.first})
	if err != nil {
		return fmt.Errorf("scan %s: %w", id, err)
	}
	if _, ok := d.Managed.Type(plan.Type); !ok {
		fmt.Fprintf(stdout, "warning: %s is not declared in managed.json: serve would refuse this scan\n", plan.Object)
	}
	limit := "none"
	if plan.MaxRecords >= 0 {
		limit = fmt.Sprint(plan.MaxRecords)
	}
	fmt.Fprintf(stdout, "object:  %s\nfilter:  %s\nat:      %s\nmatches: %d (the scan would take %d; maxRecords %s, threads %d)\n",
		plan.Object, plan.Filter, at.UTC().Format(time.RFC3339Nano), plan.Matches, plan.Total, limit, plan.Threads)
	for _, o := range plan.First {
		b, err := json.Marshal(o.Content)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, string(b))
	}
	return nil
}
