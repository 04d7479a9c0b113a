package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReconAgainstServe runs sundial recon, with and without --dry-run,
// against a real `sundial serve`.
func TestReconAgainstServe(t *testing.T) {
	t.Parallel()
	root, conf, scripts := newServeProject(t)
	for name, content := range map[string]string{
		"managed.json": `{"objects": [{"name": "src"}, {"name": "tgt"}]}`,
		"sync.json": `{"mappings": [{"name": "srcTgt", "source": "managed/src", "target": "managed/tgt", "allowEmptySourceSet": true,
			"properties": [{"source": "name", "target": "userName"}]}]}`,
	} {
		if err := os.WriteFile(filepath.Join(conf, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := startServe(t, "--conf", conf, "--scripts", scripts, "--listen", "127.0.0.1:0")
	addr := waitOutput(t, p.stderr, regexp.MustCompile(`msg="sundial started".* listen=(\S+)`), "the start line")[1]
	api := []string{"--api-url", "http://" + addr, "--api-secret-file", filepath.Join(root, "var", "admin.secret")}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"recon", "srcTgt"}, 0, `(?m)^reconciliation \S+ of srcTgt: SUCCESS in \d+ ms\nchanges: created 0, updated 0, deleted 0, linked 0, unlinked 0; entries failed 0\n$`},
		{[]string{"recon", "--dry-run", "srcTgt"}, 0, `^dry run \(plan stored under its id\) \S+ of srcTgt: SUCCESS`},
		{[]string{"recon", "-o", "json", "srcTgt"}, 0, `"situationSummary"`},
		{[]string{"recon", "nope"}, 1, `409 Conflict: No such mapping: nope`},
		{[]string{"recon", "-o", "json", "--id", "nobody", "srcTgt"}, 0, `"sourceIds":\s*\[\s*"nobody"\s*\]`},
	} {
		code, stdout, stderr := runCLI(append(tc.args, api...)...)
		out := stdout
		if code != 0 {
			out = stderr
		}
		if code != tc.code || !regexp.MustCompile(tc.want).MatchString(out) {
			t.Errorf("sundial %s: exit %d, want %d; output does not match %s:\n%s%s", strings.Join(tc.args, " "), code, tc.code, tc.want, stdout, stderr)
		}
	}
}
