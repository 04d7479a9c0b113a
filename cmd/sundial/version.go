package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func init() { register(newVersionCmd) }

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print Sundial's version and the Go version it was built with",
		Example: "  sundial version",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			version, goVersion := "(devel)", "unknown"
			if bi, ok := debug.ReadBuildInfo(); ok {
				goVersion = bi.GoVersion
				if v := bi.Main.Version; v != "" {
					version = v
				}
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" {
						version += " " + s.Value
					}
				}
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "sundial %s (%s)\n", version, goVersion)
			return err
		},
	}
}
