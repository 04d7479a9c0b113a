package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"sundial/engine/config"
	"sundial/engine/jobs"
	"sundial/engine/script"
)

func init() { register(newValidateCmd) }

// validateOptions are the inputs of `sundial validate`.
type validateOptions struct {
	dir     string
	scripts string
	format  string // "text" or "json"
	at      time.Time
	against string // "" = no comparison
	env     func(string) (string, bool)
}

func newValidateCmd() *cobra.Command {
	opts := validateOptions{dir: "conf", scripts: "scripts", format: "text"}
	var at string
	cmd := &cobra.Command{
		Use:   "validate [flags] [DIR]",
		Short: "Check a conf directory and show what it would schedule",
		Long: `Validate loads a conf directory exactly as serve does, without running
anything. Problems are printed to stderr as file:line:col: message, all of them,
and the exit status is 1. When the directory is valid, the plan is printed: each
schedule with its type, state, service, time zone, trigger, and next five fire
times in its own zone. With --against, the plan starts with what changes from
the other directory (added, removed and changed schedules, and which keys
changed; files invalid in the other directory are listed, as their schedules
count as absent there): run it on a pull request against a checkout of the
base branch.

With --format json, everything goes to stdout as one JSON document (camelCase
keys, empty lists as []), problems and a directory that cannot be read
included, and nothing to stderr.

Exit status: 0 valid (warnings allowed), 1 invalid or unreadable, 2 usage error.`,
		Example: `  sundial validate conf/
  sundial validate --scripts scripts/ --at 2026-01-01T00:00:00Z conf/
  sundial validate --against ../base/conf conf/
  sundial validate --format json conf/ > validate.json`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageError(fmt.Errorf("validate takes one directory, got %d arguments", len(args)))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.dir = args[0]
			}
			switch opts.format {
			case "text", "json":
			default:
				return usageError(fmt.Errorf("--format must be text or json, not %q", opts.format))
			}
			opts.at = time.Now()
			if at != "" {
				t, err := parseAt(at)
				if err != nil {
					return validateFailed(opts, "", usageError(err), cmd.OutOrStdout())
				}
				opts.at = t
			}
			return runValidate(cmd.Context(), opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.scripts, "scripts", opts.scripts, "directory where script files are looked up")
	f.StringVar(&opts.format, "format", opts.format, "output format: text or json")
	f.StringVar(&at, "at", "", "compute next fire times from this time (RFC 3339, or yyyy-MM-ddTHH:mm:ss local); default now")
	f.StringVar(&opts.against, "against", "", "show what changes going from this conf directory to DIR")
	return cmd
}

// parseAt reads --at: RFC 3339, or a local date-time or date.
func parseAt(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--at %q: expected a time such as 2026-01-01T09:00:00Z or 2026-01-01T09:00:00", s)
}

// runValidate loads opts.dir, reports its problems to stderr and its plan
// to stdout, or with --format json everything to stdout as one JSON
// document. It returns an exit error with status 1 when the directory is
// invalid or cannot be read.
func runValidate(_ context.Context, opts validateOptions, stdout, stderr io.Writer) error {
	load := func(dir string) (*config.Desired, error) {
		return config.Load(dir, config.LoadOptions{ScriptsDir: opts.scripts, Env: opts.env, CheckScript: script.Check})
	}
	d, err := load(opts.dir)
	failed := opts.dir
	var base *config.Desired
	if err == nil && opts.against != "" {
		failed = opts.against
		base, err = load(opts.against)
	}
	if err != nil {
		return validateFailed(opts, failed, err, stdout)
	}

	// Thousands of lines: buffer them rather than write each one.
	out := bufio.NewWriter(stdout)
	if opts.format == "json" {
		if err := writeJSON(out, buildReport(d, base, opts)); err != nil {
			return err
		}
	} else {
		errOut := bufio.NewWriter(stderr)
		errs, warns := d.AllErrors(), d.AllWarnings()
		for _, w := range warns {
			fmt.Fprintln(errOut, warningLine(w))
		}
		for _, e := range errs {
			fmt.Fprintln(errOut, e)
		}
		if !d.Valid() {
			fmt.Fprintf(errOut, "%s: %s in %s\n", opts.dir, plural(len(errs), "error"), plural(len(d.Errors), "file"))
		}
		if err := errOut.Flush(); err != nil {
			return err
		}
		printReport(out, buildReport(d, base, opts))
	}
	if err := out.Flush(); err != nil {
		return err
	}
	if !d.Valid() {
		return &exitError{code: 1}
	}
	return nil
}

