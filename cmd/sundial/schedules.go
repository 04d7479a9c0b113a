package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"sundial/engine/apiclient"
)

func init() { register(newSchedulesCmd) }

// jobPath is the REST collection of schedules (IDM calls a schedule a job).
const jobPath = "/openidm/scheduler/job"

func newSchedulesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedules",
		Short: "Manage the schedules of a running daemon over its REST API",
		Long: `Manage the schedules of a running daemon over its REST API
(/openidm/scheduler/job, as ForgeRock IDM serves it). Schedules defined by a
file of the conf directory can be read, triggered, paused and resumed, not
replaced or deleted: change the file instead.

The daemon is --api-url (default ` + defaultAPIURL + `), the client
--api-client-id with --api-secret or --api-secret-file (the first start of
sundial serve writes the secret of client openidm-admin to var/admin.secret).
Exit status: 0 done, 1 the daemon refused or could not be reached (its
message printed), 2 a usage error.`,
		Example: `  sundial schedules list --api-secret-file var/admin.secret
  sundial schedules get testlog-schedule -o json
  sundial schedules create testlog-schedule -f schedule.json
  sundial schedules trigger testlog-schedule`,
	}
	f := addAPIFlags(cmd.PersistentFlags())
	cmd.AddCommand(
		newSchedulesListCmd(f),
		newSchedulesGetCmd(f),
		newSchedulesCreateCmd(f),
		newSchedulesDeleteCmd(f),
		newSchedulesActionCmd(f, "trigger", "Fire a schedule now, outside its trigger (it must be enabled)", "triggered"),
		newSchedulesActionCmd(f, "pause", "Pause a schedule: it does not fire until resumed", "paused"),
		newSchedulesActionCmd(f, "resume", "Resume a paused schedule", "resumed"),
		newSchedulesRunningCmd(f),
	)
	return groupCmd(cmd)
}

func jobIDPath(id string) string { return jobPath + "/" + url.PathEscape(id) }

func newSchedulesListCmd(f *apiFlags) *cobra.Command {
	var filter string
	cmd := &cobra.Command{
		Use:   "list [--filter QUERY]",
		Short: "List the schedules: id, enabled, type, schedule, next run, trigger state",
		Example: `  sundial schedules list
  sundial schedules list --filter 'persisted eq true' -o json`,
		Args: exactArgs(0),
	}
	cmd.Flags().StringVar(&filter, "filter", "true", "a CREST _queryFilter over the job resources")
	cmd.RunE = apiCommand(f, func(ctx context.Context, c *apiclient.Client, _ []string, out io.Writer) error {
		q := url.Values{"_queryFilter": {filter}}
		if f.output == "table" {
			q.Set("_fields", strings.Join(listFields, ","))
		}
		resp, err := c.Get(ctx, jobPath, q)
		if err != nil {
			return err
		}
		if f.output == "json" {
			return writeAnswer(out, resp.Body)
		}
		return writeScheduleTable(out, resp.Body)
	})
	return cmd
}

// listFields are what the list's table shows; triggers/0/state comes back
// as "state".
var listFields = []string{"_id", "enabled", "type", "schedule", "repeatInterval", "repeatCount", "nextRunDate", "triggers/0/state"}

