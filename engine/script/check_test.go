package script

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src       string
		line, col int
		msg       string
	}{
		{"var x = ;", 1, 9, "Unexpected token ;"},
		{"var a = 1;\nfunction f() {\n  return )\n}", 3, 10, "Unexpected token )"},
		{"let a = 1;\nlet a = 2;", 2, 5, "Identifier 'a' has already been declared"}, // from the compiler, not the parser
		{strings.Repeat(" ", MaxScriptSize) + "1", 0, 0, "larger than 1048576 bytes (1 MiB)"},
	}
	for _, tt := range tests {
		err := Check("schedule-x.json", []byte(tt.src))
		var pos interface{ Position() (line, col int) }
		if !errors.As(err, &pos) {
			t.Errorf("Check(%.40q) = %v, want an error with a Position", tt.src, err)
			continue
		}
		if l, c := pos.Position(); l != tt.line || (tt.line > 0 && c != tt.col) {
			t.Errorf("Check(%.40q) at %d:%d, want %d:%d (%v)", tt.src, l, c, tt.line, tt.col, err)
		}
		if !strings.Contains(err.Error(), "schedule-x.json") {
			t.Errorf("Check(%.40q) = %v, does not name the script", tt.src, err)
		}
		if tt.line == 0 {
			if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Check of a large script = %v", err)
			}
			continue
		}
		var se *SyntaxError
		if !errors.As(err, &se) || !strings.Contains(se.Message, tt.msg) {
			t.Errorf("Check(%.40q) = %v, want a *SyntaxError with %q", tt.src, err, tt.msg)
		}
	}
	if err := Check("ok.js", []byte("logger.info('x {}', 1); true")); err != nil {
		t.Errorf("Check of a good script = %v", err)
	}
	// A script exactly at the cap compiles.
	if err := Check("big.js", []byte(strings.Repeat(" ", MaxScriptSize-1)+"1")); err != nil {
		t.Errorf("Check of a script at the cap = %v", err)
	}
}

// TestCheck_SameAsRun: what Check rejects, a run rejects with the same
// error, and what Check accepts compiles at run time.
func TestCheck_SameAsRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, src := range []string{"var x = ;", "1 +", "return 1", "true"} {
		checkErr := Check("inline", []byte(src))
		_, runErr := b.engine.Run(context.Background(), Spec{Source: src}, Request{})
		if (checkErr == nil) != (runErr == nil) || (checkErr != nil && checkErr.Error() != runErr.Error()) {
			t.Errorf("%q: Check = %v, Run = %v", src, checkErr, runErr)
		}
	}
}

func TestRun_LargeScripts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.write(t, "big.js", strings.Repeat("// padding\n", MaxScriptSize/11+1)+"true")
	_, err := b.engine.Run(context.Background(), Spec{File: "script/big.js"}, Request{})
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "script/big.js: read big.js in") {
		t.Errorf("large file = %v", err)
	}
	if _, err := b.engine.Load(Spec{File: "big.js"}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Load of a large file = %v", err)
	}
	_, err = b.engine.Run(context.Background(), Spec{Source: strings.Repeat(" ", MaxScriptSize+1)}, Request{})
	if !errors.Is(err, ErrTooLarge) || err.Error() != "inline: script is too large: larger than 1048576 bytes (1 MiB)" {
		t.Errorf("large inline source = %v", err)
	}
}

// TestRun_NotRegular: a FIFO or a directory named like a script is an
// error, and reading it never blocks.
func TestRun_NotRegular(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if err := syscall.Mkfifo(filepath.Join(b.dir, "fifo.js"), 0o644); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	if err := os.Mkdir(filepath.Join(b.dir, "dir.js"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A candidate that is not a file is passed over for the next one.
	b.write(t, "script/x.js/keep", "")
	b.write(t, "x.js", "'x'")
	if v, err := b.engine.Run(context.Background(), Spec{File: "script/x.js"}, Request{}); v != "x" || err != nil {
		t.Errorf("script/x.js with a directory of that name = %v, %v, want x.js", v, err)
	}
	for _, f := range []string{"fifo.js", "script/fifo.js", "dir.js"} {
		_, err := b.engine.Run(context.Background(), Spec{File: f}, Request{})
		if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("%s: %v, want not a regular file", f, err)
		}
	}
}

// TestInvokeSchedule_OutputThroughLogger: without Stdout (the daemon with
// JSON logs), console.log and println lines, like logger records, are
// records of the engine's logger with the schedule and the fire id.
func TestInvokeSchedule_OutputThroughLogger(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.Stdout = nil })
	ic := map[string]any{"script": map[string]any{"type": TypeJavaScript,
		"source": "console.log('P ' + context.fireId); java.lang.System.out.println('q'); logger.info('r {}', 1)"}}
	rc := map[string]any{"fireId": "nightly@2026-01-01T00:00:00Z"}
	if err := b.engine.InvokeSchedule(context.Background(), "nightly", "", ic, rc); err != nil {
		t.Fatal(err)
	}
	recs := b.records(t)
	if len(recs) != 3 {
		t.Fatalf("records = %v", recs)
	}
	for i, msg := range []string{"P nightly@2026-01-01T00:00:00Z", "q", "r 1"} {
		r := recs[i]
		if r["msg"] != msg || r["schedule"] != "nightly" || r["fireId"] != "nightly@2026-01-01T00:00:00Z" ||
			r["logger"] != loggerPrefix+"nightly" || r["level"] != slog.LevelInfo.String() {
			t.Errorf("record %d = %v", i, r)
		}
	}
	if b.stdout.String() != "" {
		t.Errorf("stdout = %q, want nothing", b.stdout.String())
	}
}