// validateFailed reports an error about file (a directory, or a flag) that
// stopped validate before there was a plan: a directory that cannot be read
// (exit status 1), or a usage error found once --format was known (exit
// status 2). With --format json it is written to stdout as a report with
// valid false; otherwise run prints it to stderr.
func validateFailed(opts validateOptions, file string, err error, stdout io.Writer) error {
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code, err = ee.code, ee.err
	}
	if opts.format != "json" {
		return &exitError{code: code, err: err}
	}
	r := report{Dir: opts.dir, At: opts.at, Errors: []problem{{File: file, Message: err.Error()}}, Warnings: []problem{}, Schedules: []scheduleReport{}, Jobs: []jobReport{},
		Connectors: []connectorReport{}, Mappings: []mappingReport{}}
	if werr := writeJSON(stdout, r); werr != nil {
		return werr
	}
	return &exitError{code: code}
}

// writeJSON writes the report as indented JSON.
func writeJSON(w io.Writer, r report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// warningLine renders a warning as file:line:col: warning: message.
func warningLine(w error) string {
	var fe *config.FileError
	if errors.As(w, &fe) {
		msg := fe.Err.Error()
		return strings.TrimSuffix(fe.Error(), msg) + "warning: " + msg
	}
	return "warning: " + w.Error()
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// report is the result of validate; --format json prints it as is.
type report struct {
	Dir       string           `json:"dir"`
	Valid     bool             `json:"valid"`
	At        time.Time        `json:"at"`
	Errors    []problem        `json:"errors"`
	Warnings  []problem        `json:"warnings"`
	Scheduler *schedulerReport `json:"scheduler,omitempty"` // nil when the directory could not be read
	Schedules []scheduleReport `json:"schedules"`
	Jobs      []jobReport      `json:"jobs"`
	// Connectors are the provisioner files; Mappings the sync.json
	// mappings with the policy each situation takes.
	Connectors []connectorReport `json:"connectors"`
	Mappings   []mappingReport   `json:"mappings"`
	Changes    *changesReport    `json:"changes,omitempty"`
}

// jobReport is one job's launch plan.
type jobReport struct {
	ID          string     `json:"id"`
	File        string     `json:"file"`
	DisplayName string     `json:"displayName,omitempty"`
	Schedule    string     `json:"schedule,omitempty"`
	Groups      []jobGroup `json:"groups"`
}

// connectorReport is one provisioner: system/<name>/<type> for each of its
// object types.
type connectorReport struct {
	Name        string   `json:"name"`
	File        string   `json:"file"`
	Connector   string   `json:"connector"`
	Runnable    bool     `json:"runnable"` // false: loaded, but Sundial does not run this connector
	ObjectTypes []string `json:"objectTypes"`
}

// mappingReport is one mapping: its ends, the action of every situation
// (from a policy, or IDM's default), and the schedules that run it.
type mappingReport struct {
	Name        string         `json:"name"`
	File        string         `json:"file"`
	Line        int            `json:"line"`
	Source      string         `json:"source"`
	Target      string         `json:"target"`
	Properties  int            `json:"properties"`
	Situations  []policyReport `json:"situations"`
	ScheduledBy []string       `json:"scheduledBy"`
}

// policyReport is the action one situation takes. Default: no policy names
// the situation; Conditional: a policy's condition or script decides.
type policyReport struct {
	Situation   string `json:"situation"`
	Action      string `json:"action"`
	Default     bool   `json:"default,omitempty"`
	Conditional bool   `json:"conditional,omitempty"`
}

// jobGroup is one launch group: its order and its tasks, run in parallel.
type jobGroup struct {
	Order int      `json:"order"`
	Tasks []string `json:"tasks"`
}

type problem struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Pointer string `json:"pointer,omitempty"`
	Message string `json:"message"`
}

type schedulerReport struct {
	ThreadCount                int    `json:"threadCount"`
	ExecutePersistentSchedules bool   `json:"executePersistentSchedules"`
	MisfireThreshold           string `json:"misfireThreshold"`
	TimeZone                   string `json:"timeZone"`
}

type scheduleReport struct {
	ID        string   `json:"id"`
	File      string   `json:"file"`
	Type      string   `json:"type"`
	Enabled   bool     `json:"enabled"`
	Persisted bool     `json:"persisted"`
	Service   string   `json:"service"`
	TimeZone  string   `json:"timeZone"`
	Trigger   string   `json:"trigger"`
	Next      []string `json:"next"` // RFC 3339 in the schedule's zone; empty when disabled or ended

	Description string `json:"description,omitempty"`
}

// changesReport is what changes from the --against directory. Its schedules
// that failed validation count as absent there, and are listed in
// AgainstErrors so that a schedule is never shown as added in silence.
type changesReport struct {
	Against       string         `json:"against"`
	AgainstErrors []problem      `json:"againstErrors"`
	Added         []string       `json:"added"`
	Removed       []string       `json:"removed"`
	Changed       []changeReport `json:"changed"`
	Scheduler     []string       `json:"scheduler"`
}

// changeReport is one changed schedule and the keys that differ.
type changeReport struct {
	ID   string   `json:"id"`
	Keys []string `json:"keys"`
}

// nonNil makes a nil list an empty one, so that JSON shows [] and not null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func problems(errs []error) []problem {
	out := make([]problem, 0, len(errs))
	for _, e := range errs {
		var fe *config.FileError
		if errors.As(e, &fe) {
			out = append(out, problem{File: fe.File, Line: fe.Line, Column: fe.Col, Pointer: fe.Pointer, Message: fe.Err.Error()})
			continue
		}
		out = append(out, problem{Message: e.Error()})
	}
	return out
}

