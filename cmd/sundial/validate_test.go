package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"

	"sundial/schema"
)

// confDir writes files into a new temporary conf directory.
func confDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const (
	cronHourly = `{"description": "hourly recon", "schedule": "0 0 * * * ?", "timeZone": "Europe/Paris", "invokeService": "sync",
		"invokeContext": {"action": "reconcile", "mapping": "m"}}`
	simpleFive = `{"type": "simple", "startTime": "2026-01-01T10:00:00", "timeZone": "UTC", "repeatInterval": 90000, "repeatCount": 3,
		"invokeService": "script", "invokeContext": {"script": {"type": "text/javascript", "source": "1"}}}`
)

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestValidatePlan(t *testing.T) {
	dir := confDir(t, map[string]string{
		"schedule-hourly.json": cronHourly,
		"schedule-four.json":   simpleFive,
		"schedule-off.json":    strings.Replace(cronHourly, `"description"`, `"enabled": false, "description"`, 1),
		"schedule-odd.json":    `{"schedule": "0 0 * * * ?", "invokeService": "org.example.custom"}`,
	})
	code, out, errOut := runCLI("validate", "--at", "2026-01-01T09:30:00Z", dir)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"valid, 4 schedules (3 enabled), 1 warning",
		"hourly  (schedule-hourly.json)\n  hourly recon\n  cron, enabled, in memory, service sync, zone Europe/Paris\n  trigger: 0 0 * * * ?",
		"  next:   2026-01-01T11:00:00+01:00\n          2026-01-01T12:00:00+01:00\n          2026-01-01T13:00:00+01:00\n          2026-01-01T14:00:00+01:00\n          2026-01-01T15:00:00+01:00\n",
		"trigger: every 90 seconds, 4 fires in all, from 2026-01-01T10:00:00Z; misfire: fireAndProceed",
		"  next:   2026-01-01T10:00:00Z\n          2026-01-01T10:01:30Z\n          2026-01-01T10:03:00Z\n          2026-01-01T10:04:30Z\n\n",
		"off  (schedule-off.json)",
		"next:   none (disabled)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "schedule-odd.json:1:46: warning: invokeService: unknown service \"org.example.custom\"") {
		t.Errorf("stderr = %q", errOut)
	}
}

