package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestEmptyFilesKeepLastGoodVersion: a schedule file that is empty (0
// bytes, white space, comments only, or {}) is an error at 1:1, and the
// schedule it held keeps running; an empty scheduler file is an error too
// and keeps the previous settings. Deleting the file removes the schedule.
func TestEmptyFilesKeepLastGoodVersion(t *testing.T) {
	for name, content := range map[string]string{
		"zero bytes":    "",
		"white space":   " \n\t\r\n",
		"line comment":  "// nothing here\n",
		"block comment": "/* nothing */",
		"empty object":  "{}",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, "schedule-a.json", okSchedule)
			write(t, dir, "scheduler.json", `{"threadPool": {"threadCount": 3}}`)
			first, err := Load(dir, LoadOptions{Env: noEnv})
			if err != nil || !first.Valid() {
				t.Fatal(err, first.AllErrors())
			}
			write(t, dir, "schedule-a.json", content)
			write(t, dir, "scheduler.json", content)
			second, err := Load(dir, LoadOptions{Env: noEnv, Previous: first})
			if err != nil {
				t.Fatal(err)
			}
			errs := second.Errors["schedule-a.json"]
			wantPos := filepath.Join(dir, "schedule-a.json") + ":1:1: empty schedule file"
			if len(errs) != 1 || !errors.Is(errs[0], ErrEmpty) || !strings.HasPrefix(errs[0].Error(), wantPos) {
				t.Errorf("schedule errors = %v, want %s", errs, wantPos)
			}
			if second.Schedules["a"] != first.Schedules["a"] {
				t.Error("the emptied schedule did not keep its last good version")
			}
			if name != "empty object" {
				errs = second.Errors["scheduler.json"]
				want := filepath.Join(dir, "scheduler.json") + ":1:1: empty scheduler file"
				if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), want) {
					t.Errorf("scheduler errors = %v, want %s", errs, want)
				}
				if second.Scheduler.ThreadCount != 3 {
					t.Errorf("threadCount = %d, want the previous 3", second.Scheduler.ThreadCount)
				}
			}
			os.Remove(filepath.Join(dir, "schedule-a.json"))
			third, err := Load(dir, LoadOptions{Env: noEnv, Previous: second})
			if err != nil {
				t.Fatal(err)
			}
			if len(third.Schedules) != 0 {
				t.Errorf("a deleted file kept its schedule")
			}
		})
	}
}

// TestNotRegularFiles: FIFOs (and other special files) named like config
// files are errors that never block, whether they are listed as such, hide
// behind a symlink, or are script files.
func TestNotRegularFiles(t *testing.T) {
	dir := t.TempDir()
	scripts := t.TempDir()
	for _, p := range []string{
		filepath.Join(dir, "schedule-fifo.json"),
		filepath.Join(dir, "scheduler.json"),
		filepath.Join(dir, "boot.properties"),
		filepath.Join(dir, "fifo-target"),
		filepath.Join(scripts, "pipe.js"),
	} {
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
	}
	if err := os.Symlink("fifo-target", filepath.Join(dir, "schedule-link.json")); err != nil {
		t.Fatal(err)
	}
	write(t, dir, "regular-target", okSchedule)
	if err := os.Symlink("regular-target", filepath.Join(dir, "schedule-ok.json")); err != nil {
		t.Fatal(err)
	}
	write(t, dir, "schedule-script.json", `{"schedule": "0 0 * * * ?", "invokeService": "script",
  "invokeContext": {"script": {"type": "text/javascript", "file": "pipe.js"}}}`)
	d, err := Load(dir, LoadOptions{Env: noEnv, ScriptsDir: scripts})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(d.IDs(), ","); got != "ok" {
		t.Errorf("schedules = %s, want ok (the symlink to a regular file)", got)
	}
	for file, want := range map[string]string{
		"schedule-fifo.json":   ":1:1: not a regular file",
		"schedule-link.json":   ":1:1: not a regular file",
		"scheduler.json":       ":1:1: not a regular file",
		"boot.properties":      ":1:1: not a regular file",
		"schedule-script.json": `:2:67: invokeContext.script.file: script file "pipe.js" is not a regular file`,
	} {
		errs := d.Errors[file]
		if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), filepath.Join(dir, file)+want) {
			t.Errorf("%s: errors = %v, want %s", file, errs, want)
		}
	}
}

// TestFrequentSimpleTriggerWarns: a repeatInterval below one second is a
// warning at its position, not an error; one second and more, or a schedule
// that fires once, is quiet.
func TestFrequentSimpleTriggerWarns(t *testing.T) {
	for _, c := range []struct {
		keys string
		warn bool
	}{
		{`"repeatInterval": 1`, true},
		{`"repeatInterval": 999, "repeatCount": 3`, true},
		{`"repeatInterval": 1000`, false},
		{`"repeatInterval": 500, "repeatCount": 0`, false},
		{`"repeatInterval": 0, "repeatCount": 2`, false},
		{`"repeatCount": 0`, false},
	} {
		data := `{"type": "simple", ` + c.keys + `, "invokeService": "sync", "invokeContext": {"action": "reconcile", "mapping": "m"}}`
		s, errs := ParseScheduleJSON("s", []byte(data), ParseOptions{File: "f.json"})
		if len(errs) > 0 {
			t.Fatalf("%s: %v", c.keys, errs)
		}
		var got []string
		for _, w := range s.Warnings {
			if errors.Is(w, ErrFrequent) {
				got = append(got, w.Error())
			}
		}
		switch {
		case c.warn && (len(got) != 1 || !strings.HasPrefix(got[0], "f.json:1:38: repeatInterval: ") || !strings.Contains(got[0], "below 1000 ms")):
			t.Errorf("%s: warnings %q, want one at 1:38", c.keys, got)
		case !c.warn && len(got) > 0:
			t.Errorf("%s: unexpected warnings %q", c.keys, got)
		}
	}
}