func buildReport(d *config.Desired, base *config.Desired, opts validateOptions) report {
	r := report{
		Dir:      opts.dir,
		Valid:    d.Valid(),
		At:       opts.at,
		Errors:   problems(d.AllErrors()),
		Warnings: problems(d.AllWarnings()),
		Scheduler: &schedulerReport{
			ThreadCount:                d.Scheduler.ThreadCount,
			ExecutePersistentSchedules: d.Scheduler.ExecutePersistentSchedules,
			MisfireThreshold:           d.Scheduler.MisfireThreshold.String(),
			TimeZone:                   zoneName(d.Scheduler.Location, opts.at),
		},
		Schedules: []scheduleReport{},
	}
	for _, id := range d.IDs() {
		s := d.Schedules[id]
		sr := scheduleReport{
			ID: id, File: s.File, Type: s.Type, Enabled: s.Enabled, Persisted: s.Persisted,
			Service: s.InvokeService, TimeZone: zoneName(s.Location, opts.at), Trigger: describeTrigger(s),
			Description: s.Description, Next: []string{},
		}
		if s.Enabled {
			for _, t := range nextFires(s, d.Scheduler.Location, opts.at, 5) {
				sr.Next = append(sr.Next, t.Format(time.RFC3339))
			}
		}
		r.Schedules = append(r.Schedules, sr)
	}
	r.Jobs = []jobReport{}
	for _, id := range d.JobIDs() {
		j := d.Jobs[id]
		jr := jobReport{ID: id, File: j.File, DisplayName: j.DisplayName, Schedule: j.Schedule, Groups: []jobGroup{}}
		for _, g := range jobs.Plan(j) {
			jg := jobGroup{Order: g.Order}
			for _, i := range g.Tasks {
				t := j.Tasks[i]
				jg.Tasks = append(jg.Tasks, t.ID)
			}
			jr.Groups = append(jr.Groups, jg)
		}
		r.Jobs = append(r.Jobs, jr)
	}
	r.Connectors = connectorReports(d)
	r.Mappings = mappingReports(d)
	if base != nil {
		p := config.Diff(base, d)
		c := &changesReport{Against: opts.against, AgainstErrors: problems(base.AllErrors()),
			Added: nonNil(p.Added), Removed: nonNil(p.Removed), Changed: []changeReport{}, Scheduler: nonNil(p.Scheduler)}
		for _, ch := range p.Changed {
			c.Changed = append(c.Changed, changeReport{ID: ch.ID, Keys: nonNil(ch.Keys)})
		}
		r.Changes = c
	}
	return r
}

