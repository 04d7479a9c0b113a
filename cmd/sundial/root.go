package main

import (
	"errors"
	"fmt"
	"strings"

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
	root.SetHelpCommand(newHelpCmd())
	for _, newCmd := range subcommands {
		root.AddCommand(newCmd())
	}
	return groupCmd(root)
}

// newHelpCmd is `sundial help [command]`; an unknown topic is a usage error.
func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "help [command]",
		Short:   "Help about any command",
		Example: "  sundial help cron next",
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := c.Root().Find(args)
			if err != nil || len(rest) > 0 {
				return usageError(fmt.Errorf("unknown help topic %q", strings.Join(args, " ")))
			}
			return cmd.Help()
		},
	}
}

// groupCmd makes a command that only holds subcommands (sundial, sundial cron)
// print its help when run bare and answer an unknown subcommand with a usage
// error (exit status 2), as cobra does not.
func groupCmd(c *cobra.Command) *cobra.Command {
	c.SuggestionsMinimumDistance = 2
	c.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += fmt.Sprintf("; did you mean %q?", s[0])
		}
		return usageError(errors.New(msg))
	}
	c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	return c
}
