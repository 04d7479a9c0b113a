package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"sundial/engine/apiclient"
	"sundial/engine/config"
	"sundial/engine/jobs"
)

func init() { register(newJobStepsCmd) }

func newJobStepsCmd() *cobra.Command {
	var job, conf, scripts string
	cmd := &cobra.Command{
		Use:   "job-steps -j JOB [flags]",
		Short: "Print the launch order of every task of a job, as Get-JobSteps does",
		Long: `Job-steps prints one line per task of the job JOB, "Task : <id>, Order : <n>",
in launch order from 0, byte for byte as Usercube-Get-JobSteps does. The job is
read from the conf directory (--conf, default conf/), or from a running daemon
when --api-url is given.`,
		Example: "  sundial job-steps -j AD_Synchronization\n  sundial job-steps -j AD_Synchronization --api-url http://127.0.0.1:8080 --api-secret-file var/admin.secret",
		Args:    exactArgs(0),
	}
	f := cmd.Flags()
	api := addAPIFlags(f)
	f.StringVarP(&job, "job-identifier", "j", "", "the job (required)")
	f.StringVar(&conf, "conf", "conf", "the conf directory")
	f.StringVar(&scripts, "scripts", "scripts", "the scripts directory")
	fromConf := func(out io.Writer) error {
		d, err := config.Load(conf, config.LoadOptions{ScriptsDir: scripts})
		if err != nil {
			return err
		}
		j := d.Jobs[job]
		if j == nil {
			for _, e := range d.AllErrors() {
				if fe := (*config.FileError)(nil); errors.As(e, &fe) && fe.File == fmt.Sprintf("%s/job-%s.yaml", conf, job) {
					return e
				}
			}
			return fmt.Errorf("job %s: no valid job-%s.yaml|json in %s", job, job, conf)
		}
		for _, s := range jobs.Steps(j) {
			fmt.Fprintf(out, "Task : %s, Order : %d\n", s.Task, s.Order)
		}
		return nil
	}
	remote := apiCommand(api, func(ctx context.Context, c *apiclient.Client, _ []string, out io.Writer) error {
		d, err := c.Job(ctx, job)
		if err != nil {
			return err
		}
		for _, s := range d.Steps {
			fmt.Fprintf(out, "Task : %s, Order : %d\n", s.Task, s.Order)
		}
		return nil
	})
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if job == "" {
			return usageError(errors.New("-j/--job-identifier is required"))
		}
		if cmd.Flags().Changed("api-url") {
			return remote(cmd, args)
		}
		return fromConf(cmd.OutOrStdout())
	}
	return cmd
}