func printReport(w io.Writer, r report) {
	if c := r.Changes; c != nil {
		fmt.Fprintf(w, "Changes from %s to %s:\n", c.Against, r.Dir)
		for _, e := range c.AgainstErrors {
			fmt.Fprintf(w, "  ! %s\n", problemLine(e))
		}
		if len(c.AgainstErrors) > 0 {
			fmt.Fprintf(w, "    (invalid in %s: what those files hold counts as absent there)\n", c.Against)
		}
		if len(c.Added)+len(c.Removed)+len(c.Changed)+len(c.Scheduler) == 0 {
			fmt.Fprintln(w, "  none")
		}
		for _, id := range c.Added {
			fmt.Fprintf(w, "  + %s (added)\n", id)
		}
		for _, id := range c.Removed {
			fmt.Fprintf(w, "  - %s (removed)\n", id)
		}
		for _, ch := range c.Changed {
			fmt.Fprintf(w, "  ~ %s: %s\n", ch.ID, strings.Join(ch.Keys, ", "))
		}
		if len(c.Scheduler) > 0 {
			fmt.Fprintf(w, "  ~ scheduler: %s\n", strings.Join(c.Scheduler, ", "))
		}
		fmt.Fprintln(w)
	}
	if !r.Valid {
		return
	}
	fires := "fires"
	if !r.Scheduler.ExecutePersistentSchedules {
		fires = "does not fire"
	}
	enabled := 0
	for _, s := range r.Schedules {
		if s.Enabled {
			enabled++
		}
	}
	fmt.Fprintf(w, "%s: valid, %s (%d enabled)", r.Dir, plural(len(r.Schedules), "schedule"), enabled)
	if len(r.Jobs) > 0 {
		fmt.Fprintf(w, ", %s", plural(len(r.Jobs), "job"))
	}
	if len(r.Connectors) > 0 {
		fmt.Fprintf(w, ", %s", plural(len(r.Connectors), "connector"))
	}
	if len(r.Mappings) > 0 {
		fmt.Fprintf(w, ", %s", plural(len(r.Mappings), "mapping"))
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintf(w, ", %s", plural(len(r.Warnings), "warning"))
	}
	fmt.Fprintf(w, "\nscheduler: %d threads, misfire threshold %s, default zone %s; this node %s persisted schedules\n",
		r.Scheduler.ThreadCount, r.Scheduler.MisfireThreshold, r.Scheduler.TimeZone, fires)
	fmt.Fprintf(w, "next fire times from %s\n", r.At.Format(time.RFC3339))
	for _, s := range r.Schedules {
		state := "enabled"
		if !s.Enabled {
			state = "disabled"
		}
		persisted := "in memory"
		if s.Persisted {
			persisted = "persisted"
		}
		fmt.Fprintf(w, "\n%s  (%s)\n", s.ID, s.File)
		if s.Description != "" {
			fmt.Fprintf(w, "  %s\n", s.Description)
		}
		fmt.Fprintf(w, "  %s, %s, %s, service %s, zone %s\n", s.Type, state, persisted, s.Service, s.TimeZone)
		fmt.Fprintf(w, "  trigger: %s\n", s.Trigger)
		switch {
		case !s.Enabled:
			fmt.Fprintln(w, "  next:   none (disabled)")
		case len(s.Next) == 0:
			fmt.Fprintln(w, "  next:   none (the trigger has ended)")
		default:
			for i, t := range s.Next {
				label := "         "
				if i == 0 {
					label = "  next:  "
				}
				fmt.Fprintf(w, "%s %s\n", label, t)
			}
		}
	}
	for _, j := range r.Jobs {
		fmt.Fprintf(w, "\njob %s  (%s)\n", j.ID, j.File)
		if j.DisplayName != "" {
			fmt.Fprintf(w, "  %s\n", j.DisplayName)
		}
		if j.Schedule != "" {
			fmt.Fprintf(w, "  started by the schedule %s\n", config.JobScheduleID(j.ID))
		}
		for _, g := range j.Groups {
			fmt.Fprintf(w, "  launch order %d: %s\n", g.Order, strings.Join(g.Tasks, ", "))
		}
	}
	printSync(w, r)
}

