package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dop251/goja"
	"github.com/dop251/goja/parser"
)

// jsError is a compile error with its position, as script.Check returns.
type jsError struct {
	name, msg string
	line, col int
}

func (e *jsError) Error() string             { return fmt.Sprintf("%s:%d:%d: %s", e.name, e.line, e.col, e.msg) }
func (e *jsError) Position() (line, col int) { return e.line, e.col }

// compileJS is a CheckScript that parses and compiles with goja, reporting
// where the parser stopped.
func compileJS(name string, src []byte) error {
	if _, err := parser.ParseFile(nil, name, string(src), 0); err != nil {
		var list parser.ErrorList
		if errors.As(err, &list) && len(list) > 0 {
			return &jsError{name: name, msg: "SyntaxError: " + list[0].Message, line: list[0].Position.Line, col: list[0].Position.Column}
		}
		return err
	}
	_, err := goja.Compile(name, string(src), false)
	var syn *goja.CompilerSyntaxError
	if errors.As(err, &syn) && syn.File != nil {
		p := syn.File.Position(syn.Offset)
		return &jsError{name: name, msg: "SyntaxError: " + syn.Message, line: p.Line, col: p.Column}
	}
	return err
}

// TestCheckScriptInline: an inline source that does not compile is an
// error in the schedule file, at the place of the offending character,
// through escapes and YAML blocks.
func TestCheckScriptInline(t *testing.T) {
	for _, c := range []struct {
		name, file, content string
		want                string // line:col: message prefix
	}{
		{"json one line", "schedule-a.json",
			`{"schedule": "0 0 * * * ?", "invokeService": "script", "invokeContext": {"script": {"type": "text/javascript", "source": "var x = ;"}}}`,
			`1:131: invokeContext.script.source: SyntaxError: Unexpected token ;`},
		{"json escapes before the error", "schedule-a.json",
			"{\"schedule\": \"0 0 * * * ?\", \"invokeService\": \"script\",\n \"invokeContext\": {\"script\": {\"type\": \"text/javascript\",\n  \"source\": \"var s = \\\"\\u00e9\\t\\\";\\nvar y = );\"}}}",
			`3:45: invokeContext.script.source: SyntaxError: Unexpected token )`},
		{"json non-ASCII before the error", "schedule-a.json",
			"{\"schedule\": \"0 0 * * * ?\", \"invokeService\": \"script\", \"invokeContext\": {\"script\": {\"type\": \"text/javascript\",\n\"source\": \"var é = 'ü'; var y = );\"}}}",
			`2:33: invokeContext.script.source: SyntaxError: Unexpected token )`},
		{"yaml literal block", "schedule-a.yaml",
			"schedule: 0 0 * * * ?\ninvokeService: script\ninvokeContext:\n  script:\n    type: text/javascript\n    source: |\n      var a = 1;\n      var b = (a +;\n",
			`8:19: invokeContext.script.source: SyntaxError: Unexpected token ;`},
		{"yaml plain", "schedule-a.yaml",
			"schedule: 0 0 * * * ?\ninvokeService: script\ninvokeContext:\n  script: {type: text/javascript, source: var x = ;}\n",
			`4:51: invokeContext.script.source: SyntaxError: Unexpected token ;`},
		{"task scan task script", "schedule-a.json",
			`{"schedule": "0 0 * * * ?", "invokeService": "taskscanner", "invokeContext": {"scan": {"_queryFilter": "true", "object": "managed/user",
  "taskState": {"started": "/s", "completed": "/c"}}, "task": {"script": {"type": "text/javascript", "source": "if ("}}}}`,
			`2:117: invokeContext.task.script.source: SyntaxError: Unexpected end of input`},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, c.file, c.content)
			d, err := Load(dir, LoadOptions{Env: noEnv, CheckScript: compileJS})
			if err != nil {
				t.Fatal(err)
			}
			errs := d.Errors[c.file]
			want := filepath.Join(dir, c.file) + ":" + c.want
			if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), want) || !errors.Is(errs[0], ErrScript) {
				t.Fatalf("errors = %v\nwant %s", errs, want)
			}
			if len(d.Schedules) != 0 {
				t.Error("a schedule whose script does not compile was loaded")
			}
			if d, _ := Load(dir, LoadOptions{Env: noEnv}); !d.Valid() {
				t.Errorf("without CheckScript: %v", d.AllErrors())
			}
		})
	}
}

// TestCheckScriptFiles: a script file that does not compile is reported at
// its own path:line:col, once read with the config files' rules; a good one
// passes; a symlink out of the scripts directory is refused.
func TestCheckScriptFiles(t *testing.T) {
	dir, scripts, outside := t.TempDir(), t.TempDir(), t.TempDir()
	write(t, scripts, "ok.js", "logger.info('fine');\n")
	write(t, scripts, "bad.js", "// header\nvar ok = 1;\nvar é = (ok +;\n")
	write(t, scripts, "big.js", "//"+strings.Repeat("x", maxFileSize))
	write(t, outside, "evil.js", "1")
	if err := os.Symlink(filepath.Join(outside, "evil.js"), filepath.Join(scripts, "evil.js")); err != nil {
		t.Fatal(err)
	}
	sched := func(file string) string {
		return `{"schedule": "0 0 * * * ?", "invokeService": "script", "invokeContext": {"script": {"type": "text/javascript", "file": "` + file + `"}}}`
	}
	write(t, dir, "schedule-ok.json", sched("script/ok.js"))
	write(t, dir, "schedule-bad.json", sched("bad.js"))
	write(t, dir, "schedule-bad2.json", sched("script/bad.js"))
	write(t, dir, "schedule-big.json", sched("big.js"))
	write(t, dir, "schedule-evil.json", sched("evil.js"))
	calls := map[string]int{}
	check := func(name string, src []byte) error {
		calls[name]++
		return compileJS(name, src)
	}
	d, err := Load(dir, LoadOptions{Env: noEnv, ScriptsDir: scripts, CheckScript: check})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(d.IDs(), ","); got != "ok" {
		t.Errorf("schedules = %s, want ok", got)
	}
	badJS := filepath.Join(scripts, "bad.js")
	for file, want := range map[string]string{
		"schedule-bad.json":  badJS + ":3:14: SyntaxError: Unexpected token ; (the invokeContext.script.file of " + filepath.Join(dir, "schedule-bad.json") + ")",
		"schedule-bad2.json": badJS + ":3:14: SyntaxError: Unexpected token ;",
		"schedule-big.json":  filepath.Join(dir, "schedule-big.json") + ":1:120: invokeContext.script.file: script file " + filepath.Join(scripts, "big.js") + ": file is larger than",
		"schedule-evil.json": filepath.Join(dir, "schedule-evil.json") + `:1:120: invokeContext.script.file: script file "evil.js": a symlink leads out of the scripts directory`,
	} {
		errs := d.Errors[file]
		if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), want) {
			t.Errorf("%s: errors = %v\nwant %s", file, errs, want)
		}
	}
	if calls[badJS] != 1 {
		t.Errorf("bad.js checked %d times, want once per Load", calls[badJS])
	}
}
