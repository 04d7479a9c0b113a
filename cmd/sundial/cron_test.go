package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestCronNextVectors runs every Quartz oracle vector through the CLI
// contract: `sundial cron next --tz ZONE --from FROM -n N EXPR` prints one
// RFC 3339 instant per line with exit 0, nothing on stdout for NEVER, and
// nothing on stdout with exit 2 for INVALID.
func TestCronNextVectors(t *testing.T) {
	f, err := os.Open("../../engine/cron/testdata/quartz-cron-public.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	cases := 0
	for ln := 1; sc.Scan(); ln++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p := strings.Split(line, "\t")
		zone, from, n, result := p[0], p[1], p[2], p[len(p)-1]
		expr := strings.Join(p[3:len(p)-1], "\t")
		var stdout, stderr bytes.Buffer
		code := run([]string{"cron", "next", "--tz", zone, "--from", from, "-n", n, expr}, &stdout, &stderr)
		cases++
		switch result {
		case "INVALID":
			if code != 2 || stdout.Len() != 0 || stderr.Len() == 0 {
				t.Errorf("line %d %q: exit %d, stdout %q, stderr %q; want exit 2, empty stdout, a message", ln, expr, code, stdout.String(), stderr.String())
			}
		case "NEVER":
			if code != 0 || stdout.Len() != 0 {
				t.Errorf("line %d %q: exit %d, stdout %q; want exit 0 and nothing", ln, expr, code, stdout.String())
			}
		default:
			want := strings.ReplaceAll(result, ",", "\n") + "\n"
			if code != 0 || stdout.String() != want {
				t.Errorf("line %d %q: exit %d, stdout:\n%s\nwant:\n%s", ln, expr, code, stdout.String(), want)
			}
		}
	}
	if cases < 300 {
		t.Fatalf("ran only %d cases", cases)
	}
}

// TestExitCodes checks the exit status of every kind of failure: 2 for a
// command line that cannot be understood and for `cron next` on an invalid
// expression or zone (the oracle contract), 1 for other valid commands on
// invalid input, with a message on stderr and nothing on stdout.
func TestExitCodes(t *testing.T) {
	valid := confDir(t, map[string]string{"schedule-a.json": cronHourly})
	invalid := confDir(t, map[string]string{"schedule-a.json": `{"schedule": "0 0 * * *", "invokeService": "sync"}`})
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"nope"}, 2},
		{[]string{"cron", "nope"}, 2},
		{[]string{"help", "nope"}, 2},
		{[]string{"help", "cron", "nope"}, 2},
		{[]string{"--no-such-flag"}, 2},
		{[]string{"cron", "next"}, 2},
		{[]string{"cron", "next", "a", "b"}, 2},
		{[]string{"cron", "next", "-n", "abc", "* * * * * ?"}, 2},
		{[]string{"cron", "next", "-n", "-1", "* * * * * ?"}, 2},
		{[]string{"cron", "next", "--from", "yesterday", "* * * * * ?"}, 2},
		{[]string{"cron", "next", "--tz", "Nowhere/City", "* * * * * ?"}, 2},
		{[]string{"cron", "next", "0 0 12 * * MON"}, 2},
		{[]string{"cron", "explain"}, 2},
		{[]string{"cron", "explain", "0 0 12 * * MON"}, 1},
		{[]string{"cron", "explain", "--tz", "Nowhere/City", "* * * * * ?"}, 1},
		{[]string{"version", "extra"}, 2},
		{[]string{"schema"}, 2},
		{[]string{"schema", "nope"}, 2},
		{[]string{"validate", "--format", "xml", valid}, 2},
		{[]string{"validate", valid, valid}, 2},
		{[]string{"validate", "--at", "tomorrow", valid}, 2},
		{[]string{"validate", "--no-such-flag", valid}, 2},
		{[]string{"validate", invalid}, 1},
		{[]string{"validate", filepath.Join(valid, "missing")}, 1},
		{[]string{"validate", "--against", filepath.Join(valid, "missing"), valid}, 1},
		{[]string{"serve", "extra"}, 2},
		{[]string{"serve", "--log-level", "loud"}, 2},
	} {
		code, stdout, stderr := runCLI(tc.args...)
		if code != tc.code || stdout != "" || stderr == "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit %d with a message on stderr only", tc.args, code, stdout, stderr, tc.code)
		}
	}
}

