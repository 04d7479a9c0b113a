package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const queryVectors = "../../engine/query/testdata/crest-query-public.tsv"

// TestQueryCheckVectors runs ForgeRock's vectors through the CLI contract:
// one line ID, PARSES, DETAIL, MATCHES, CREST per case, DETAIL exact for a
// filter that parses, MATCHES the IDM column, CREST the CREST one, exit 0.
func TestQueryCheckVectors(t *testing.T) {
	want := map[string][]string{}
	var ids []string
	f, err := os.Open(queryVectors)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			c := strings.Split(line, "\t")
			ids = append(ids, c[0])
			want[c[0]] = c
		}
	}
	for _, input := range []string{"file", "stdin"} {
		t.Run(input, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := []string{"query", "check", queryVectors}
			var code int
			if input == "stdin" {
				data, err := os.ReadFile(queryVectors)
				if err != nil {
					t.Fatal(err)
				}
				if err := runQueryCheck("-", bytes.NewReader(data), &stdout); err != nil {
					t.Fatal(err)
				}
			} else {
				code = run(args, &stdout, &stderr)
			}
			if code != 0 || stderr.Len() != 0 {
				t.Fatalf("exit %d, stderr %q", code, stderr.String())
			}
			lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
			if len(lines) != len(ids) {
				t.Fatalf("%d lines, want %d", len(lines), len(ids))
			}
			var parses, detail, matches, crest int
			for i, line := range lines {
				got := strings.Split(line, "\t")
				w := want[ids[i]]
				if len(got) != 5 || got[0] != ids[i] {
					t.Errorf("line %d = %q, want 5 columns for %s", i+1, line, ids[i])
					continue
				}
				var s string
				if err := json.Unmarshal([]byte(got[2]), &s); err != nil {
					t.Errorf("%s: DETAIL %s is not a JSON string: %v", ids[i], got[2], err)
				}
				if got[1] == w[3] {
					parses++
				} else {
					t.Errorf("%s: PARSES %s, want %s", ids[i], got[1], w[3])
				}
				if w[3] == "false" || got[2] == w[4] {
					detail++
				} else {
					t.Errorf("%s: DETAIL %s, want %s", ids[i], got[2], w[4])
				}
				if got[3] == w[5] {
					matches++
				} else {
					t.Errorf("%s: MATCHES %s, want %s", ids[i], got[3], w[5])
				}
				if got[4] == w[6] {
					crest++
				} else {
					t.Errorf("%s: CREST %s, want %s", ids[i], got[4], w[6])
				}
			}
			t.Logf("PARSES %d/%d, DETAIL %d/%d, MATCHES %d/%d, CREST %d/%d", parses, len(ids), detail, len(ids), matches, len(ids), crest, len(ids))
		})
	}
}

func TestQueryCheckMalformedLines(t *testing.T) {
	in := "# comment\n\nonly-id\nbad-json\tnot json\t{}\nnot-object\t\"true\"\t[1]\nok\t\"/a eq 1\"\t{\"a\":1}\textra\tcolumns\n"
	var stdout bytes.Buffer
	if err := runQueryCheck("-", strings.NewReader(in), &stdout); err != nil {
		t.Fatal(err)
	}
	want := "only-id\tfalse\t\"expected ID, FILTER and OBJECT separated by tabs\"\t-\t-\n" +
		"bad-json\tfalse\t\"FILTER is not a JSON string literal: invalid character 'o' in literal null (expecting 'u')\"\t-\t-\n" +
		"not-object\ttrue\t\"true\"\t-\t-\n" +
		"ok\ttrue\t\"/a eq 1\"\ttrue\ttrue\n"
	if stdout.String() != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout.String(), want)
	}
}

func TestQueryEval(t *testing.T) {
	dir := t.TempDir()
	jsonl := filepath.Join(dir, "users.jsonl")
	array := filepath.Join(dir, "users.json")
	one := filepath.Join(dir, "one.json")
	for path, data := range map[string]string{
		jsonl: "{\"_id\":\"1\",\"sunset\":{\"date\":\"2024-04-30T00:00:00.000Z\"}}\n\n" +
			"{\"_id\":\"2\",\"sunset\":{\"date\":\"2024-06-30T00:00:00.000Z\"}}\n" +
			"{\"_id\":\"3\",\"sunset\":{\"date\":\"2024-04-01T00:00:00.000Z\",\"task-completed\":\"x\"}}\n",
		array: `[{"_id":"1","n":-0},{"_id":"2","n":1e400},{"_id":"3","n":5}]`,
		one:   `{"userName":"BJensen"}`,
	} {
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sunset := `((/sunset/date lt "${Time.now + 1d}") AND !(/sunset/task-completed pr))`
	for _, c := range []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"object", []string{"query", "eval", `userName eq 'bjensen'`, "--object", `{"userName":"BJensen"}`}, 0, "true\n"},
		{"object false", []string{"query", "eval", `userName eq 'bjensen'`, "--object", `{"userName":["x"]}`}, 0, "false\n"},
		{"jsonl with macro", []string{"query", "eval", "--at", "2024-05-01T00:00:00Z", sunset, jsonl}, 0,
			"{\"_id\":\"1\",\"sunset\":{\"date\":\"2024-04-30T00:00:00.000Z\"}}\n"},
		{"array", []string{"query", "eval", "/n le 0 or /n gt 1.0e300", array}, 0, "{\"_id\":\"1\",\"n\":-0}\n{\"_id\":\"2\",\"n\":1e400}\n"},
		{"one object file", []string{"query", "eval", "/userName sw 'bj'", one}, 0, "true\n"},
		{"bad filter", []string{"query", "eval", "/a eq x", "--object", "{}"}, 2, ""},
		{"bad macro", []string{"query", "eval", `/a lt "${Time.now+1d}"`, "--object", "{}"}, 2, ""},
		{"no input", []string{"query", "eval", "true"}, 2, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(c.args, &stdout, &stderr)
			if code != c.code || stdout.String() != c.out {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout %q", code, stdout.String(), stderr.String(), c.code, c.out)
			}
			if c.code != 0 && stderr.Len() == 0 {
				t.Error("no message on stderr")
			}
		})
	}
}

func TestQueryExplain(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"query", "explain", "--at", "2024-05-01T10:15:30Z", "--tz", "Europe/Paris",
		`((/sunset/date lt "${Time.nowWithOffset + 1d}") AND !(/sunset/task-completed pr)) or /a myop 1`}, &stdout, &stderr)
	want := `canonical: ((/sunset/date lt "2024-05-02T12:15:30.000+02:00" and ! (/sunset/task-completed pr)) or /a myop 1)
macros:
  ${Time.nowWithOffset + 1d} (offset 19) = 2024-05-02T12:15:30.000+02:00
tree:
  or
    and
      /sunset/date lt "2024-05-02T12:15:30.000+02:00"
      not
        /sunset/task-completed pr
    /a myop 1  (extended operator: never matches)
expr: ((let v0 = m0; c0(v0) && f0(v0)) || false)
  m0 = /sunset
  c0 = /sunset/date lt "2024-05-02T12:15:30.000+02:00"
  f0 = ! (/sunset/task-completed pr)
`
	if code != 0 || stdout.String() != want {
		t.Errorf("exit %d, stderr %q, stdout:\n%s\nwant:\n%s", code, stderr.String(), stdout.String(), want)
	}
}