// writeScheduleTable prints a query answer of job resources as a table.
func writeScheduleTable(out io.Writer, body []byte) error {
	var q struct {
		Result []struct {
			ID             string                    `json:"_id"`
			Enabled        *bool                     `json:"enabled"`
			Type           string                    `json:"type"`
			Schedule       *string                   `json:"schedule"`
			RepeatInterval *int64                    `json:"repeatInterval"`
			RepeatCount    *int64                    `json:"repeatCount"`
			NextRunDate    *string                   `json:"nextRunDate"`
			State          *string                   `json:"state"`
			Triggers       []struct{ State *string } `json:"triggers"`
		} `json:"result"`
	}
	if err := decodeAnswer(body, "schedules list", &q); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tENABLED\tTYPE\tSCHEDULE\tNEXT RUN\tSTATE")
	for _, r := range q.Result {
		state := r.State
		if state == nil && len(r.Triggers) > 0 {
			state = r.Triggers[0].State
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, boolCell(r.Enabled), dash(r.Type),
			scheduleCell(r.Type, r.Schedule, r.RepeatInterval, r.RepeatCount), strCell(r.NextRunDate), strCell(state))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func strCell(s *string) string {
	if s == nil {
		return "-"
	}
	return dash(*s)
}

func boolCell(b *bool) string {
	if b == nil {
		return "-"
	}
	return fmt.Sprint(*b)
}

// scheduleCell is a cron schedule's expression, or a simple trigger's
// interval and how many times it fires (repeatCount + 1; -1 forever).
func scheduleCell(typ string, schedule *string, interval, count *int64) string {
	if typ != "simple" {
		return strCell(schedule)
	}
	if interval == nil {
		return "-"
	}
	s := "every " + (time.Duration(*interval) * time.Millisecond).String()
	switch {
	case count == nil || *count < 0:
	case *count == 0:
		s = "once"
	default:
		s += ", " + plural(int(*count)+1, "time")
	}
	return s
}

func newSchedulesGetCmd(f *apiFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "get ID",
		Short:   "Show one schedule, key by key",
		Example: `  sundial schedules get testlog-schedule`,
		Args:    exactArgs(1),
	}
	cmd.RunE = apiCommand(f, func(ctx context.Context, c *apiclient.Client, args []string, out io.Writer) error {
		resp, err := c.Get(ctx, jobIDPath(args[0]), nil)
		if err != nil {
			return err
		}
		return writeResource(out, f.output, resp.Body)
	})
	return cmd
}

func writeResource(out io.Writer, format string, body []byte) error {
	if format == "json" {
		return writeAnswer(out, body)
	}
	return writeKeyValues(out, body)
}

// writeKeyValues prints a job resource one top-level key a line, in the
// daemon's order: scalars as they are, objects as compact JSON, and each
// trigger as its id, state and node.
func writeKeyValues(out io.Writer, body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return errors.New("the daemon's answer is not a JSON object")
	}
	tw := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("the daemon's answer: %w", err)
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("the daemon's answer: %w", err)
		}
		if key == "triggers" {
			writeTriggers(tw, raw)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\n", key, valueCell(raw))
	}
	return tw.Flush()
}

func writeTriggers(tw io.Writer, raw json.RawMessage) {
	var triggers []struct {
		ID     string  `json:"_id"`
		State  *string `json:"state"`
		NodeID *string `json:"nodeId"`
	}
	if json.Unmarshal(raw, &triggers) != nil {
		fmt.Fprintf(tw, "triggers\t%s\n", valueCell(raw))
		return
	}
	if len(triggers) == 0 {
		fmt.Fprintf(tw, "triggers\t[]\n")
	}
	for _, t := range triggers {
		node := "no node"
		if t.NodeID != nil {
			node = "node " + *t.NodeID
		}
		fmt.Fprintf(tw, "trigger\t%s (%s, %s)\n", t.ID, strCell(t.State), node)
	}
}

