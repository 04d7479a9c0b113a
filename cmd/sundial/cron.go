package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"sundial/engine/apiclient"
	"sundial/engine/config"
	"sundial/engine/cron"
)

func init() { register(newCronCmd) }

func newCronCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cron",
		Short: "Work with Quartz cron expressions",
		Example: `  sundial cron next --tz Europe/Paris -n 3 '0 15 10 ? * MON-FRI'
  sundial cron explain '0 15 10 L * ?'
  sundial cron validate '0 0/1 * * * ?'`,
	}
	cmd.AddCommand(newCronNextCmd(), newCronExplainCmd(), newCronValidateCmd())
	return groupCmd(cmd)
}

// cronNextOptions are the flags of `sundial cron next`.
type cronNextOptions struct {
	zone  string
	from  string
	count int
}

func newCronNextCmd() *cobra.Command {
	var opts cronNextOptions
	cmd := &cobra.Command{
		Use:   "next [--tz ZONE] [--from RFC3339] [-n N] EXPR",
		Short: "Print the next fire times of a cron expression",
		Long: `Print the next N fire times of a Quartz cron expression, one RFC 3339 timestamp
with offset per line, computed in ZONE exactly as Quartz 2.3.2 computes them.
When the expression stops firing (an end year, a date that never comes), fewer
lines are printed, and stderr says so; the exit status is still 0. An invalid
expression, an unknown zone or a malformed flag is reported on stderr with exit
status 2 and nothing on stdout: the contract the Quartz oracle vectors are
checked against.`,
		Example: `  sundial cron next '0 0/5 * * * ?'
  sundial cron next --tz America/New_York --from 2026-03-07T12:00:00-05:00 -n 3 '0 30 2 * * ?'`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCronNext(opts, args[0], time.Now(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&opts.zone, "tz", "", "IANA time zone to compute in (default: the local zone)")
	cmd.Flags().StringVar(&opts.from, "from", "", "start strictly after this RFC 3339 instant (default: now)")
	cmd.Flags().IntVarP(&opts.count, "count", "n", 5, "number of fire times to print")
	return cmd
}

func runCronNext(opts cronNextOptions, spec string, now time.Time, out, errOut io.Writer) error {
	if opts.count < 0 {
		return usageError(fmt.Errorf("-n %d: must not be negative", opts.count))
	}
	from := now
	if opts.from != "" {
		var err error
		if from, err = time.Parse(time.RFC3339Nano, opts.from); err != nil {
			return usageError(fmt.Errorf("--from %q: not an RFC 3339 time, e.g. 2026-11-22T10:00:00+01:00", opts.from))
		}
	}
	expr, err := cron.Parse(spec)
	if err != nil {
		return usageError(err)
	}
	loc, err := loadZone(opts.zone)
	if err != nil {
		return usageError(err)
	}
	var b strings.Builder
	t, found := from.In(loc), 0
	for ; found < opts.count; found++ {
		next := expr.Next(t)
		if next.IsZero() {
			break
		}
		t = next
		b.WriteString(formatRFC3339Offset(t))
		b.WriteByte('\n')
	}
	if _, err := io.WriteString(out, b.String()); err != nil {
		return err
	}
	if found < opts.count {
		// Not an error: the expression is valid, it just stops firing.
		if found == 0 {
			fmt.Fprintf(errOut, "sundial: no fire times: the expression has no fire time after %s\n", formatRFC3339Offset(t))
		} else {
			fmt.Fprintf(errOut, "sundial: only %s of %d: the expression has no fire time after %s\n", plural(found, "fire time"), opts.count, formatRFC3339Offset(t))
		}
	}
	return nil
}

func newCronExplainCmd() *cobra.Command {
	var zone string
	cmd := &cobra.Command{
		Use:     "explain [--tz ZONE] EXPR",
		Short:   "Describe a cron expression in English and show its next five fire times",
		Example: `  sundial cron explain '0 15 10 ? * 6#3'`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			expr, err := cron.Parse(args[0])
			if err != nil {
				return err
			}
			loc, err := loadZone(zone)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s\n%s\n\nnext fire times (%s):\n", expr.String(), expr.Describe(), loc)
			t := time.Now().In(loc)
			for i := 0; i < 5; i++ {
				if t = expr.Next(t); t.IsZero() {
					fmt.Fprintln(out, "  (no more fire times)")
					break
				}
				fmt.Fprintf(out, "  %s\n", formatRFC3339Offset(t))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&zone, "tz", "", "IANA time zone to compute in (default: the local zone)")
	return cmd
}

// loadZone reads a zone as schedule files do (config.ParseZone); "" means
// the local zone.
func loadZone(name string) (*time.Location, error) {
	if name == "" {
		return time.Local, nil
	}
	loc, err := config.ParseZone(name)
	if err != nil {
		return nil, fmt.Errorf("--tz: %w", err)
	}
	return loc, nil
}

// formatRFC3339Offset writes an instant with its numeric offset, +00:00 rather than Z.
func formatRFC3339Offset(t time.Time) string { return t.Format("2006-01-02T15:04:05-07:00") }

// exactArgs is cobra.ExactArgs with a usage error (exit status 2).
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError(errors.New(cmd.UseLine() + ": expected " + fmt.Sprint(n) + " argument(s), got " + fmt.Sprint(len(args))))
		}
		return nil
	}
}

func newCronValidateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "validate EXPR",
		Short: "Ask a running daemon whether a Quartz cron expression is valid",
		Long: `Ask a running daemon whether EXPR is a valid Quartz cron expression, as IDM's
validateQuartzCronExpression action answers. Prints valid or invalid; the
exit status is 0 for valid, 1 for invalid or when the daemon refused or
could not be reached, 2 for a usage error. The daemon and the credentials
are given as for sundial schedules.`,
		Example: `  sundial cron validate '0 0/1 * * * ?' --api-secret-file var/admin.secret
  sundial cron validate -o json '0 0 25 * * ?'`,
		Args: exactArgs(1),
	}
	f := addAPIFlags(cmd.Flags())
	cmd.RunE = apiCommand(f, func(ctx context.Context, c *apiclient.Client, args []string, out io.Writer) error {
		return runCronValidate(ctx, c, f.output, args[0], out)
	})
	return cmd
}

func runCronValidate(ctx context.Context, c *apiclient.Client, format, expr string, out io.Writer) error {
	body, err := json.Marshal(map[string]string{"cronExpression": expr})
	if err != nil {
		return err
	}
	resp, err := c.Action(ctx, "/openidm/scheduler/job", "validateQuartzCronExpression", body)
	if err != nil {
		return err
	}
	var answer struct {
		Valid *bool `json:"valid"`
	}
	if err := decodeAnswer(resp.Body, "cron validate", &answer); err != nil {
		return err
	}
	if answer.Valid == nil {
		return fmt.Errorf("cron validate: the daemon answered %s, without \"valid\"", strings.TrimSpace(string(resp.Body)))
	}
	if format == "json" {
		err = writeAnswer(out, resp.Body)
	} else if *answer.Valid {
		_, err = fmt.Fprintln(out, "valid")
	} else {
		_, err = fmt.Fprintln(out, "invalid")
	}
	if err != nil || *answer.Valid {
		return err
	}
	// The daemon says no more than valid or not; the parser built into
	// this binary says why.
	if _, perr := cron.Parse(expr); perr != nil {
		return fmt.Errorf("invalid cron expression: %w", perr)
	}
	return fmt.Errorf("the daemon finds %q invalid", expr)
}
