package cron

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"
)

// vector is one case answered by the real Quartz 2.3.2.
type vector struct {
	line   int
	zone   string
	from   time.Time
	n      int
	expr   string
	result string // INVALID, NEVER, or comma-separated RFC 3339 times
}

func loadVectors(t *testing.T, path string) []vector {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []vector
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for ln := 1; sc.Scan(); ln++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		// ZONE, FROM, N, then EXPR (may contain spaces, never a TAB), then RESULT.
		parts := strings.Split(line, "\t")
		if len(parts) < 5 {
			t.Fatalf("%s:%d: malformed vector", path, ln)
		}
		from, err := time.Parse(time.RFC3339, parts[1])
		if err != nil {
			t.Fatalf("%s:%d: %v", path, ln, err)
		}
		n, err := strconv.Atoi(parts[2])
		if err != nil {
			t.Fatalf("%s:%d: %v", path, ln, err)
		}
		out = append(out, vector{
			line: ln, zone: parts[0], from: from, n: n,
			expr:   strings.Join(parts[3:len(parts)-1], "\t"),
			result: parts[len(parts)-1],
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// answer computes what Sundial says for a vector, in the vector's format.
func answer(v vector) (string, error) {
	loc, err := time.LoadLocation(v.zone)
	if err != nil {
		return "", err
	}
	e, err := Parse(v.expr)
	if err != nil {
		return "INVALID", nil
	}
	var times []string
	t := v.from.In(loc)
	for i := 0; i < v.n; i++ {
		t = e.Next(t)
		if t.IsZero() {
			break
		}
		times = append(times, formatOffset(t))
	}
	if len(times) == 0 {
		return "NEVER", nil
	}
	return strings.Join(times, ","), nil
}

// formatOffset writes t as uuuu-MM-ddTHH:mm:ss±hh:mm (never Z), as the vectors do.
func formatOffset(t time.Time) string { return t.Format("2006-01-02T15:04:05-07:00") }

func TestQuartzVectors(t *testing.T) {
	vs := loadVectors(t, "testdata/quartz-cron-public.tsv")
	if len(vs) < 300 {
		t.Fatalf("only %d vectors loaded", len(vs))
	}
	vs = append(vs, loadVectors(t, "testdata/quartz-cron-extra.tsv")...)
	failed := 0
	for _, v := range vs {
		got, err := answer(v)
		if err != nil {
			t.Errorf("line %d: %v", v.line, err)
			continue
		}
		if got != v.result {
			failed++
			t.Errorf("line %d: %s from %s %q:\n got: %s\nwant: %s", v.line, v.zone, v.from.Format(time.RFC3339), v.expr, got, v.result)
		}
	}
	if failed > 0 {
		t.Logf("%d of %d vectors differ from Quartz", failed, len(vs))
	}
}
