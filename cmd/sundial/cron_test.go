package main

import (
	"bufio"
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestCronNextVectors runs every Quartz oracle vector through the CLI
// contract: `sundial cron next --tz ZONE --from FROM -n N EXPR` prints one
// RFC 3339 instant per line with exit 0, nothing for NEVER, and nothing on
// stdout with exit 2 for INVALID.
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

func TestCronNextUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"cron", "next"},
		{"cron", "next", "--tz", "Nowhere/City", "* * * * * ?"},
		{"cron", "next", "--from", "yesterday", "* * * * * ?"},
		{"cron", "next", "-n", "-1", "* * * * * ?"},
		{"cron", "next", "0 0 12 * * MON"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 2 || stdout.Len() != 0 || stderr.Len() == 0 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 with a message on stderr only", args, code, stdout.String(), stderr.String())
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
