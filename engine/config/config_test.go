package config

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"
	"unsafe"

	"sundial/engine/query"
)

var update = flag.Bool("update", false, "rewrite the golden files of TestGoodFixtures")

// noEnv is an empty environment, so tests do not depend on the machine's.
func noEnv(string) (string, bool) { return "", false }

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// wantLine is an expectation written in a bad fixture:
// "// want LINE:COL: substring" (JSON) or "# want LINE:COL: substring"
// (YAML); COL may be omitted, and "-" as LINE means no position.
var wantLine = regexp.MustCompile(`^(?://|#) want (-|\d+)(?::(\d+))?: (.*)$`)

type want struct {
	line, col string
	text      string
}

func readWants(t *testing.T, path string) []want {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ws []want
	for _, l := range strings.Split(string(data), "\n") {
		if m := wantLine.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
			ws = append(ws, want{line: m[1], col: m[2], text: m[3]})
		}
	}
	if len(ws) == 0 {
		t.Fatalf("%s has no want lines", path)
	}
	return ws
}

// TestBadFixtures loads every testdata/bad/*.bad.{json,yaml} file as a
// schedule (or as scheduler.json when its name starts with "scheduler-")
// and checks that it reports exactly the errors its want lines list, at
// their file:line:col.
func TestBadFixtures(t *testing.T) {
	paths, _ := filepath.Glob("testdata/bad/*.bad.*")
	if len(paths) < 20 {
		t.Fatalf("found %d bad fixtures", len(paths))
	}
	scripts, _ := filepath.Abs("testdata/scripts")
	for _, path := range paths {
		base := filepath.Base(path)
		t.Run(base, func(t *testing.T) {
			t.Parallel()
			stem, ext, _ := strings.Cut(base, ".bad.")
			name := "schedule-" + stem + "." + ext
			if strings.HasPrefix(stem, "scheduler-") {
				name = "scheduler." + ext
			}
			dir := t.TempDir()
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
			d, err := Load(dir, LoadOptions{ScriptsDir: scripts, Env: noEnv, CheckScript: compileJS})
			if err != nil {
				t.Fatal(err)
			}
			if d.Valid() {
				t.Fatalf("loaded without errors")
			}
			if _, ok := d.Schedules[stem]; ok {
				t.Errorf("a failing file contributed a schedule")
			}
			errs := d.Errors[name]
			file := filepath.Join(dir, name)
			matched := make([]bool, len(errs))
			for _, w := range readWants(t, path) {
				prefix := file + ": "
				if w.line != "-" {
					prefix = file + ":" + w.line + ": "
					if w.col != "" {
						prefix = file + ":" + w.line + ":" + w.col + ": "
					}
				}
				found := false
				for i, e := range errs {
					msg := e.Error()
					if !matched[i] && strings.HasPrefix(msg, prefix) && strings.Contains(msg[len(prefix):], w.text) {
						matched[i], found = true, true
						break
					}
				}
				if !found {
					t.Errorf("missing error %s%s", prefix, w.text)
				}
			}
			for i, e := range errs {
				var fe *FileError
				if !errors.As(e, &fe) {
					t.Errorf("error is not a *FileError: %v", e)
				}
				if !matched[i] {
					t.Errorf("unexpected error %v", e)
				}
			}
		})
	}
}

// summary is the golden form of a schedule.
type summary struct {
	ID, File, Type          string
	Enabled, Persisted      bool
	Recoverable, Concurrent bool
	Cron                    string `json:",omitempty"`
	RepeatInterval          string
	RepeatCount             int
	Start, End              string `json:",omitempty"`
	Zone, TimeZone          string
	MisfirePolicy, Service  string
	LogLevel, Description   string
	Config                  map[string]any
	Warnings                []string `json:",omitempty"`
}

func summarize(s *Schedule) summary {
	out := summary{
		ID: s.ID, File: s.File, Type: s.Type, Enabled: s.Enabled, Persisted: s.Persisted,
		Recoverable: s.Recoverable, Concurrent: s.ConcurrentExecution, Cron: s.CronSpec,
		RepeatInterval: s.RepeatInterval.String(), RepeatCount: s.RepeatCount,
		Zone: s.Location.String(), TimeZone: s.TimeZone, MisfirePolicy: s.MisfirePolicy,
		Service: s.InvokeService, LogLevel: s.InvokeLogLevel, Description: s.Description,
		Config: s.Config(),
	}
	if !s.StartTime.IsZero() {
		out.Start = s.StartTime.Format(time.RFC3339)
	}
	if !s.EndTime.IsZero() {
		out.End = s.EndTime.Format(time.RFC3339)
	}
	for _, w := range s.Warnings {
		out.Warnings = append(out.Warnings, strings.TrimPrefix(w.Error(), "testdata/good/"))
	}
	return out
}

