package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ with what the commands print now")

// checkGolden compares what a command did with testdata/golden/<name>.golden,
// or rewrites the file under -update.
func checkGolden(t *testing.T, name string, code int, stdout, stderr string) {
	t.Helper()
	got := fmt.Sprintf("exit %d\n-- stdout --\n%s-- stderr --\n%s", code, stdout, stderr)
	path := filepath.Join("testdata", "golden", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file %s (go test -update rewrites it)\n--- got:\n%s\n--- want:\n%s", name, path, got, want)
	}
}

// TestValidateGolden runs validate on the conf directories under
// testdata/validate, in both formats, and compares all it prints.
func TestValidateGolden(t *testing.T) {
	const at = "2026-01-01T09:30:00Z"
	dir := func(name string) string { return filepath.Join("testdata", "validate", name) }
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"plan", []string{dir("plan")}},
		{"invalid", []string{dir("invalid")}},
		{"mappings", []string{dir("mappings")}},
		{"sync", []string{filepath.Join("..", "..", "examples", "reconcile", "conf")}},
		{"missing", []string{dir("missing")}},
		{"against", []string{"--against", dir("against-base"), dir("against-head")}},
		{"against-missing", []string{"--against", dir("missing"), dir("plan")}},
	} {
		for _, format := range []string{"text", "json"} {
			t.Run(tc.name+"/"+format, func(t *testing.T) {
				code, stdout, stderr := runCLI(append([]string{"validate", "--format", format, "--at", at}, tc.args...)...)
				if format == "json" && stderr != "" {
					t.Errorf("--format json wrote to stderr: %q", stderr)
				}
				if format == "json" && !strings.HasPrefix(stdout, "{") {
					t.Errorf("--format json: stdout is not a JSON document: %q", stdout)
				}
				checkGolden(t, "validate-"+tc.name+"."+format, code, stdout, stderr)
			})
		}
	}
}
