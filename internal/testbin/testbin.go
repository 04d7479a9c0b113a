// Package testbin serves the tests that run `sundial` as a real process: it
// builds the binary and collects what a process writes. It is imported by
// tests only.
package testbin

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
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

// Output is an io.Writer that keeps what a process writes, safe to read
// while the process runs.
type Output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *Output) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// String returns everything written so far.
func (w *Output) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
