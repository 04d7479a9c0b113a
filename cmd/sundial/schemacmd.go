package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"sundial/schema"
)

func init() { register(newSchemaCmd) }

func newSchemaCmd() *cobra.Command {
	names := schema.Names()
	return &cobra.Command{
		Use:   "schema " + strings.Join(names, "|"),
		Short: "Print the JSON Schema of a configuration file kind",
		Long: `Schema prints the JSON Schema (draft 2020-12) that Sundial validates a kind of
configuration file against: schedule (schedule-<id>.json|yaml), scheduler
(scheduler.json) or job (job-<id>.yaml, provisional). Every property has a
description, so an editor that is given the schema offers completion and help.`,
		Example: `  sundial schema schedule > .vscode/sundial-schedule.schema.json
  # VS Code settings.json:
  #   "json.schemas": [{"fileMatch": ["conf/schedule-*.json"], "url": "./.vscode/sundial-schedule.schema.json"}],
  #   "yaml.schemas": {"./.vscode/sundial-schedule.schema.json": "conf/schedule-*.yaml"}`,
		ValidArgs: names,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError(fmt.Errorf("schema takes one of: %s", strings.Join(names, ", ")))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := schema.Get(args[0])
			if err != nil {
				return usageError(err)
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
}