// TestGoodFixtures loads testdata/good and compares every schedule with its
// golden file in testdata/golden (rewrite them with -update).
func TestGoodFixtures(t *testing.T) {
	d, err := Load("testdata/good", LoadOptions{
		ScriptsDir: "testdata/scripts",
		Env:        envOf(map[string]string{"SCAN_MAX": "250"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range d.AllErrors() {
		t.Errorf("unexpected error: %v", e)
	}
	files, _ := filepath.Glob("testdata/good/schedule-*")
	if len(d.Schedules) != len(files) {
		t.Fatalf("loaded %d schedules from %d files", len(d.Schedules), len(files))
	}
	sc := d.Scheduler
	if sc.ThreadCount != 8 || !sc.ExecutePersistentSchedules || sc.MisfireThreshold != 5*time.Second || sc.Location.String() != "UTC" {
		t.Errorf("scheduler = %+v", sc)
	}
	if got := d.Properties["openidm.node.id"]; got != "node-a" {
		t.Errorf("openidm.node.id = %q, want node-a from boot.properties", got)
	}
	if got := d.Properties["greeting"]; got != "hello world and more" {
		t.Errorf("greeting = %q", got)
	}
	for _, id := range d.IDs() {
		got, err := json.MarshalIndent(summarize(d.Schedules[id]), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", "golden", id+".json")
		if *update {
			if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if strings.TrimSpace(string(want)) != string(got) {
			t.Errorf("%s: got\n%s\nwant\n%s", id, got, want)
		}
	}
}

// TestEnvironmentOverridesBootProperties pins the precedence: environment,
// then boot.properties, then built-in defaults, then the |default.
func TestEnvironmentOverridesBootProperties(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "boot.properties", "a.b=from-boot\nc.d=from-boot\n")
	write(t, dir, "schedule-p.json", `{"schedule": "0 0 * * * ?", "invokeService": "x.y",
		"invokeContext": {"ab": "&{a.b}", "cd": "&{c.d}", "node": "&{openidm.node.id}", "def": "&{e.f|dflt}", "env": "&{e.f2|dflt}", "lit": "\\&{a.b}"}}`)
	d, err := Load(dir, LoadOptions{Env: envOf(map[string]string{"A_B": "from-env", "E_F2": "env2", "OPENIDM_NODE_ID": "n7"})})
	if err != nil {
		t.Fatal(err)
	}
	if !d.Valid() {
		t.Fatal(d.AllErrors())
	}
	got := d.Schedules["p"].InvokeContext.Map()
	want := map[string]any{"ab": "from-env", "cd": "from-boot", "node": "n7", "def": "dflt", "env": "env2", "lit": "&{a.b}"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if d.Properties["a.b"] != "from-env" || d.Properties["openidm.scheduler.execute.persistent.schedules"] != "true" {
		t.Errorf("Properties = %v", d.Properties)
	}
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

const okSchedule = `{"schedule": "0 0 * * * ?", "invokeService": "sync", "invokeContext": {"action": "reconcile", "mapping": "m"}}`

// TestDirectory covers what the loader does with the files of a directory:
// duplicates, legacy names, files that are not Sundial's, unreadable files.
func TestDirectory(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "schedule-a.json", okSchedule)
	write(t, dir, "schedule-dup.json", okSchedule)
	write(t, dir, "schedule-dup.yaml", "schedule: 0 0 * * * ?\ninvokeService: job\ninvokeContext: {job: j}\n")
	write(t, dir, "scheduler-old.json", okSchedule)
	write(t, dir, "managed.json", `{"objects": []}`)
	write(t, dir, "README.md", "hello")
	write(t, dir, ".schedule-hidden.json", "{")
	write(t, dir, "schedule-a.json~", "{")
	write(t, dir, ".#schedule-a.json", "{")
	write(t, dir, "schedule-a.json.swp", "{")
	write(t, dir, "schedule-empty.json", "  // nothing\n")
	write(t, dir, "schedule-braces.yaml", "{}\n")
	write(t, dir, "schedule-big.json", `{"description": "`+strings.Repeat("x", maxFileSize)+`"}`)
	write(t, dir, "schedule-latin1.json", "{\"description\": \"caf\xe9\"}")
	write(t, dir, "schedule-bad id.json", okSchedule)
	if err := os.Mkdir(filepath.Join(dir, "schedule-dir.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("schedule-loop.json", filepath.Join(dir, "schedule-loop.json")); err != nil {
		t.Fatal(err)
	}
	d, err := Load(dir, LoadOptions{Env: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.IDs(); strings.Join(got, ",") != "a" {
		t.Errorf("schedules = %v, want [a]", got)
	}
	wantErr := map[string]error{
		"schedule-dup.json":    ErrDuplicateID,
		"schedule-dup.yaml":    ErrDuplicateID,
		"schedule-big.json":    ErrTooLarge,
		"schedule-latin1.json": ErrEncoding,
		"schedule-dir.json":    ErrRead,
		"schedule-loop.json":   ErrRead,
		"schedule-bad id.json": ErrInvalidID,
		"schedule-empty.json":  ErrEmpty,
		"schedule-braces.yaml": ErrEmpty,
	}
	for file, sentinel := range wantErr {
		errs := d.Errors[file]
		if len(errs) == 0 || !errors.Is(errs[0], sentinel) {
			t.Errorf("%s: errors %v, want %v", file, errs, sentinel)
		}
	}
	if len(d.Errors) != len(wantErr) {
		t.Errorf("errors in %d files, want %d: %v", len(d.Errors), len(wantErr), d.AllErrors())
	}
	if e := d.Errors["schedule-latin1.json"][0].Error(); !strings.HasSuffix(e, "schedule-latin1.json:1:21: file is not valid UTF-8") {
		t.Errorf("latin1 error = %q", e)
	}
	if e := d.Errors["schedule-dup.json"][0].Error(); !strings.Contains(e, "also defined by schedule-dup.yaml") {
		t.Errorf("duplicate error = %q", e)
	}
	wantWarn := map[string]error{
		"scheduler-old.json": ErrLegacyFileName,
	}
	for file, sentinel := range wantWarn {
		ws := d.Warnings[file]
		if len(ws) != 1 || !errors.Is(ws[0], sentinel) {
			t.Errorf("%s: warnings %v, want %v", file, ws, sentinel)
		}
	}
	if len(d.Warnings) != len(wantWarn) {
		t.Errorf("warnings in %d files, want %d: %v", len(d.Warnings), len(wantWarn), d.AllWarnings())
	}
	if !strings.Contains(d.Warnings["scheduler-old.json"][0].Error(), "rename it to schedule-old.json") {
		t.Errorf("legacy warning = %v", d.Warnings["scheduler-old.json"][0])
	}

	if _, err := Load(filepath.Join(dir, "missing"), LoadOptions{}); err == nil {
		t.Error("Load of a missing directory succeeded")
	}
}

// TestPreviousVersionKept checks that a file that starts failing keeps its
// last good version, that fixing it applies it, and that Diff sees both.
func TestPreviousVersionKept(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "schedule-a.json", okSchedule)
	write(t, dir, "schedule-b.json", okSchedule)
	write(t, dir, "scheduler.json", `{"threadPool": {"threadCount": 3}}`)
	first, err := Load(dir, LoadOptions{Env: noEnv})
	if err != nil || !first.Valid() {
		t.Fatal(err, first.AllErrors())
	}

	write(t, dir, "schedule-a.json", `{"schedule": "not cron", "invokeService": "sync"}`)
	write(t, dir, "scheduler.json", `{"threadPool": {"threadCount": 0}}`)
	write(t, dir, "schedule-c.json", strings.Replace(okSchedule, `"m"`, `"other"`, 1))
	second, err := Load(dir, LoadOptions{Env: noEnv, Previous: first})
	if err != nil {
		t.Fatal(err)
	}
	if second.Valid() || len(second.Errors["schedule-a.json"]) == 0 || len(second.Errors["scheduler.json"]) == 0 {
		t.Fatalf("errors = %v", second.AllErrors())
	}
	if second.Schedules["a"] != first.Schedules["a"] {
		t.Error("the failing schedule a did not keep its previous version")
	}
	if second.Schedules["b"] != first.Schedules["b"] {
		t.Error("the unchanged schedule b is a new copy, not the previous one")
	}
	if second.Scheduler.ThreadCount != 3 {
		t.Errorf("threadCount = %d, want the previous 3", second.Scheduler.ThreadCount)
	}
	p := Diff(first, second)
	if strings.Join(p.Added, ",") != "c" || len(p.Removed) != 0 || len(p.Changed) != 0 || strings.Join(p.Unchanged, ",") != "a,b" {
		t.Errorf("plan = %+v", p)
	}

	os.Remove(filepath.Join(dir, "schedule-b.json"))
	write(t, dir, "schedule-a.json", `// now with a comment
		{"schedule": "0 0 * * * ?", "invokeService": "sync", "invokeContext": {"action": "reconcile", "mapping": "m"}}`)
	write(t, dir, "schedule-c.json", `{"schedule": "0 5 * * * ?", "enabled": false, "invokeService": "sync", "invokeContext": {"action": "reconcile", "mapping": "m"}}`)
	write(t, dir, "scheduler.json", `{"threadPool": {"threadCount": 3}}`)
	third, err := Load(dir, LoadOptions{Env: noEnv, Previous: second})
	if err != nil || !third.Valid() {
		t.Fatal(err, third.AllErrors())
	}
	p = Diff(second, third)
	if len(p.Added) != 0 || strings.Join(p.Removed, ",") != "b" || strings.Join(p.Unchanged, ",") != "a" {
		t.Errorf("plan = %+v", p)
	}
	if len(p.Changed) != 1 || p.Changed[0].ID != "c" || strings.Join(p.Changed[0].Keys, ",") != "enabled,invokeContext.mapping,schedule" {
		t.Errorf("changed = %+v", p.Changed)
	}
	if third.Schedules["a"] == second.Schedules["a"] || third.Schedules["c"] == second.Schedules["c"] {
		t.Error("a changed file gave the previous schedule")
	}
	if first.Schedules["a"].Hash == third.Schedules["a"].Hash || !first.Schedules["a"].Equal(third.Schedules["a"]) {
		t.Error("a comment must change the hash but not the meaning")
	}
	if first.Hash == third.Hash {
		t.Error("snapshot hash did not change")
	}
	if s := p.String(); !strings.Contains(s, "- b\n") || !strings.Contains(s, "~ c (enabled, invokeContext.mapping, schedule)") {
		t.Errorf("plan text = %q", s)
	}
}

func TestSchedulerChangesInPlan(t *testing.T) {
	a := &Desired{Scheduler: DefaultSchedulerConfig()}
	b := &Desired{Scheduler: DefaultSchedulerConfig()}
	b.Scheduler.ThreadCount = 4
	b.Scheduler.Location = time.UTC
	p := Diff(a, b)
	if len(p.Scheduler) != 2 || p.Empty() {
		t.Errorf("plan = %+v", p)
	}
	if !Diff(nil, nil).Empty() {
		t.Error("empty diff is not empty")
	}
}

// TestParseScheduleJSON is the REST path: persisted defaults to true, no
// property substitution, errors without a file name.
func TestParseScheduleJSON(t *testing.T) {
	s, errs := ParseScheduleJSON("r1", []byte(okSchedule), ParseOptions{PersistedDefault: true, Location: time.UTC})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if !s.Persisted || s.ID != "r1" || s.Config()["invokeService"] != "org.forgerock.openidm.sync" {
		t.Errorf("schedule = %+v", s)
	}
	_, errs = ParseScheduleJSON("r2", []byte(`{"schedule": "0 0 * * * ?", "invokeService": "sync", "persistd": true}`), ParseOptions{})
	if len(errs) != 2 {
		t.Fatalf("errors = %v", errs)
	}
	for _, e := range errs {
		if !strings.HasPrefix(e.Error(), "1:") {
			t.Errorf("error %q does not start with its position", e)
		}
	}
	if !errors.Is(errs[1], ErrUnknownKey) && !errors.Is(errs[0], ErrUnknownKey) {
		t.Errorf("no ErrUnknownKey in %v", errs)
	}
	_, errs = ParseScheduleJSON("r3", []byte(` `), ParseOptions{})
	if len(errs) != 1 || !errors.Is(errs[0], ErrEmpty) {
		t.Errorf("empty body: %v", errs)
	}
	s, errs = ParseScheduleJSON("r4", []byte(`{"schedule": "&{x}", "invokeService": "sync", "invokeContext": {"action": "reconcile", "mapping": "m"}}`),
		ParseOptions{Lookup: envOf(map[string]string{"x": "0 0 * * * ?"})})
	if len(errs) > 0 || s.CronSpec != "0 0 * * * ?" {
		t.Errorf("lookup: %v %v", s, errs)
	}
}

// TestTimeZones pins the zone ids ParseZone accepts (Java's forms), their
// offsets and normalised names, and that an error lists the forms.
func TestTimeZones(t *testing.T) {
	z := &zoneCache{}
	at := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in, name string
		offset   int // seconds east of UTC, on 2026-01-15
	}{
		{"UTC", "UTC", 0},
		{"GMT", "GMT", 0},
		{"UT", "UT", 0},
		{"Z", "Z", 0},
		{"Europe/Paris", "Europe/Paris", 3600},
		{"America/Los_Angeles", "America/Los_Angeles", -8 * 3600},
		{"Etc/GMT+2", "Etc/GMT+2", -2 * 3600}, // POSIX sign, as in Java
		{"GMT+2", "GMT+02:00", 2 * 3600},      // Java sign: ahead of UTC
		{"GMT+02", "GMT+02:00", 2 * 3600},
		{"GMT+02:00", "GMT+02:00", 2 * 3600},
		{"GMT+2:00", "GMT+02:00", 2 * 3600},
		{"GMT+0530", "GMT+05:30", 5*3600 + 1800},
		{"GMT-05:30", "GMT-05:30", -(5*3600 + 1800)},
		{"GMT-5", "GMT-05:00", -5 * 3600},
		{"GMT+0", "GMT", 0},
		{"UTC+1", "UTC+01:00", 3600},
		{"UTC-10:00", "UTC-10:00", -10 * 3600},
		{"UT+01:30", "UT+01:30", 5400},
		{"+02:00", "+02:00", 2 * 3600},
		{"-5", "-05:00", -5 * 3600},
		{"+00:00", "Z", 0},
		{"GMT+18", "GMT+18:00", 18 * 3600},
		{"GMT+123", "GMT+01:23", 3600 + 23*60}, // h then mm, as java.util.TimeZone reads it
	} {
		loc, err := z.load(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if _, off := at.In(loc).Zone(); loc.String() != c.name || off != c.offset {
			t.Errorf("%s: zone %s with offset %d, want %s with %d", c.in, loc, off, c.name, c.offset)
		}
	}
	for _, bad := range []string{"utc", "gmt+2", "GMT+", "GMT+19", "GMT+18:30", "GMT+2:60", "GMT+1:5", "GMT 2", "+", "Local", "", "../etc/passwd", "/etc/localtime", "Mars/Base", "GMT+25:00"} {
		_, err := z.load(bad)
		if err == nil || !errors.Is(err, ErrInvalidTimeZone) {
			t.Errorf("%q: err = %v", bad, err)
			continue
		}
		if !strings.Contains(err.Error(), zoneForms) {
			t.Errorf("%q: the error does not list the accepted forms: %v", bad, err)
		}
	}
}

func TestSuggest(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"persistd", "persisted"}, {"scirpt", "script"}, {"taskScanner", "taskscanner"},
		{"sink", "sync"}, {"jobs", "job"}, {"testService", ""}, {"frobnicate", ""}, {"x", ""},
	} {
		if got := suggest(c.in, slices.Concat(knownServices, []string{"persisted", "enabled"})); got != c.want {
			t.Errorf("suggest(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"10m": 10 * time.Minute, "0d": 0, "30 seconds": 30 * time.Second, "500ms": 500 * time.Millisecond, "2 Days": 48 * time.Hour} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "10", "m", "-1m", "1.5h", "10 parsecs", "99999999999999999999d"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) succeeded", bad)
		}
	}
}

func TestCheckMacros(t *testing.T) {
	for _, c := range []struct {
		in          string
		errs, warns int
	}{
		{"${Time.now}", 0, 0},
		{"a ${Time.now + 1d} b ${Time.nowWithOffset - 10m}", 0, 0},
		{"${Time.now + 2M}${Time.now - 1y}${Time.now + -3s}", 0, 0},
		{"${Time.now + 1x}", 1, 0},
		{"${Time.now+1d}", 1, 0},
		{"${Time.now + d}", 1, 0},
		{"${Time.now +}", 1, 0},
		{"!(${taskState.completed} pr)", 0, 0},
		{"!(${taskState.started} pr)", 0, 0},
		{"${sunset.date}", 0, 1},
		{"${Time.now + 1d extra}", 1, 0},
		{`\${Time.now + 1x}`, 0, 0},
		{"${unterminated", 0, 0},
	} {
		errs, warns := checkMacros(c.in, query.MacroContext{TaskStateStarted: "/s/started", TaskStateCompleted: "/s/completed"})
		if len(errs) != c.errs || len(warns) != c.warns {
			t.Errorf("checkMacros(%q) = %v, %v", c.in, errs, warns)
		}
	}
}

func TestResolveScriptPath(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.js", "1")
	write(t, dir, "script/b.js", "1")
	write(t, dir, "audit/c.js", "1")
	for in, want := range map[string]string{
		"a.js": "a.js", "script/a.js": "a.js", "script/b.js": "script/b.js", "audit/c.js": "audit/c.js", "./a.js": "a.js",
	} {
		got, err := ResolveScriptPath(dir, in)
		if err != nil || got != filepath.Join(dir, want) {
			t.Errorf("ResolveScriptPath(%q) = %q, %v", in, got, err)
		}
	}
	outside := t.TempDir()
	write(t, outside, "secret.js", "1")
	for link, target := range map[string]string{
		"escape.js":       filepath.Join(outside, "secret.js"),
		"escape-dir":      outside,
		"inside-link.js":  "a.js",
		"audit/parent.js": "../a.js",
	} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	for _, in := range []string{"inside-link.js", "audit/parent.js"} {
		if _, err := ResolveScriptPath(dir, in); err != nil {
			t.Errorf("ResolveScriptPath(%q) = %v; a symlink inside the directory is fine", in, err)
		}
	}
	for in, sentinel := range map[string]error{
		"escape.js": ErrInvalidValue, "escape-dir/secret.js": ErrInvalidValue, "audit": ErrNotRegular,
		"missing.js": ErrScriptNotFound, "b.js": ErrScriptNotFound, "/etc/passwd": ErrInvalidValue, "../a.js": ErrInvalidValue, "script/../../a.js": ErrInvalidValue,
	} {
		if _, err := ResolveScriptPath(dir, in); !errors.Is(err, sentinel) {
			t.Errorf("ResolveScriptPath(%q) = %v, want %v", in, err, sentinel)
		}
	}
}

func TestParseProperties(t *testing.T) {
	props, _, errs := parseProperties([]byte("# comment\n! other\n  a = 1\nb:2\nc 3\nd=x=y\ne=multi \\\n   line\nf=\\u00e9\\t\ng=\\uZZZZ\nkey\\ with\\ space=v\n\n"))
	want := map[string]string{"a": "1", "b": "2", "c": "3", "d": "x=y", "e": "multi line", "f": "é\t", "key with space": "v"}
	if len(errs) != 1 || errs[0].line != 10 {
		t.Errorf("errors = %v", errs)
	}
	if fmt.Sprint(props) != fmt.Sprint(want) {
		t.Errorf("props = %v, want %v", props, want)
	}
}

func TestJSONParser(t *testing.T) {
	n, err := parseJSON([]byte("// c\n{\"a\": [1, -2.5e3, true, null, \"x\\/y\\ud83d\\ude00\"], /* c */ \"b\": {}}"))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(n.value())
	if string(got) != `{"a":[1,-2500,true,null,"x/y😀"],"b":{}}` {
		t.Errorf("value = %s", got)
	}
	if a := n.get("a"); a.line != 2 || a.col != 7 || a.items[4].col != 31 {
		t.Errorf("positions: a at %d:%d, item at %d", a.line, a.col, a.items[4].col)
	}
	for _, bad := range []string{"{", "[1,]", "{\"a\" 1}", "01", "1.", "-", "tru", "\"\t\"", "\"a", "{\"a\":1}x", "[1e999]", "/", "/* x", "\"\\x\"", "\"\\u12\""} {
		if _, err := parseJSON([]byte(bad)); err == nil {
			t.Errorf("parseJSON(%q) succeeded", bad)
		}
	}
	deep := strings.Repeat("[", maxDepth+5) + strings.Repeat("]", maxDepth+5)
	if _, err := parseJSON([]byte(deep)); err == nil {
		t.Error("deep nesting accepted")
	}
}

// TestShippedConfAndExamples loads the conf/ directory `make run` serves and
// every examples/<scenario> directory: each must load with no error.
func TestShippedConfAndExamples(t *testing.T) {
	dirs := map[string]string{"../../conf": "../../scripts"}
	examples, _ := filepath.Glob("../../examples/*/conf")
	if len(examples) < 4 {
		t.Fatalf("found %d examples, want at least 4", len(examples))
	}
	for _, conf := range examples {
		dirs[conf] = filepath.Join(filepath.Dir(conf), "scripts")
	}
	for conf, scripts := range dirs {
		t.Run(conf, func(t *testing.T) {
			d, err := Load(conf, LoadOptions{ScriptsDir: scripts, Env: noEnv})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range d.AllErrors() {
				t.Error(e)
			}
			for _, w := range d.AllWarnings() {
				t.Errorf("warning: %v", w)
			}
			if len(d.Schedules) == 0 {
				t.Error("no schedules")
			}
		})
	}
}

// corpusDir holds real ForgeRock configuration files (the shared corpus);
// its file names are <origin>__<path>__<name>, the last part being the
// file's real name.
const corpusDir = "../../../shared/corpus/forgerock-conf"

// TestCorpus loads every schedule and scheduler file of the ForgeRock
// corpus, each alone in a directory under its real name: all must load
// without error. Script files are not checked (the corpus has none), and
// legacy scheduler-<name>.json files must give the rename warning.
func TestCorpus(t *testing.T) {
	entries, err := os.ReadDir(corpusDir)
	if err != nil {
		t.Skipf("corpus not available: %v", err)
	}
	boot, _ := filepath.Glob(filepath.Join(corpusDir, "*boot.properties"))
	n := 0
	for _, e := range entries {
		parts := strings.Split(e.Name(), "__")
		name := parts[len(parts)-1]
		legacy := strings.HasPrefix(name, "scheduler-")
		if !strings.HasPrefix(name, "schedule") || !strings.HasSuffix(name, ".json") {
			continue
		}
		n++
		t.Run(e.Name(), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(filepath.Join(corpusDir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			for _, withBoot := range []bool{false, true} {
				dir := t.TempDir()
				write(t, dir, name, string(data))
				if withBoot && len(boot) > 0 {
					b, _ := os.ReadFile(boot[0])
					write(t, dir, "boot/boot.properties", string(b))
				}
				d, err := Load(dir, LoadOptions{Env: noEnv})
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range d.AllErrors() {
					t.Error(e)
				}
				if legacy {
					if len(d.Warnings[name]) != 1 || !errors.Is(d.Warnings[name][0], ErrLegacyFileName) {
						t.Errorf("legacy file: warnings %v", d.Warnings[name])
					}
					continue
				}
				if strings.HasPrefix(name, "schedule-") && len(d.Schedules) != 1 {
					t.Errorf("got %d schedules", len(d.Schedules))
				}
			}
		})
	}
	if n < 50 {
		t.Errorf("only %d corpus files", n)
	}
}

// FuzzLoadSchedule feeds arbitrary bytes to the loader as a JSON and as a
// YAML schedule file: it must never panic, and it must return either errors
// or a schedule (or, for an empty document, a warning).
func FuzzLoadSchedule(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/*.*")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(okSchedule))
	f.Add([]byte("{\"a\": {\"$bool\": \"&{x}\"}}"))
	env := &scheduleEnv{
		props:      &properties{env: noEnv, defaults: builtinProperties("h")},
		scriptsDir: "testdata/scripts",
		loc:        time.UTC,
		zones:      &zoneCache{},
		// Every inline script "fails" somewhere in it (or past its end), so
		// that mapping script positions into arbitrary files is fuzzed too.
		checkScript: func(name string, src []byte) error {
			return &jsError{name: name, msg: "x", line: 1 + len(src)%3, col: 1 + len(src)%11}
		},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, isYAML := range []bool{false, true} {
			r := parseSchedule(scheduleInput{id: "fuzz", rel: "schedule-fuzz.json", display: "schedule-fuzz.json", data: data, isYAML: isYAML}, env)
			switch {
			case r.schedule != nil && len(r.errs) > 0:
				t.Fatalf("both a schedule and errors: %v", r.errs)
			case r.schedule == nil && len(r.errs) == 0 && !r.empty:
				t.Fatalf("neither a schedule nor errors")
			case r.schedule != nil && (r.schedule.Type == TypeCron && r.schedule.Cron == nil || r.schedule.Location == nil || r.schedule.Config() == nil):
				t.Fatalf("incomplete schedule %+v", r.schedule)
			}
			for _, e := range r.errs {
				var fe *FileError
				if !errors.As(e, &fe) {
					t.Fatalf("not a FileError: %v", e)
				}
			}
		}
	})
}

// BenchmarkLoad10000 loads a directory of 10,000 schedule files of the
// kinds found in real configurations.
func BenchmarkLoad10000(b *testing.B) {
	dir := b.TempDir()
	kinds := []string{
		`{"enabled": false, "type": "cron", "schedule": "0 0/%d * * * ?", "persisted": true, "misfirePolicy": "fireAndProceed",
  "invokeService": "sync", "invokeContext": {"action": "reconcile", "mapping": "systemLdapAccounts_managedUser%d"}}`,
		`{"enabled": true, "type": "simple", "repeatInterval": %d000, "persisted": true, "concurrentExecution": false,
  "invokeService": "provisioner", "invokeContext": {"action": "liveSync", "source": "system/ldap/account%d"}, "invokeLogLevel": "debug"}`,
		`{"enabled": true, "type": "cron", "schedule": "0 %d 2 ? * MON-FRI", "timeZone": "Europe/Paris", "persisted": true,
  "invokeService": "taskscanner", "invokeContext": {"waitForCompletion": false, "numberOfThreads": 5,
    "scan": {"_queryFilter": "((/sunset/date lt \"${Time.now + 1d}\") AND !(/sunset/task-completed pr))", "object": "managed/user%d",
      "taskState": {"started": "/sunset/task-started", "completed": "/sunset/task-completed"}, "recovery": {"timeout": "10m"}},
    "task": {"script": {"type": "text/javascript", "source": "openidm.patch(objectID, null, []); true;"}}}}`,
		`{"type": "cron", "schedule": "%d 0/1 * * * ?", "invokeService": "script",
  "invokeContext": {"script": {"type": "text/javascript", "source": "java.lang.System.out.println('It is working: ' + input.edit);", "input": {"edit": %d}}}}`,
	}
	for i := range 10000 {
		body := fmt.Sprintf(kinds[i%len(kinds)], i%59+1, i)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("schedule-s%05d.json", i)), []byte(body), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	d, err := Load(dir, LoadOptions{Env: noEnv})
	if err != nil {
		b.Fatal(err)
	}
	if !d.Valid() || len(d.Schedules) != 10000 {
		errs := d.AllErrors()
		sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
		b.Fatalf("%d schedules, errors: %v", len(d.Schedules), errs[:min(3, len(errs))])
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := Load(dir, LoadOptions{Env: noEnv}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestHostileFiles feeds large adversarial files (up to the 1 MiB limit):
// problems are capped per file, and nothing is quadratic in the file size
// (a regression would show as a test that takes minutes).
func TestHostileFiles(t *testing.T) {
	env := &scheduleEnv{props: &properties{env: noEnv}, loc: time.UTC, zones: &zoneCache{}}
	for name, data := range map[string]string{
		"undefined properties": `{"a": [` + strings.Repeat(`"&{x}",`, 30000) + `"x"]}`,
		"duplicate keys":       `{` + strings.Repeat(`"a": 1,`, 30000) + `"b": 2}`,
		"literal macros":       `{"invokeService": "taskscanner", "invokeContext": {"scan": {"a": [` + strings.Repeat(`"${foo}",`, 30000) + `"x"]}}}`,
		"long key":             `{"k` + strings.Repeat("x", 300000) + `": 1}`,
		"deep yaml":            strings.Repeat("- ", 20000) + "x",
	} {
		for _, isYAML := range []bool{false, true} {
			r := parseSchedule(scheduleInput{id: "h", display: "f", data: []byte(data), isYAML: isYAML}, env)
			if len(r.errs) == 0 || len(r.errs) > maxProblems+1 || len(r.warns) > maxProblems {
				t.Errorf("%s (yaml %v): %d errors, %d warnings", name, isYAML, len(r.errs), len(r.warns))
			}
		}
	}
}

// A Load shares what its schedules have in common: one parsed cron
// expression per normalised spec, the common strings of invokeContext.
func TestLoadShares(t *testing.T) {
	dir := t.TempDir()
	for i, spec := range []string{"0 0 3 * * ?", "0 0 3 * * ?", "0  0 3 * * ?", "0 0 4 * * ?"} {
		write(t, dir, fmt.Sprintf("schedule-s%d.json", i), `{"schedule": "`+spec+`", "invokeService": "script",
			"invokeContext": {"script": {"type": "text/javascript", "source": "1"}}, "invokeLogLevel": "INFO"}`)
	}
	d, err := Load(dir, LoadOptions{Env: noEnv})
	if err != nil || !d.Valid() {
		t.Fatal(err, d.AllErrors())
	}
	s := d.Schedules
	if s["s0"].Cron != s["s1"].Cron || s["s0"].Cron != s["s2"].Cron || s["s0"].Cron == s["s3"].Cron {
		t.Error("cron expressions not shared by normalised spec")
	}
	if s["s2"].CronSpec != "0  0 3 * * ?" || s["s2"].Cron.String() != "0 0 3 * * ?" {
		t.Errorf("spec %q / %q", s["s2"].CronSpec, s["s2"].Cron)
	}
	if s["s0"].InvokeLogLevel != "info" || s["s0"].Type != TypeCron {
		t.Errorf("log level %q, type %q", s["s0"].InvokeLogLevel, s["s0"].Type)
	}
	if a, b := s["s0"].InvokeContext.JSON(), s["s1"].InvokeContext.JSON(); unsafe.StringData(a) != unsafe.StringData(b) {
		t.Error("equal invokeContexts not shared")
	}
	if got, want := s["s0"].InvokeContext.JSON(), `{"script":{"source":"1","type":"text/javascript"}}`; got != want {
		t.Errorf("invokeContext = %s, want %s", got, want)
	}
	if n := unsafe.Sizeof(Schedule{}); n > 288 {
		t.Errorf("Schedule is %d bytes, want at most 288 (a size class)", n)
	}
}

// Config shows startTime and endTime as written.
func TestConfigTimes(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	for _, v := range []string{"2026-06-01T10:00:00", "2026-06-01T10:00:00Z", "2026-06-01T10:00:00+02:00",
		"2026-06-01T10:00:00-05:30", "2026-06-01T10:00:00+00:00", "2026-06-01T10:00:00-00:00"} {
		sc, errs := ParseScheduleJSON("x", []byte(`{"schedule": "0 0 3 * * ?", "invokeService": "sync", "invokeContext": {"action": "reconcile", "mapping": "m"},
			"startTime": "`+v+`", "endTime": "`+v+`", "timeZone": "America/New_York"}`), ParseOptions{Location: time.UTC})
		if errs != nil {
			t.Fatal(errs)
		}
		if got := sc.Config()["startTime"]; got != v {
			t.Errorf("startTime %q shown as %q", v, got)
		}
		if got := sc.Config()["endTime"]; got != v {
			t.Errorf("endTime %q shown as %q", v, got)
		}
	}
	// A wall time skipped by DST is shown as the instant it means.
	sc, errs := ParseScheduleJSON("x", []byte(`{"schedule": "0 0 3 * * ?", "invokeService": "sync", "invokeContext": {"action": "reconcile", "mapping": "m"},
		"startTime": "2026-03-08T02:30:00", "timeZone": "America/New_York"}`), ParseOptions{Location: time.UTC})
	if errs != nil {
		t.Fatal(errs)
	}
	got, _ := sc.Config()["startTime"].(string)
	if at, err := time.Parse(time.RFC3339, got); err != nil || !at.Equal(sc.StartTime) {
		t.Errorf("gap startTime shown as %q, start %v", got, sc.StartTime.In(ny))
	}
}

// TestBadBootPropertiesKeepPrevious: a boot.properties with a bad line applies
// none of its lines; the previous properties stay.
func TestBadBootPropertiesKeepPrevious(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "boot.properties", "color=red\n")
	write(t, dir, "schedule-p.json", `{"schedule": "0 0 * * * ?", "invokeService": "x.y", "invokeContext": {"c": "&{color}"}}`)
	env := envOf(nil)
	first, err := Load(dir, LoadOptions{Env: env})
	if err != nil || !first.Valid() {
		t.Fatalf("first load: %v %v", err, first.AllErrors())
	}
	write(t, dir, "boot.properties", "color=blue\nbad=\\u12\n")
	next, err := Load(dir, LoadOptions{Env: env, Previous: first})
	if err != nil {
		t.Fatal(err)
	}
	if next.Valid() {
		t.Fatal("a boot.properties with a bad line loaded without an error")
	}
	if got := next.Properties["color"]; got != "red" {
		t.Errorf("color = %q after a bad edit, want the previous \"red\"", got)
	}
	if got := next.Schedules["p"].InvokeContext.Map()["c"]; got != "red" {
		t.Errorf("schedule sees color %v, want \"red\"", got)
	}
}