// TestBootPropertiesNestedReferences: a boot.properties value may reference
// other keys (the environment and the defaults included); a cycle, a chain
// too deep or an undefined key is an error at the value, and the file is not
// applied.
func TestBootPropertiesNestedReferences(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "boot.properties", "host=idm.example.com\nport=&{openidm.port.http}\nurl=https://&{host}:&{port}/&{path|openidm}\nnode=&{url} on &{NODE_NAME_FROM_ENV}\nNODE_NAME_FROM_ENV=unused\nlit=\\\\&{host}\n")
	write(t, dir, "schedule-a.json", `{"schedule": "0 0 * * * ?", "invokeService": "sync", "invokeContext": {"action": "reconcile", "mapping": "&{node}"}}`)
	d, err := Load(dir, LoadOptions{Env: envOf(map[string]string{"NODE_NAME_FROM_ENV": "n1"})})
	if err != nil {
		t.Fatal(err)
	}
	if !d.Valid() {
		t.Fatal(d.AllErrors())
	}
	if got, want := d.Properties["node"], "https://idm.example.com:8080/openidm on n1"; got != want {
		t.Errorf("node = %q, want %q", got, want)
	}
	if got := d.Properties["lit"]; got != "&{host}" {
		t.Errorf("lit = %q, want the literal &{host}", got)
	}

	deep := ""
	for i := range maxReferenceDepth + 1 {
		deep += fmt.Sprintf("k%d=&{k%d}\n", i, i+1)
	}
	deep += fmt.Sprintf("k%d=end\n", maxReferenceDepth+1)
	for _, c := range []struct {
		name, boot string
		want       []string // line:col: message prefix
	}{
		{"self", "a=x &{a}\n", []string{`1:3: property "a": reference cycle &{a} → &{a}`}},
		{"two", "# c\nb = &{a}\n  a = &{b}\n", []string{`2:5: property "b": reference cycle &{b} → &{a} → &{b}`}},
		{"three through a chain", "x=&{a}\na=&{b}\nb=&{c}\nc=&{a}\n", []string{`2:3: property "a": reference cycle &{a} → &{b} → &{c} → &{a}`}},
		{"undefined", "a=1\nb=&{nope}\n", []string{`2:3: property "b": property "nope" is not defined`}},
		{"too deep", deep, []string{fmt.Sprintf("1:4: property \"k0\": property references nested deeper than %d", maxReferenceDepth)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, "boot.properties", c.boot)
			write(t, dir, "schedule-a.json", okSchedule)
			d, err := Load(dir, LoadOptions{Env: noEnv})
			if err != nil {
				t.Fatal(err)
			}
			errs := d.Errors["boot.properties"]
			if len(errs) != len(c.want) {
				t.Fatalf("errors = %v, want %q", errs, c.want)
			}
			for i, w := range c.want {
				if got := errs[i].Error(); !strings.HasPrefix(got, filepath.Join(dir, "boot.properties")+":"+w) {
					t.Errorf("error %q, want %s", got, w)
				}
			}
			if _, ok := d.Properties["a"]; ok {
				t.Error("a boot.properties with errors was applied")
			}
		})
	}
}

// TestInvokeContextRoundTrip: the invokeContext kept as canonical JSON
// decodes to what the file said, as a new map at each call.
func TestInvokeContextRoundTrip(t *testing.T) {
	s, errs := ParseScheduleJSON("s", []byte(`{"schedule": "0 0 * * * ?", "invokeService": "x.y", "invokeContext": {
		"b": [1, -2.5, true, null, "é <&> \"q\""], "a": {"n": 9007199254740993, "empty": {}}, "big": 1e300}}`), ParseOptions{})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := `{"a":{"empty":{},"n":9007199254740993},"b":[1,-2.5,true,null,"é <&> \"q\""],"big":1e+300}`
	if got := s.InvokeContext.JSON(); got != want {
		t.Errorf("JSON = %s\nwant   %s", got, want)
	}
	m := s.InvokeContext.Map()
	if n := m["a"].(map[string]any)["n"]; n != int64(9007199254740993) {
		t.Errorf("a.n = %#v, want the exact int64", n)
	}
	if b := m["b"].([]any); b[1] != -2.5 || b[4] != `é <&> "q"` {
		t.Errorf("b = %#v", b)
	}
	m["a"] = "changed"
	if s.InvokeContext.Map()["a"] == "changed" {
		t.Error("Map returned a shared map")
	}
	if (InvokeContext{}).Map() != nil || !(InvokeContext{}).IsZero() {
		t.Error("the zero InvokeContext is not empty")
	}
}
