package main

import (
	"github.com/spf13/cobra"
)

// subcommands holds the constructors of every subcommand; each command's file
// registers itself in an init function, so commands never edit each other's files.
var subcommands []func() *cobra.Command

func register(newCmd func() *cobra.Command) { subcommands = append(subcommands, newCmd) }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "sundial",
		Short: "Sundial schedules identity-management work from a git-managed conf directory",
		Long: `Sundial is a scheduler daemon for identity-management work. It watches a
configuration directory of ForgeRock-style schedule files, validates them against
JSON Schema, fires Quartz cron and simple triggers, and runs scripts, task scans
and jobs.`,
		Example:       "  sundial serve --conf conf/\n  sundial validate conf/\n  sundial cron next '0 15 10 L * ?'",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	for _, newCmd := range subcommands {
		root.AddCommand(newCmd())
	}
	return root
}