// problemLine renders a problem as file:line:col: message.
func problemLine(p problem) string {
	return (&config.FileError{File: p.File, Line: p.Line, Col: p.Column, Err: errors.New(p.Message)}).Error()
}

// zoneName names a zone; the server's zone ("Local") with its abbreviation.
func zoneName(loc *time.Location, at time.Time) string {
	if loc == time.Local {
		abbr, _ := at.In(loc).Zone()
		return "Local (" + abbr + ")"
	}
	return loc.String()
}

// describeTrigger describes a schedule's trigger in a line.
func describeTrigger(s *config.Schedule) string {
	var b strings.Builder
	switch s.Type {
	case config.TypeCron:
		b.WriteString(s.CronSpec)
		if s.Cron != nil {
			b.WriteString(": " + s.Cron.Describe())
		}
	default:
		switch {
		case s.RepeatCount == 0:
			b.WriteString("once")
		case s.RepeatInterval == 0:
			fmt.Fprintf(&b, "%d fires at once", s.RepeatCount+1)
		case s.RepeatCount < 0:
			b.WriteString("every " + humanDuration(s.RepeatInterval) + ", forever")
		default:
			fmt.Fprintf(&b, "every %s, %d fires in all", humanDuration(s.RepeatInterval), s.RepeatCount+1)
		}
		if !s.StartTime.IsZero() {
			b.WriteString(", from " + s.StartTime.In(s.Location).Format(time.RFC3339))
		} else {
			b.WriteString(", from when it is loaded")
		}
	}
	if !s.EndTime.IsZero() {
		b.WriteString(", until " + s.EndTime.In(s.Location).Format(time.RFC3339))
	}
	fmt.Fprintf(&b, "; misfire: %s", s.MisfirePolicy)
	return b.String()
}

// humanDuration writes a repeat interval in the largest whole unit.
func humanDuration(d time.Duration) string {
	units := []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}, {time.Second, "second"}, {time.Millisecond, "millisecond"}}
	for _, u := range units {
		if d%u.d == 0 {
			n := int64(d / u.d)
			if n == 1 {
				return u.name
			}
			return fmt.Sprintf("%d %ss", n, u.name)
		}
	}
	return d.String()
}

// nextFires returns up to n fire times of the schedule's trigger as if it
// were created at at, in the schedule's zone: the trigger the scheduler
// arms (config.Schedule.Trigger), previewed by trigger.Spec.Preview.
func nextFires(s *config.Schedule, defaultLoc *time.Location, at time.Time, n int) []time.Time {
	spec, err := s.Trigger(config.TriggerOptions{DefaultLocation: defaultLoc})
	if err != nil {
		return nil // a loaded schedule converts; the loader reported any error
	}
	fires := spec.Preview(at, n)
	for i, t := range fires {
		fires[i] = t.In(spec.Location)
	}
	return fires
}