// valueCell is a JSON value as one cell: a string without its quotes,
// null as "-", anything else compact.
func valueCell(raw json.RawMessage) string {
	if string(bytes.TrimSpace(raw)) == "null" {
		return "-"
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

func newSchedulesCreateCmd(f *apiFlags) *cobra.Command {
	var file string
	var replace bool
	cmd := &cobra.Command{
		Use:   "create [ID] -f FILE",
		Short: "Create a schedule from a JSON file of IDM's schedule format",
		Long: `Create a schedule over REST from FILE ("-" for stdin), a schedule in IDM's
JSON format. With ID the schedule gets that id (PUT, refused if it exists
unless --replace); without, the daemon assigns a UUID. The schedule lives in
the daemon, not in the conf directory: persisted schedules survive a
restart, the others do not.`,
		Example: `  sundial schedules create testlog-schedule -f testlog.json
  sundial schedules create -f testlog.json -o json
  sundial schedules create testlog-schedule --replace -f disabled.json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageError(fmt.Errorf("%s: expected at most 1 argument, got %d", cmd.UseLine(), len(args)))
			}
			if file == "" {
				return usageError(errors.New("-f FILE is required"))
			}
			if replace && len(args) == 0 {
				return usageError(errors.New("--replace needs an ID"))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", `the schedule's JSON ("-" for stdin)`)
	cmd.Flags().BoolVar(&replace, "replace", false, "replace the schedule ID if it exists")
	cmd.RunE = apiCommand(f, func(ctx context.Context, c *apiclient.Client, args []string, out io.Writer) error {
		body, err := readScheduleFile(file, cmd.InOrStdin())
		if err != nil {
			return err
		}
		var resp *apiclient.Response
		if len(args) == 0 {
			resp, err = c.Action(ctx, jobPath, "create", body)
		} else {
			h := http.Header{}
			if !replace {
				h.Set("If-None-Match", "*")
			}
			resp, err = c.Put(ctx, jobIDPath(args[0]), body, h)
		}
		if err != nil {
			return err
		}
		return writeResource(out, f.output, resp.Body)
	})
	return cmd
}

// readScheduleFile reads a schedule's JSON and checks that it is one
// object, so a wrong file is told apart from a refusal of the daemon.
func readScheduleFile(name string, stdin io.Reader) ([]byte, error) {
	var data []byte
	var err error
	if name == "-" {
		data, err = io.ReadAll(stdin)
		name = "stdin"
	} else {
		data, err = os.ReadFile(name)
	}
	if err != nil {
		return nil, err
	}
	var obj map[string]any
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, fmt.Errorf("%s: not a JSON object: %w", name, err)
	}
	return data, nil
}

func newSchedulesDeleteCmd(f *apiFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "delete ID",
		Short:   "Delete a schedule created over REST",
		Example: `  sundial schedules delete testlog-schedule`,
		Args:    exactArgs(1),
	}
	cmd.RunE = apiCommand(f, func(ctx context.Context, c *apiclient.Client, args []string, out io.Writer) error {
		resp, err := c.Delete(ctx, jobIDPath(args[0]))
		if err != nil {
			return err
		}
		if f.output == "json" {
			return writeAnswer(out, resp.Body)
		}
		_, err = fmt.Fprintf(out, "deleted %s\n", args[0])
		return err
	})
	return cmd
}

// newSchedulesActionCmd is trigger, pause or resume: a POST of the action
// on the schedule, answered {"success": true}.
func newSchedulesActionCmd(f *apiFlags, action, short, done string) *cobra.Command {
	cmd := &cobra.Command{
		Use:     action + " ID",
		Short:   short,
		Example: "  sundial schedules " + action + " testlog-schedule",
		Args:    exactArgs(1),
	}
	cmd.RunE = apiCommand(f, func(ctx context.Context, c *apiclient.Client, args []string, out io.Writer) error {
		resp, err := c.Action(ctx, jobIDPath(args[0]), action, nil)
		if err != nil {
			return err
		}
		if f.output == "json" {
			return writeAnswer(out, resp.Body)
		}
		var ok struct {
			Success bool `json:"success"`
		}
		if err := decodeAnswer(resp.Body, action, &ok); err != nil {
			return err
		}
		if !ok.Success {
			return fmt.Errorf("%s %s: the daemon answered %s", action, args[0], bytes.TrimSpace(resp.Body))
		}
		_, err = fmt.Fprintf(out, "%s %s\n", done, args[0])
		return err
	})
	return cmd
}

func newSchedulesRunningCmd(f *apiFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "running",
		Short: "List the schedules running now on the daemon's node",
		Long: `List the schedules running now on the node --api-url reaches (not across a
cluster), as IDM's listCurrentlyExecutingJobs answers: their configurations.`,
		Example: `  sundial schedules running -o json`,
		Args:    exactArgs(0),
	}
	cmd.RunE = apiCommand(f, func(ctx context.Context, c *apiclient.Client, _ []string, out io.Writer) error {
		resp, err := c.Action(ctx, jobPath, "listCurrentlyExecutingJobs", nil)
		if err != nil {
			return err
		}
		if f.output == "json" {
			return writeAnswer(out, resp.Body)
		}
		return writeRunningTable(out, resp.Body)
	})
	return cmd
}

// writeRunningTable prints listCurrentlyExecutingJobs' answer: schedule
// configurations without ids.
func writeRunningTable(out io.Writer, body []byte) error {
	var list []struct {
		Type           string          `json:"type"`
		Schedule       *string         `json:"schedule"`
		RepeatInterval *int64          `json:"repeatInterval"`
		RepeatCount    *int64          `json:"repeatCount"`
		InvokeService  string          `json:"invokeService"`
		InvokeContext  json.RawMessage `json:"invokeContext"`
	}
	if err := decodeAnswer(body, "schedules running", &list); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tSCHEDULE\tSERVICE\tCONTEXT")
	for _, r := range list {
		ctx := "-"
		if len(r.InvokeContext) > 0 {
			ctx = valueCell(r.InvokeContext)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", dash(r.Type), scheduleCell(r.Type, r.Schedule, r.RepeatInterval, r.RepeatCount), dash(r.InvokeService), ctx)
	}
	return tw.Flush()
}