func TestValidateErrors(t *testing.T) {
	dir := confDir(t, map[string]string{
		"schedule-good.json": cronHourly,
		"schedule-bad.yaml":  "schedule: 0 0 * * * ?\npersistd: true\ninvokeService: sync\ninvokeContext: {action: reconcile, mapping: m}\n",
		"schedule-worse.json": `{"schedule": "0 0 * * *", "invokeService": "sync",
  "invokeContext": {"action": "reconcile"}}`,
	})
	code, out, errOut := runCLI("validate", dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		filepath.Join(dir, "schedule-bad.yaml") + `:2:1: unknown key "persistd" (did you mean "persisted"?)`,
		filepath.Join(dir, "schedule-worse.json") + `:1:14: schedule: invalid cron expression`,
		filepath.Join(dir, "schedule-worse.json") + `:2:20: invokeContext: missing key "mapping"`,
		"3 errors in 2 files",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(out, "next:") {
		t.Errorf("an invalid directory printed a plan:\n%s", out)
	}
}

func TestValidateAgainst(t *testing.T) {
	base := confDir(t, map[string]string{
		"schedule-keep.json":   cronHourly,
		"schedule-change.json": cronHourly,
		"schedule-gone.json":   cronHourly,
		"scheduler.json":       `{"threadPool": {"threadCount": 4}}`,
	})
	head := confDir(t, map[string]string{
		"schedule-keep.json":   "// only a comment differs\n" + cronHourly,
		"schedule-change.json": strings.Replace(cronHourly, `"0 0 * * * ?"`, `"0 30 * * * ?"`, 1),
		"schedule-new.yaml":    "schedule: 0 0 1 * * ?\ninvokeService: job\ninvokeContext: {job: nightly}\n",
		"scheduler.json":       `{"threadPool": {"threadCount": "8"}}`,
	})
	code, out, errOut := runCLI("validate", "--against", base, head)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	want := "Changes from " + base + " to " + head + ":\n  + new (added)\n  - gone (removed)\n  ~ change: schedule\n  ~ scheduler: threadPool.threadCount\n\n"
	if !strings.HasPrefix(out, want) {
		t.Errorf("stdout:\n%s\nwant prefix:\n%s", out, want)
	}
}

func TestValidateJSON(t *testing.T) {
	dir := confDir(t, map[string]string{
		"schedule-four.json": simpleFive,
		"schedule-bad.json":  `{"schedule": "0 0 * * * ?", "invokeService": "sync", "enabled": "maybe", "invokeContext": {"action": "reconcile", "mapping": "m"}}`,
	})
	code, out, _ := runCLI("validate", "--format", "json", "--at", "2026-01-01T00:00:00Z", dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	var r report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if r.Valid || len(r.Errors) != 1 || r.Errors[0].Line != 1 || r.Errors[0].Column != 65 || r.Errors[0].Pointer != "/enabled" ||
		!strings.HasPrefix(r.Errors[0].Message, "enabled: expected a boolean") {
		t.Errorf("errors = %+v", r.Errors)
	}
	if len(r.Schedules) != 1 || r.Schedules[0].ID != "four" || len(r.Schedules[0].Next) != 4 || r.Schedules[0].Next[3] != "2026-01-01T10:04:30Z" {
		t.Errorf("schedules = %+v", r.Schedules)
	}
}

// TestValidateShippedConf runs the command the README shows on the shipped
// conf/ and every example.
func TestValidateShippedConf(t *testing.T) {
	if code, out, errOut := runCLI("validate", "--scripts", "../../scripts", "../../conf"); code != 0 || errOut != "" {
		t.Errorf("conf/: exit %d\n%s%s", code, out, errOut)
	}
	examples, _ := filepath.Glob("../../examples/*/conf")
	for _, conf := range examples {
		scripts := filepath.Join(filepath.Dir(conf), "scripts")
		if code, out, errOut := runCLI("validate", "--scripts", scripts, conf); code != 0 || errOut != "" {
			t.Errorf("%s: exit %d\n%s%s", conf, code, out, errOut)
		}
	}
}

func TestRunValidateDirectly(t *testing.T) {
	dir := confDir(t, map[string]string{"schedule-a.json": `{"schedule": "0 0 * * * ?", "invokeService": "sync",
		"invokeContext": {"action": "reconcile", "mapping": "&{m}"}}`})
	var out, errb bytes.Buffer
	opts := validateOptions{dir: dir, format: "text", at: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		env: func(k string) (string, bool) { return "from-env", k == "M" }}
	if err := runValidate(context.Background(), opts, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	opts.env = func(string) (string, bool) { return "", false }
	err := runValidate(context.Background(), opts, &out, &errb)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(errb.String(), `property "m" is not defined`) {
		t.Errorf("err = %v, stderr %q", err, errb.String())
	}
}

func TestSchemaCommand(t *testing.T) {
	for _, name := range schema.Names() {
		code, out, _ := runCLI("schema", name)
		var doc map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &doc) != nil || doc["$id"] != schema.URL(name) {
			t.Errorf("schema %s: exit %d, $id %v", name, code, doc["$id"])
		}
	}
}

// TestValidateHelp checks that --help prints the examples and exits 0.
func TestValidateHelp(t *testing.T) {
	for _, cmd := range []string{"validate", "schema"} {
		code, out, _ := runCLI(cmd, "--help")
		if code != 0 || !strings.Contains(out, "Examples:") {
			t.Errorf("%s --help: exit %d\n%s", cmd, code, out)
		}
	}
}

func TestNextFiresSimple(t *testing.T) {
	dir := confDir(t, map[string]string{
		"schedule-once.json":  `{"type": "simple", "timeZone": "UTC", "invokeService": "x.y"}`,
		"schedule-burst.json": `{"type": "simple", "timeZone": "UTC", "repeatCount": 2, "invokeService": "x.y"}`,
		"schedule-ended.json": `{"type": "simple", "timeZone": "UTC", "repeatInterval": 1000, "endTime": "2020-01-01T00:00:00Z", "invokeService": "x.y"}`,
		"schedule-cronend.json": `{"schedule": "0 0 12 * * ?", "timeZone": "UTC", "startTime": "2026-01-03T00:00:00", "endTime": "2026-01-04T12:00:00",
			"invokeService": "x.y"}`,
		// Created at a time of its calendar, a cron trigger fires at once,
		// as the scheduler arms it.
		"schedule-midnight.json": `{"schedule": "0 0 0 * * ?", "timeZone": "UTC", "invokeService": "x.y"}`,
		// A simple trigger fires strictly before its end time.
		"schedule-simpleend.json": `{"type": "simple", "timeZone": "UTC", "repeatInterval": 60000, "endTime": "2026-01-01T00:02:00", "invokeService": "x.y"}`,
	})
	code, out, errOut := runCLI("validate", "--format", "json", "--at", "2026-01-01T00:00:00Z", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var r report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range r.Schedules {
		got[s.ID] = strings.Join(s.Next, ",")
	}
	want := map[string]string{
		"once":      "2026-01-01T00:00:00Z",
		"burst":     "2026-01-01T00:00:00Z,2026-01-01T00:00:00Z,2026-01-01T00:00:00Z",
		"ended":     "",
		"cronend":   "2026-01-03T12:00:00Z,2026-01-04T12:00:00Z",
		"midnight":  "2026-01-01T00:00:00Z,2026-01-02T00:00:00Z,2026-01-03T00:00:00Z,2026-01-04T00:00:00Z,2026-01-05T00:00:00Z",
		"simpleend": "2026-01-01T00:00:00Z,2026-01-01T00:01:00Z",
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: next = %q, want %q", id, got[id], w)
		}
	}
}

// TestValidateCompilesScripts: validate compiles inline and file scripts as
// a run would and reports JavaScript errors at file:line:col, in the
// schedule file for an inline source; a script symlink that leaves the
// scripts directory is refused as it is at run time.
func TestValidateCompilesScripts(t *testing.T) {
	root := confDir(t, map[string]string{
		"conf/schedule-inline.json": "{\"schedule\": \"0 * * * * ?\", \"invokeService\": \"script\",\n" +
			` "invokeContext": {"script": {"type": "text/javascript", "source": "var x = ;"}}}`,
		"conf/schedule-file.json": `{"schedule": "0 * * * * ?", "invokeService": "script",
 "invokeContext": {"script": {"type": "text/javascript", "file": "script/broken.js"}}}`,
		"conf/schedule-escape.json": `{"schedule": "0 * * * * ?", "invokeService": "script",
 "invokeContext": {"script": {"type": "text/javascript", "file": "outside.js"}}}`,
		"scripts/broken.js": "var y = 1;\nfunction (\n",
		"elsewhere/good.js": "1",
	})
	if err := os.Symlink(filepath.Join(root, "elsewhere", "good.js"), filepath.Join(root, "scripts", "outside.js")); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI("validate", "--scripts", filepath.Join(root, "scripts"), filepath.Join(root, "conf"))
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{
		"schedule-inline.json:2:77: invokeContext.script.source: syntax error: Unexpected token ;",
		"broken.js:2:10: syntax error: Unexpected token (",
		"schedule-escape.json:2:",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}