// TestUnknownCommandSuggests checks that a misspelt command gets a hint.
func TestUnknownCommandSuggests(t *testing.T) {
	for args, want := range map[string]string{
		"valdate":  `sundial: unknown command "valdate" for "sundial"; did you mean "validate"?` + "\n",
		"cron nxt": `sundial: unknown command "nxt" for "sundial cron"; did you mean "next"?` + "\n",
	} {
		if code, _, stderr := runCLI(strings.Fields(args)...); code != 2 || stderr != want {
			t.Errorf("%s: exit %d, stderr %q; want 2, %q", args, code, stderr, want)
		}
	}
}

// TestCronNextSaysWhyFewer checks that cron next explains on stderr, with
// exit 0, when the expression has fewer fire times than asked.
func TestCronNextSaysWhyFewer(t *testing.T) {
	for _, tc := range []struct {
		expr, stdout, stderr string
	}{
		{"0 0 0 1 1 ? 2027-2028", "2027-01-01T00:00:00+00:00\n2028-01-01T00:00:00+00:00\n",
			"sundial: only 2 fire times of 5: the expression has no fire time after 2028-01-01T00:00:00+00:00\n"},
		{"0 0 0 1 1 ? 2020", "", "sundial: no fire times: the expression has no fire time after 2026-06-01T00:00:00+00:00\n"},
		{"0 0 0 1 1 ? 2027-2031", "2027-01-01T00:00:00+00:00\n2028-01-01T00:00:00+00:00\n2029-01-01T00:00:00+00:00\n2030-01-01T00:00:00+00:00\n2031-01-01T00:00:00+00:00\n", ""},
	} {
		code, stdout, stderr := runCLI("cron", "next", "--tz", "UTC", "--from", "2026-06-01T00:00:00Z", "-n", "5", tc.expr)
		if code != 0 || stdout != tc.stdout || stderr != tc.stderr {
			t.Errorf("%q: exit %d\nstdout %q\nstderr %q\nwant exit 0\nstdout %q\nstderr %q", tc.expr, code, stdout, stderr, tc.stdout, tc.stderr)
		}
	}
}

func TestHelpHasExamples(t *testing.T) {
	root := newRootCmd()
	for _, c := range root.Commands() {
		if c.Example == "" && c.Name() != "help" && c.Name() != "completion" {
			t.Errorf("command %q has no example in --help", c.Name())
		}
		for _, sc := range c.Commands() {
			if sc.Example == "" {
				t.Errorf("command %q %q has no example in --help", c.Name(), sc.Name())
			}
		}
	}
}

func TestVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"version"}, &stdout, &stderr); code != 0 || !strings.HasPrefix(stdout.String(), "sundial ") {
		t.Errorf("version: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
}

func TestVersionLine(t *testing.T) {
	for _, tc := range []struct {
		name, version, commit string
		bi                    buildInfo
		want                  string
	}{
		{"make build", "v0.3.0-2-gabc1234-dirty", "abc1234def", buildInfo{goVersion: "go1.26.8", mainVersion: "(devel)"},
			"sundial v0.3.0-2-gabc1234-dirty (commit abc1234def, go1.26.8)"},
		{"go build with VCS stamping", "", "", buildInfo{goVersion: "go1.26.8", mainVersion: "(devel)", revision: "abc1234def", modified: true},
			"sundial devel (commit abc1234def-dirty, go1.26.8)"},
		{"go install of a module version", "", "", buildInfo{goVersion: "go1.26.8", mainVersion: "v1.2.3"},
			"sundial v1.2.3 (commit unknown, go1.26.8)"},
		{"nothing recorded", "", "", buildInfo{}, "sundial devel (commit unknown, unknown)"},
	} {
		if got := versionLine(tc.version, tc.commit, tc.bi); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestMakeBuildStampsVersion builds with `make build` and checks that
// `sundial version` names what git says of the checkout, or "unknown"
// outside one.
func TestMakeBuildStampsVersion(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "sundial")
	if out, err := exec.Command("make", "-s", "-C", "../..", "build", "BIN="+bin).CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("sundial version: %v\n%s", err, out)
	}
	git := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = "../.."
		b, err := cmd.Output()
		if err != nil {
			return "unknown"
		}
		return strings.TrimSpace(string(b))
	}
	want := fmt.Sprintf("sundial %s (commit %s, %s)\n", git("describe", "--always", "--dirty"), git("rev-parse", "HEAD"), runtime.Version())
	if string(out) != want {
		t.Errorf("sundial version = %q, want %q", out, want)
	}
}
