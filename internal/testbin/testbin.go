// Package testbin builds the sundial binary for the tests that run it as a
// real process (collect its output with internal/syncbuf). It is imported by
// tests only.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Build compiles sundial/cmd/sundial into dir (without the race detector:
// the processes under test need not pay for it) and returns its path.
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "sundial")
	gobin := filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	if out, err := exec.Command(gobin, "build", "-o", bin, "sundial/cmd/sundial").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build sundial: %v\n%s", err, out)
	}
	return bin, nil
}
