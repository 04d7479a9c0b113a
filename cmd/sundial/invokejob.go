package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"sundial/engine/apiclient"
	"sundial/engine/jobs"
	"sundial/engine/store"
)

func init() { register(newInvokeJobCmd) }

// The exit statuses of invoke-job for a job that did not complete: 3, 5
// and 7 are Usercube's state codes for errored, blocked and warning.
const (
	exitJobErrored     = 3
	exitJobBlocked     = 5
	exitJobCancelled   = 6
	exitJobWarning     = 7
	exitJobInterrupted = 8
)

type invokeJobOptions struct {
	job      string
	repair   bool
	force    int64
	interval time.Duration
	start    jobs.StartOptions
}

func newInvokeJobCmd() *cobra.Command {
	var o invokeJobOptions
	cmd := &cobra.Command{
		Use:   "invoke-job -j JOB [flags]",
		Short: "Run a multi-step job on a running daemon and follow it to its end",
		Long: `Invoke-job starts the job JOB (conf/job-JOB.yaml) on a running daemon, as
Usercube-Invoke-Job does, and follows it: a progress bar on a terminal, one line per
task state when piped. -b and -e bound the launch groups that run (a launch order
or a task id, inclusive); -t, -c and -s select inside them (only one of them): a
single task, the first task of a type, every task whose id contains a text.

-r resumes the newest blocked instance of JOB: a blocked synchronization applies
its staged changes, a blocked provisioning reruns forced, then the tasks that had
not started run. -f N resumes the instance whose task instance N is blocked.

Exit status: 0 completed; 7 warning; 3 errored; 5 blocked; 6 cancelled;
8 interrupted (the daemon stopped); 1 and 2 as every command.`,
		Example: "  sundial invoke-job -j AD_Synchronization --api-secret-file var/admin.secret\n" +
			"  sundial invoke-job -j AD_Synchronization -r --api-url http://127.0.0.1:8080 --api-client-id ci --api-secret s3cret\n" +
			"  sundial invoke-job -j Nightly -b Sync_AD -e 4 -s _AD",
		Args: exactArgs(0),
	}
	f := cmd.Flags()
	api := addAPIFlags(f)
	f.StringVarP(&o.job, "job-identifier", "j", "", "the job to run (required)")
	f.BoolVarP(&o.repair, "repair-job", "r", false, "resume the newest blocked instance of the job")
	f.StringVarP(&o.start.Begin, "begin-job-step", "b", "", "the first launch group to run: a launch order or a task id")
	f.StringVarP(&o.start.End, "end-job-step", "e", "", "the last launch group to run: a launch order or a task id")
	f.StringVarP(&o.start.Task, "task-identifier", "t", "", "run only this task")
	f.Int64VarP(&o.force, "force-synchronization-provisioning", "f", 0, "resume the instance whose task instance N is blocked")
	f.StringVarP(&o.start.Type, "task-type", "c", "", "run the first task of this type")
	f.StringVarP(&o.start.Contains, "task-string-contains", "s", "", "run every task whose id contains this text")
	f.DurationVar(&o.interval, "poll", 500*time.Millisecond, "how often the progress is read")
	cmd.RunE = apiCommand(api, func(ctx context.Context, c *apiclient.Client, _ []string, out io.Writer) error {
		if o.job == "" {
			return usageError(errors.New("-j/--job-identifier is required"))
		}
		if o.interval <= 0 {
			return usageError(fmt.Errorf("--poll %s: must be positive", o.interval))
		}
		if (o.repair || o.force != 0) && (o.start != jobs.StartOptions{}) {
			return usageError(errors.New("-r and -f resume an instance with its own options: -b, -e, -t, -c and -s do not apply"))
		}
		ji, err := startOrResume(ctx, c, o)
		if err != nil {
			return err
		}
		ji, err = follow(ctx, c, ji, o.interval, out, isTerminal(out))
		if err != nil {
			return err
		}
		return jobExit(ji)
	})
	return cmd
}

