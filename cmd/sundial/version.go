package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func init() { register(newVersionCmd) }

// version and commit are set at link time by `make build`
// (-ldflags "-X main.version=... -X main.commit=..."), from
// `git describe --always --dirty` and `git rev-parse HEAD`. A plain
// `go build` leaves them empty, and the build information fills them in.
var (
	version string
	commit  string
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print Sundial's version, the commit it was built from and the Go version",
		Example: "  sundial version",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), versionLine(version, commit, readBuildInfo()))
			return err
		},
	}
}

// buildInfo is what versionLine needs of runtime/debug.BuildInfo.
type buildInfo struct {
	goVersion   string // "" when unknown
	mainVersion string // the module version, "(devel)" for a source build
	revision    string // vcs.revision, "" without VCS stamping
	modified    bool   // vcs.modified
}

func readBuildInfo() buildInfo {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return buildInfo{}
	}
	info := buildInfo{goVersion: bi.GoVersion, mainVersion: bi.Main.Version}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.revision = s.Value
		case "vcs.modified":
			info.modified = s.Value == "true"
		}
	}
	return info
}

// versionLine renders `sundial VERSION (commit COMMIT, GOVERSION)`. The
// link-time values win; without them the module version and the VCS stamp
// of the build information are used: "devel" for a source build, and
// "unknown" for a commit or Go version nothing records.
func versionLine(ver, com string, bi buildInfo) string {
	if com == "" {
		com = bi.revision
		if com != "" && bi.modified {
			com += "-dirty"
		}
	}
	if ver == "" && bi.mainVersion != "" && bi.mainVersion != "(devel)" {
		ver = bi.mainVersion
	}
	if ver == "" {
		ver = "devel"
	}
	orUnknown := func(s string) string {
		if s == "" {
			return "unknown"
		}
		return s
	}
	return fmt.Sprintf("sundial %s (commit %s, %s)", orUnknown(ver), orUnknown(com), orUnknown(bi.goVersion))
}
