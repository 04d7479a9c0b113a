package script

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"sundial/internal/syncbuf"
)

type testBundle struct {
	engine *Engine
	dir    string          // the scripts directory
	stdout *syncbuf.Buffer // console.log and println
	logs   *syncbuf.Buffer // JSON slog records, every level
}

// records returns the logged records, decoded.
func (b *testBundle) records(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.logs.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("bad log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// messages returns "LEVEL msg" for each logged record.
func (b *testBundle) messages(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, r := range b.records(t) {
		out = append(out, r["level"].(string)+" "+r["msg"].(string))
	}
	return out
}

func (b *testBundle) write(t *testing.T, name, src string) {
	t.Helper()
	p := filepath.Join(b.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

func setup(t *testing.T, mod ...func(*Config)) *testBundle {
	t.Helper()
	b := &testBundle{dir: t.TempDir(), stdout: &syncbuf.Buffer{}, logs: &syncbuf.Buffer{}}
	cfg := Config{
		ScriptsDir: b.dir,
		Properties: map[string]string{"openidm.node.id": "node-1", "answer": "42"},
		Logger:     slog.New(slog.NewJSONHandler(b.logs, &slog.HandlerOptions{Level: slog.Level(-100)})),
		Stdout:     b.stdout,
	}
	for _, m := range mod {
		m(&cfg)
	}
	b.engine = New(cfg)
	return b
}

func run(t *testing.T, b *testBundle, src string, req Request) any {
	t.Helper()
	v, err := b.engine.Run(context.Background(), Spec{Source: src}, req)
	if err != nil {
		t.Fatalf("run %q: %v", src, err)
	}
	return v
}

func TestRun_Result(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		src  string
		want string // JSON of the exported value
	}{
		{"true", "true"},
		{"1 + 1", "2"},
		{"'a' + 'b'", `"ab"`},
		{"undefined", "null"},
		{"null", "null"},
		{"var x = 1;", "null"},
		{"({a: [1, 'x', {b: null}]})", `{"a":[1,"x",{"b":null}]}`},
		{"openidmPatch = function() {}; true;", "true"}, // the task-scan shape: last expression wins
	}
	for _, tt := range tests {
		got, err := json.Marshal(run(t, b, tt.src, Request{}))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tt.want {
			t.Errorf("%s = %s, want %s", tt.src, got, tt.want)
		}
	}
	// The task scanner requires exactly boolean true.
	if v := run(t, b, "true", Request{}); v != true {
		t.Errorf("true exported as %#v", v)
	}
}

// The seed's example schedule, unchanged (OpenIDM samples/schedules/schedule-script.json).
const seedSchedule = `{
    "enabled" : true,
    "type": "cron",
    "schedule": "0 0/1 * * * ?",
    "persisted" : true,
    "concurrentExecution" : false,
    "invokeService": "script",
    "invokeContext": {
        "script" : {
              "type" : "text/javascript",
              "source" : "java.lang.System.out.println('It is working: ' + input.edit);",
              "input": { "edit": 26}
            }
    }
}`

// The older sample, with input beside the script block.
const oldSeedSchedule = `{
    "invokeService": "script",
    "invokeContext": {
        "script" : {
              "type" : "text/javascript",
              "source" : "java.lang.System.out.println('It is working: ' + input.edit + ' ' + object.edit);"
            },
        "input": { "edit": 26}
    }
}`

// openidm-scheduler's test resource schedule-simple.json.
const simpleSchedule = `{
  "invokeService":"script",
  "invokeContext": {
    "script": {
      "type":"text/javascript",
      "source":"java.lang.System.out.println(new java.util.Date());"
    }
  }
}`

func invokeContextOf(t *testing.T, schedule string) map[string]any {
	t.Helper()
	var m struct {
		InvokeContext map[string]any `json:"invokeContext"`
	}
	if err := json.Unmarshal([]byte(schedule), &m); err != nil {
		t.Fatal(err)
	}
	return m.InvokeContext
}

func TestInvokeSchedule_SeedExamples(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	if err := b.engine.InvokeSchedule(ctx, "script", "info", invokeContextOf(t, seedSchedule), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.engine.InvokeSchedule(ctx, "script", "", invokeContextOf(t, oldSeedSchedule), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.engine.InvokeSchedule(ctx, "simple", "", invokeContextOf(t, simpleSchedule), nil); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.stdout.String()), "\n")
	if len(lines) != 3 || lines[0] != "It is working: 26" || lines[1] != "It is working: 26 26" {
		t.Fatalf("stdout = %q", lines)
	}
	if y := time.Now().Format("2006"); !strings.Contains(lines[2], y) {
		t.Errorf("java.util.Date printed %q", lines[2])
	}
}

func TestInvokeSchedule_Bindings(t *testing.T) {
	t.Parallel()
	b := setup(t)
	scheduled := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	runContext := map[string]any{
		"fireId":            "nightly@2026-11-22T10:00:00Z",
		"scheduledFireTime": scheduled,
		"actualFireTime":    scheduled.Add(1500 * time.Millisecond),
		"nextFireTime":      nil,
	}
	ic := map[string]any{
		"script": map[string]any{
			"type":    "text/javascript",
			"globals": map[string]any{"input": nil},
			"source": `console.log(context.fireId, context.scheduledFireTime, context.actualFireTime,
				context.nextFireTime, object.mappings[0], input)`,
		},
		"input": map[string]any{"mappings": []any{"%"}},
	}
	if err := b.engine.InvokeSchedule(context.Background(), "nightly", "info", ic, runContext); err != nil {
		t.Fatal(err)
	}
	want := "nightly@2026-11-22T10:00:00Z 2026-11-22T10:00:00.000Z 2026-11-22T10:00:01.500Z null % null\n"
	if got := b.stdout.String(); got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
}

func TestInvokeSchedule_Errors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		ic   map[string]any
		want string
	}{
		{map[string]any{}, "invokeContext has no script"},
		{map[string]any{"script": "x.js"}, "invokeContext.script must be an object, got a string"},
		{map[string]any{"script": map[string]any{"type": "groovy", "source": "1"}}, `invokeContext.script: "type": unsupported script type "groovy"`},
		{map[string]any{"script": map[string]any{"type": "text/javascript", "source": "nope()"}}, "inline:1:5: ReferenceError: nope is not defined"},
	}
	for _, tt := range tests {
		err := b.engine.InvokeSchedule(context.Background(), "s", "info", tt.ic, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("InvokeSchedule(%v) = %v, want %q", tt.ic, err, tt.want)
		}
	}
}

func TestRun_Logger(t *testing.T) {
	t.Parallel()
	b := setup(t)
	src := `
		logger.trace("t {}", 1);
		logger.debug("d {} {}", "a", "b");
		logger.info("user {} has {} roles: {}", "bjensen", 2, ["a", "b"]);
		logger.warn("obj {}", {mail: "b@example.com"});
		logger.error("fail: {}", new TypeError("boom"));
	`
	run(t, b, src, Request{Name: "sunset", LogLevel: "trace"})
	want := []string{
		"DEBUG-4 t 1",
		"DEBUG d a b",
		`INFO user bjensen has 2 roles: ["a","b"]`,
		`WARN obj {"mail":"b@example.com"}`,
		"ERROR fail: TypeError: boom",
	}
	if got := b.messages(t); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("logged\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, r := range b.records(t) {
		if r["logger"] != "org.forgerock.script.javascript.JavaScript.sunset" {
			t.Errorf("logger attribute = %v", r["logger"])
		}
	}
}

func TestRun_LogLevelFiltering(t *testing.T) {
	t.Parallel()
	src := `logger.trace("t"); logger.debug("d"); logger.info("i"); logger.warn("w"); logger.error("e");`
	tests := []struct {
		level string
		want  string
	}{
		{"trace", "t d i w e"},
		{"debug", "d i w e"},
		{"", "i w e"},
		{"info", "i w e"},
		{"INFO", "i w e"},
		{"warn", "w e"},
		{"error", "e"},
		{"fatal", "e"},
	}
	for _, tt := range tests {
		b := setup(t)
		run(t, b, src, Request{LogLevel: tt.level})
		var got []string
		for _, r := range b.records(t) {
			got = append(got, r["msg"].(string))
		}
		if strings.Join(got, " ") != tt.want {
			t.Errorf("level %q logged %q, want %q", tt.level, got, tt.want)
		}
	}

	b := setup(t)
	_, err := b.engine.Run(context.Background(), Spec{Source: "1"}, Request{LogLevel: "verbose"})
	if err == nil || !strings.Contains(err.Error(), `unknown log level "verbose"`) {
		t.Errorf("unknown level: %v", err)
	}

	// The handler's own level applies too.
	logs := &syncbuf.Buffer{}
	b = setup(t, func(c *Config) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	b.logs = logs
	run(t, b, src, Request{LogLevel: "trace"})
	if got := b.messages(t); strings.Join(got, ",") != "WARN w,ERROR e" {
		t.Errorf("handler at warn logged %q", got)
	}
}

func TestRun_IdentityServer(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.Properties["launcher.project.location"] = "/opt/project" })
	got := run(t, b, `[
		identityServer.getProperty("openidm.node.id"),
		identityServer.getProperty("answer", "x", true),
		identityServer.getProperty("missing", "fallback"),
		identityServer.getProperty("missing", 7),
		identityServer.getProperty("missing"),
		identityServer.getProjectLocation(),
		identityServer.getWorkingLocation(),
		identityServer.getInstallLocation() !== "",
	]`, Request{})
	want := []any{"node-1", "42", "fallback", int64(7), nil, "/opt/project", filepath.Join("/opt/project", "var"), true}
	if g, _ := json.Marshal(got); string(g) != mustJSON(t, want) {
		t.Errorf("got %s, want %s", g, mustJSON(t, want))
	}

	// New copies the properties.
	props := map[string]string{"k": "v"}
	e := New(Config{Properties: props})
	props["k"] = "changed"
	v, err := e.Run(context.Background(), Spec{Source: `identityServer.getProperty("k")`}, Request{})
	if err != nil || v != "v" {
		t.Errorf("getProperty after the caller's map changed = %v, %v", v, err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRun_ConsoleAndJavaShims(t *testing.T) {
	t.Parallel()
	b := setup(t)
	before := time.Now().UnixMilli()
	got := run(t, b, `
		console.log("a", 1, {b: [true]}, null, undefined);
		console.log();
		java.lang.System.out.println("x");
		java.lang.System.out.println();
		java.lang.System.currentTimeMillis();
	`, Request{})
	after := time.Now().UnixMilli()
	if want := "a 1 {\"b\":[true]} null undefined\n\nx\n\n"; b.stdout.String() != want {
		t.Errorf("stdout = %q, want %q", b.stdout.String(), want)
	}
	ms, ok := got.(int64)
	if !ok || ms < before || ms > after {
		t.Errorf("currentTimeMillis = %#v, want within [%d, %d]", got, before, after)
	}

	// Without Stdout, output lines become info records.
	b = setup(t, func(c *Config) { c.Stdout = nil })
	run(t, b, `console.log("hello"); java.lang.System.out.println("world")`, Request{Name: "s", LogLevel: "error"})
	recs := b.records(t)
	if len(recs) != 2 || recs[0]["msg"] != "hello" || recs[1]["msg"] != "world" || recs[0]["stream"] != "stdout" || recs[0]["level"] != "INFO" {
		t.Errorf("records = %v", recs)
	}
}

func TestRun_GlobalsAndBindings(t *testing.T) {
	t.Parallel()
	b := setup(t)
	spec, err := ParseSpec(map[string]any{
		"type":       "text/javascript",
		"source":     `[input.edit, limit, who, shared, typeof visibility, typeof _comment, typeof name]`,
		"input":      map[string]any{"edit": float64(26)},
		"shared":     "from block",
		"globals":    map[string]any{"limit": float64(10), "shared": "from globals"},
		"visibility": "public",
		"_comment":   "ignored",
		"name":       "n",
	})
	if err != nil {
		t.Fatal(err)
	}
	got := run2(t, b, spec, Request{Bindings: map[string]any{"who": "request"}})
	if g := mustJSON(t, got); g != `[26,10,"request","from globals","undefined","undefined","undefined"]` {
		t.Errorf("got %s", g)
	}

	// Request bindings win over the spec's.
	got = run2(t, b, spec, Request{Bindings: map[string]any{"who": "r", "shared": "from request"}})
	if g := mustJSON(t, got); !strings.Contains(g, `"from request"`) {
		t.Errorf("got %s", g)
	}

	// A request binding may not shadow a built-in.
	_, err = b.engine.Run(context.Background(), spec, Request{Bindings: map[string]any{"logger": 1}})
	if err == nil || !strings.Contains(err.Error(), `binding "logger" would shadow the built-in binding`) {
		t.Errorf("shadowing logger: %v", err)
	}
}

func run2(t *testing.T, b *testBundle, spec Spec, req Request) any {
	t.Helper()
	v, err := b.engine.Run(context.Background(), spec, req)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestRun_BindingValues(t *testing.T) {
	t.Parallel()
	b := setup(t)
	type named string
	type point struct {
		X int `json:"x"`
	}
	when := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.FixedZone("x", 3600))
	got := run(t, b, `JSON.stringify([a, b, c, d, e, f, g, h])`, Request{Bindings: map[string]any{
		"a": when,
		"b": named("n"),
		"c": []string{"x", "y"},
		"d": map[string]int{"k": 1},
		"e": point{X: 3},
		"f": json.Number("1.5"),
		"g": (*point)(nil),
		"h": []byte("hi"),
	}})
	if want := `["2026-01-02T02:04:05.006Z","n",["x","y"],{"k":1},{"x":3},1.5,null,[104,105]]`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}

	_, err := b.engine.Run(context.Background(), Spec{Source: "1"}, Request{Bindings: map[string]any{"f": func() {}}})
	if err == nil || !strings.Contains(err.Error(), `binding "f": cannot bind a func()`) {
		t.Errorf("func binding: %v", err)
	}
}

func TestRun_BindingsAreCopies(t *testing.T) {
	t.Parallel()
	b := setup(t)
	block := map[string]any{
		"type":   "text/javascript",
		"source": `var before = input.edit; input.edit = 27; input.list.push(1); context.x = 1; before`,
		"input":  map[string]any{"edit": float64(26), "list": []any{}},
	}
	spec, err := ParseSpec(block)
	if err != nil {
		t.Fatal(err)
	}
	rc := map[string]any{"fireId": "f"}
	for i := 0; i < 2; i++ {
		if v := run2(t, b, spec, Request{Bindings: map[string]any{"context": rc}}); v != int64(26) {
			t.Fatalf("run %d saw input.edit = %v", i, v)
		}
	}
	in := block["input"].(map[string]any)
	if in["edit"] != float64(26) || len(in["list"].([]any)) != 0 || len(rc) != 1 {
		t.Errorf("script changed the Go values: %v %v", in, rc)
	}
}

func TestRun_NoHostAccessAndNoLeaks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	got := run(t, b, `[typeof require, typeof module, typeof exports, typeof process, typeof fs,
		typeof fetch, typeof XMLHttpRequest, typeof setTimeout, typeof setInterval,
		typeof Packages, typeof load, typeof print, typeof java.io, typeof java.lang.Runtime,
		typeof java.lang.ProcessBuilder, typeof openidm].join(",")`, Request{})
	if want := strings.TrimSuffix(strings.Repeat("undefined,", 16), ","); got != want {
		t.Errorf("host objects: %s", got)
	}

	// A first run pollutes everything it can reach...
	run(t, b, `
		leaked = 1; var leakedVar = 2; globalThis.leakedProp = 3;
		Array.prototype.evil = 4; Object.prototype.polluted = 5;
		logger.extra = 6; java.lang.System.out.println = null; JSON.stringify = null;
		Math.random = function() { return 7 };
	`, Request{})
	// ...and the next sees none of it.
	got = run(t, b, `[typeof leaked, typeof leakedVar, typeof leakedProp, typeof [].evil,
		typeof ({}).polluted, typeof logger.extra, typeof java.lang.System.out.println,
		typeof JSON.stringify, Math.random() === 7].join(",")`, Request{})
	if want := "undefined,undefined,undefined,undefined,undefined,undefined,function,function,false"; got != want {
		t.Errorf("second run saw %s", got)
	}
}

// A "//# sourceMappingURL=" comment makes goja's parser read the named file
// (relative to the daemon's working directory for a relative script name)
// unless source maps are disabled; eval and new Function parse at run time.
// A map that renames the source shows whether it was read.
func TestRun_SourceMapsNotRead(t *testing.T) {
	t.Parallel()
	b := setup(t)
	mapFile := filepath.Join(t.TempDir(), "x.map")
	if err := os.WriteFile(mapFile, []byte(`{"version":3,"sources":["LEAKED.js"],"names":[],"mappings":"AAAA,MAAM,MAAM,MAAM"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(wd, mapFile)
	if err != nil {
		t.Fatal(err)
	}
	comment := "//# sourceMappingURL=" + filepath.ToSlash(rel)
	src := `var code = "throw new Error('x')\n` + comment + `";
		var stacks = [];
		try { eval(code) } catch (e) { stacks.push(e.stack) }
		try { new Function(code)() } catch (e) { stacks.push(e.stack) }
		stacks.join("\n")`
	got := run(t, b, src, Request{}).(string)
	if strings.Contains(got, "LEAKED") || strings.Count(got, "Error: x") != 2 {
		t.Errorf("stacks:\n%s", got)
	}
	b.write(t, "m.js", "throw new Error('x')\n"+comment)
	_, err = b.engine.Run(context.Background(), Spec{File: "m.js"}, Request{})
	if err == nil || err.Error() != "m.js:1:7: Error: x" {
		t.Errorf("file with a source map comment: %v", err)
	}
}

func TestRun_ThrownErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.write(t, "testlog.js", "var a = 1;\nfunction f(o) {\n  return o.x.y;\n}\nf({});\n")
	tests := []struct {
		spec      Spec
		want      string
		line, col int
	}{
		{Spec{File: "script/testlog.js"}, "script/testlog.js:3:14: TypeError: Cannot read property 'y' of undefined", 3, 14},
		{Spec{Source: "\n  throw new Error('boom');"}, "inline:2:9: Error: boom", 2, 9}, // where the Error was made
		{Spec{Name: "named", Source: "throw 'boom'"}, "named:1:1: boom", 1, 1},
		{Spec{Source: "throw {code: 1}"}, `inline:1:1: uncaught exception: {"code":1}`, 1, 1},
		{Spec{Source: "throw 42"}, `inline:1:1: uncaught exception: 42`, 1, 1},
		{Spec{Source: "x = 1;\nJSON.parse('{')"}, "inline:2:11: SyntaxError: Unexpected end of JSON input (EOF)", 2, 11},
		{Spec{Source: "function f() { f() }\nf()"}, "inline:1:17: RangeError: Maximum call stack size exceeded", 1, 17},
	}
	for _, tt := range tests {
		_, err := b.engine.Run(context.Background(), tt.spec, Request{})
		if err == nil || err.Error() != tt.want {
			t.Errorf("%+v: error %v, want %s", tt.spec, err, tt.want)
			continue
		}
		var se *Error
		if !errors.As(err, &se) || se.Line != tt.line || se.Column != tt.col {
			t.Errorf("%+v: *Error = %+v", tt.spec, se)
		}
		var ex *Exception
		if !errors.As(err, &ex) {
			t.Errorf("%+v: no *Exception in %v", tt.spec, err)
		}
	}

	_, err := b.engine.Run(context.Background(), Spec{Source: "throw {code: 1}"}, Request{})
	var ex *Exception
	if !errors.As(err, &ex) || mustJSON(t, ex.Value) != `{"code":1}` {
		t.Errorf("thrown value = %+v", ex)
	}
}

func TestRun_SyntaxErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.write(t, "bad.js", "var ok = 1;\nvar x = ;\n")
	tests := []struct {
		spec      Spec
		want      string
		line, col int
	}{
		{Spec{File: "bad.js"}, "bad.js:2:9: syntax error: Unexpected token ;", 2, 9},
		{Spec{Source: "let a = 1;\nlet a = 2;"}, "inline:2:5: syntax error: Identifier 'a' has already been declared", 2, 5},
		{Spec{Source: "function ("}, "inline:1:10: syntax error: Unexpected token (", 1, 10},
	}
	for _, tt := range tests {
		for _, load := range []bool{false, true} {
			var err error
			if load {
				_, err = b.engine.Load(tt.spec)
			} else {
				_, err = b.engine.Run(context.Background(), tt.spec, Request{})
			}
			if err == nil || err.Error() != tt.want {
				t.Errorf("%+v (load %v): error %v, want %s", tt.spec, load, err, tt.want)
				continue
			}
			var se *Error
			var syn *SyntaxError
			if !errors.As(err, &se) || se.Line != tt.line || se.Column != tt.col || !errors.As(err, &syn) {
				t.Errorf("%+v: *Error = %+v", tt.spec, se)
			}
		}
	}
	if _, err := b.engine.Load(Spec{Source: "var fine = 1"}); err != nil {
		t.Errorf("Load of a good script: %v", err)
	}
}

func TestRun_Timeout(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// 50ms is not a timing assertion, only a bound on a loop that never ends.
	_, err := b.engine.Run(context.Background(), Spec{Source: "var i = 0;\nwhile (true) { i++ }", Timeout: 50 * time.Millisecond}, Request{})
	if !errors.Is(err, ErrTimeout) || errors.Is(err, ErrInterrupted) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	var se *Error
	if !errors.As(err, &se) || se.Line == 0 || !strings.HasSuffix(err.Error(), ": script timed out after 50ms") {
		t.Errorf("err = %v (%+v)", err, se)
	}

	// A script cannot catch the interrupt.
	_, err = b.engine.Run(context.Background(), Spec{Source: "for (;;) { try { while (true) {} } catch (e) {} finally {} }", Timeout: 50 * time.Millisecond}, Request{})
	if !errors.Is(err, ErrTimeout) {
		t.Errorf("caught loop: %v", err)
	}

	// Config.DefaultTimeout applies when the spec has none.
	b = setup(t, func(c *Config) { c.DefaultTimeout = 50 * time.Millisecond })
	_, err = b.engine.Run(context.Background(), Spec{Source: "while (true) {}"}, Request{})
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "after 50ms") {
		t.Errorf("default timeout: %v", err)
	}

	// And the spec's timeout, from the block, wins over it.
	spec, err := ParseSpec(map[string]any{"type": "text/javascript", "source": "while (true) {}", "timeout": float64(60)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.engine.Run(context.Background(), spec, Request{})
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "after 60ms") {
		t.Errorf("spec timeout: %v", err)
	}
}

// cancelWriter cancels a context on its first write: the script cancels its
// own run by printing, so the test needs no sleep.
type cancelWriter struct{ cancel context.CancelCauseFunc }

func (w cancelWriter) Write(p []byte) (int, error) {
	w.cancel(errors.New("shutting down"))
	return len(p), nil
}

func TestRun_ContextCancelInterrupts(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	b := setup(t, func(c *Config) { c.Stdout = cancelWriter{cancel} })
	_, err := b.engine.Run(ctx, Spec{Source: "console.log('go');\nwhile (true) {}", Timeout: time.Hour}, Request{})
	if !errors.Is(err, ErrInterrupted) || errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrInterrupted", err)
	}
	// Where it stops depends on when the interrupt lands; what it says does not.
	if !strings.HasPrefix(err.Error(), "inline:") || !strings.HasSuffix(err.Error(), ": script interrupted: shutting down") {
		t.Errorf("err = %v", err)
	}

	// An already cancelled context does not start the script.
	b = setup(t)
	_, err = b.engine.Run(ctx, Spec{Source: "console.log('ran')"}, Request{})
	if !errors.Is(err, ErrInterrupted) || b.stdout.String() != "" {
		t.Errorf("cancelled before start: %v, stdout %q", err, b.stdout.String())
	}
}

func TestRun_Files(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.write(t, "a.js", "'a'")
	b.write(t, "script/b.js", "'script/b'")
	b.write(t, "b.js", "'b'")
	b.write(t, "sub/c.js", "'sub/c'")
	tests := []struct{ file, want string }{
		{"a.js", "a"},
		{"script/a.js", "a"},        // "script/" stripped
		{"script/b.js", "script/b"}, // as given wins
		{"sub/c.js", "sub/c"},
		{"./a.js", "a"},
		{"sub/../a.js", "a"},
	}
	for _, tt := range tests {
		v, err := b.engine.Run(context.Background(), Spec{File: tt.file}, Request{})
		if err != nil || v != tt.want {
			t.Errorf("file %s = %v, %v, want %s", tt.file, v, err, tt.want)
		}
	}

	// Only "script/" is stripped, as config.ResolveScriptPath does.
	if _, err := b.engine.Run(context.Background(), Spec{File: "x/sub/c.js"}, Request{}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("x/sub/c.js: %v, want not found", err)
	}

	_, err := b.engine.Run(context.Background(), Spec{File: "script/missing.js"}, Request{})
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "tried script/missing.js, missing.js") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := b.engine.Load(Spec{File: "missing.js"}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file: %v", err)
	}

	e := New(Config{})
	if _, err := e.Run(context.Background(), Spec{File: "a.js"}, Request{}); err == nil || !strings.Contains(err.Error(), "no scripts directory") {
		t.Errorf("no ScriptsDir: %v", err)
	}
}

func TestRun_PathEscapesRejected(t *testing.T) {
	t.Parallel()
	b := setup(t)
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.js"), []byte("'secret'"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret.js"), filepath.Join(b.dir, "link.js")); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"../secret.js", "script/../../secret.js", "..", "/etc/passwd", filepath.Join(outside, "secret.js"), `C:\x.js`} {
		_, err := b.engine.Run(context.Background(), Spec{File: file}, Request{})
		if !errors.Is(err, ErrBadPath) {
			t.Errorf("Run(%q) = %v, want ErrBadPath", file, err)
		}
	}
	// A symbolic link out of the directory does not get out either.
	v, err := b.engine.Run(context.Background(), Spec{File: "link.js"}, Request{})
	if err == nil || v != nil || !strings.Contains(err.Error(), "escapes") {
		t.Errorf("symlink out: %v, %v", v, err)
	}
	// A link inside the directory is fine (ConfigMap-style layouts).
	b.write(t, "..data/real.js", "'real'")
	if err := os.Symlink("..data/real.js", filepath.Join(b.dir, "real.js")); err != nil {
		t.Fatal(err)
	}
	if v, err := b.engine.Run(context.Background(), Spec{File: "real.js"}, Request{}); err != nil || v != "real" {
		t.Errorf("symlink within: %v, %v", v, err)
	}
}

func TestRun_ChangedFileIsRecompiled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.write(t, "job.js", "'v1'")
	spec := Spec{File: "script/job.js"}
	for i, want := range []string{"v1", "v1"} {
		if v := run2(t, b, spec, Request{}); v != want {
			t.Fatalf("run %d = %v, want %s", i, v, want)
		}
	}
	b.write(t, "job.js", "'v2'") // same size, possibly the same mtime
	if v := run2(t, b, spec, Request{}); v != "v2" {
		t.Fatalf("after the edit = %v, want v2", v)
	}
	b.write(t, "job.js", "'v1'")
	if v := run2(t, b, spec, Request{}); v != "v1" {
		t.Fatalf("after reverting = %v, want v1", v)
	}
	if hits, misses := b.engine.cache.stats(); hits != 2 || misses != 2 {
		t.Errorf("cache hits %d misses %d, want 2 and 2", hits, misses)
	}
}

func TestProgramCache_Evicts(t *testing.T) {
	t.Parallel()
	c := newProgramCache(2)
	for _, src := range []string{"1", "2", "1", "3", "2"} {
		if _, err := c.get("n", src); err != nil {
			t.Fatal(err)
		}
	}
	// "1" hit; "2" was evicted by "3" (LRU order 3,1,2 -> 1 kept).
	if hits, misses := c.stats(); hits != 1 || misses != 4 {
		t.Errorf("hits %d misses %d, want 1 and 4", hits, misses)
	}
	if len(c.entries) != 2 || c.order.Len() != 2 {
		t.Errorf("cache holds %d/%d entries", len(c.entries), c.order.Len())
	}
}

func TestRun_Concurrent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.write(t, "c.js", `logger.info("n {}", n); console.log(n); n * 2`)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := b.engine.Run(context.Background(), Spec{File: "c.js"}, Request{Bindings: map[string]any{"n": i}})
			if err == nil && v != int64(2*i) {
				err = errors.New("wrong result")
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := strings.Count(b.stdout.String(), "\n"); n != 16 {
		t.Errorf("%d output lines, want 16", n)
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.write(t, "scan.js", "'v1';\nundefinedFn()")
	spec, err := b.engine.Load(Spec{File: "script/scan.js", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if spec.File != "" || spec.Name != "script/scan.js" || spec.Timeout != time.Minute || !strings.HasPrefix(spec.Source, "'v1'") {
		t.Fatalf("loaded %+v", spec)
	}
	b.write(t, "scan.js", "'v2'") // the loaded spec keeps its version
	_, err = b.engine.Run(context.Background(), spec, Request{})
	if err == nil || err.Error() != "script/scan.js:2:12: ReferenceError: undefinedFn is not defined" {
		t.Errorf("run of the loaded spec: %v", err)
	}

	b.write(t, "broken.js", "var = 1")
	if _, err := b.engine.Load(Spec{File: "broken.js"}); err == nil || err.Error() != "broken.js:1:5: syntax error: Unexpected token =" {
		t.Errorf("Load of a broken file: %v", err)
	}
	if _, err := b.engine.Load(Spec{File: "gone.js"}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file: %v", err)
	}
	if got, err := b.engine.Load(Spec{Source: "1"}); err != nil || got.Source != "1" {
		t.Errorf("Load of a source spec: %+v, %v", got, err)
	}
}

func TestRun_ThreadSleep(t *testing.T) {
	t.Parallel()
	b := setup(t)
	v, err := b.engine.Run(context.Background(), Spec{Source: "java.lang.Thread.sleep(1); 'awake'"}, Request{})
	if err != nil || v != "awake" {
		t.Fatalf("sleep(1) = %v, %v", v, err)
	}
	// A sleep longer than the timeout ends with it, as the timeout error.
	_, err = b.engine.Run(context.Background(), Spec{Source: "java.lang.Thread.sleep(3600000);\n'late'", Timeout: 50 * time.Millisecond}, Request{})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("sleep past the timeout: %v, want ErrTimeout", err)
	}
	// Cancellation wakes it too.
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	b = setup(t, func(c *Config) { c.Stdout = cancelWriter{cancel} })
	_, err = b.engine.Run(ctx, Spec{Source: "console.log('go');\njava.lang.Thread.sleep(3600000);\n'late'", Timeout: time.Hour}, Request{})
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("sleep when cancelled: %v, want ErrInterrupted", err)
	}
	_, err = b.engine.Run(context.Background(), Spec{Source: "java.lang.Thread.sleep(-1)"}, Request{})
	if err == nil || !strings.Contains(err.Error(), "negative") {
		t.Fatalf("sleep(-1): %v", err)
	}
}