func startOrResume(ctx context.Context, c *apiclient.Client, o invokeJobOptions) (apiclient.JobInstance, error) {
	switch {
	case o.force != 0:
		ti, err := c.TaskInstance(ctx, o.force)
		if err != nil {
			return apiclient.JobInstance{}, err
		}
		ji, err := c.JobInstance(ctx, ti.JobInstanceID)
		if err != nil {
			return ji, err
		}
		if ji.JobID != o.job {
			return ji, fmt.Errorf("task instance %d belongs to job %s, not %s", o.force, ji.JobID, o.job)
		}
		if ti.State != store.JobBlocked {
			return ji, fmt.Errorf("task instance %d (%s) is %s, not blocked", o.force, ti.TaskID, ti.State)
		}
		return c.ResumeJob(ctx, ji.ID)
	case o.repair:
		list, err := c.JobInstances(ctx, fmt.Sprintf(`/jobId eq %q and /state eq "blocked"`, o.job))
		if err != nil {
			return apiclient.JobInstance{}, err
		}
		if len(list) == 0 {
			return apiclient.JobInstance{}, fmt.Errorf("job %s has no blocked instance to resume", o.job)
		}
		return c.ResumeJob(ctx, list[0].ID)
	}
	return c.StartJob(ctx, o.job, o.start)
}

// follow polls the instance until it ends, printing its progress.
func follow(ctx context.Context, c *apiclient.Client, ji apiclient.JobInstance, every time.Duration, out io.Writer, tty bool) (apiclient.JobInstance, error) {
	fmt.Fprintf(out, "job %s: instance %d %s\n", ji.JobID, ji.ID, ji.State)
	seen := map[int64]string{}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		var err error
		if ji, err = c.JobInstance(ctx, ji.ID); err != nil {
			return ji, err
		}
		tasks, err := c.TaskInstances(ctx, ji.ID)
		if err != nil {
			return ji, err
		}
		if tty {
			fmt.Fprintf(out, "\r%s", progressBar(ji, tasks, 30))
		}
		for _, ti := range tasks {
			if seen[ti.ID] == ti.State {
				continue
			}
			seen[ti.ID] = ti.State
			if tty {
				fmt.Fprint(out, "\r\033[K")
			}
			fmt.Fprintln(out, taskLine(ti))
			if tty {
				fmt.Fprintf(out, "\r%s", progressBar(ji, tasks, 30))
			}
		}
		if ji.State != store.JobRunning {
			if tty {
				fmt.Fprint(out, "\r\033[K")
			}
			fmt.Fprintf(out, "job %s: instance %d %s: %s\n", ji.JobID, ji.ID, ji.State, ji.Message)
			return ji, nil
		}
		select {
		case <-ctx.Done():
			return ji, ctx.Err()
		case <-tick.C:
		}
	}
}

func taskLine(ti apiclient.TaskInstance) string {
	name := ti.TaskID
	switch {
	case ti.Validation:
		name += " (validation)"
	case ti.ResumeOf != 0:
		name += " (forced)"
	}
	line := fmt.Sprintf("  group %d  %-32s %-9s task instance %d", ti.Group, name, ti.State, ti.ID)
	if ti.Message != "" {
		line += "  " + ti.Message
	}
	return line
}

// progressBar draws the launch groups done out of the total.
func progressBar(ji apiclient.JobInstance, tasks []apiclient.TaskInstance, width int) string {
	done := max(ji.CurrentGroup-1, 0)
	if ji.State != store.JobRunning {
		done = ji.CurrentGroup
	}
	filled := 0
	if ji.TotalGroups > 0 {
		filled = width * done / ji.TotalGroups
	}
	running := 0
	for _, t := range tasks {
		if t.State == store.JobRunning {
			running++
		}
	}
	return fmt.Sprintf("[%s%s] group %d/%d, %d task(s) running", strings.Repeat("#", filled), strings.Repeat(".", width-filled), ji.CurrentGroup, ji.TotalGroups, running)
}

// jobExit is the command's end for a job instance's final state.
func jobExit(ji apiclient.JobInstance) error {
	code := 0
	switch ji.State {
	case store.JobCompleted:
		return nil
	case store.JobWarning:
		code = exitJobWarning
	case store.JobErrored:
		code = exitJobErrored
	case store.JobBlocked:
		code = exitJobBlocked
	case store.JobCancelled:
		code = exitJobCancelled
	default:
		code = exitJobInterrupted
	}
	where := ""
	if ji.StoppedAt != "" {
		where = " at task " + ji.StoppedAt
	}
	return &exitError{code: code, err: fmt.Errorf("job %s instance %d ended %s%s: %s", ji.JobID, ji.ID, ji.State, where, ji.Message)}
}
