package script

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/dop251/goja"
)

// smallScript is the shape of a task-scan script: read the bindings, log,
// build a patch, return true.
const smallScript = `var patch = [{ "operation" : "replace", "field" : "/accountStatus", "value" : "inactive" }];
logger.debug("Performing Sunset Task on {} ({})", input.mail, objectID);
true;`

func benchRequest() Request {
	return Request{Name: "taskscan_sunset", LogLevel: "info", Bindings: map[string]any{
		"input":    map[string]any{"_id": "1234", "mail": "bjensen@example.com", "sunset": map[string]any{"date": "2026-01-01T00:00:00Z"}},
		"objectID": "managed/user/1234",
	}}
}

// BenchmarkRun is a whole run of an inline script whose program is cached:
// a fresh runtime, the bindings, the run and the export.
func BenchmarkRun(b *testing.B) {
	e := New(Config{})
	spec := Spec{Source: smallScript}
	req := benchRequest()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if v, err := e.Run(ctx, spec, req); err != nil || v != true {
			b.Fatal(v, err)
		}
	}
}

// BenchmarkRunFile adds reading and hashing the file at each run (a cache
// hit).
func BenchmarkRunFile(b *testing.B) {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sunset.js"), []byte(smallScript), 0o644); err != nil {
		b.Fatal(err)
	}
	e := New(Config{ScriptsDir: dir})
	spec := Spec{File: "script/sunset.js"}
	req := benchRequest()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if v, err := e.Run(ctx, spec, req); err != nil || v != true {
			b.Fatal(v, err)
		}
	}
}

// BenchmarkProgramCache compares a cache hit with a compile (a miss).
func BenchmarkProgramCache(b *testing.B) {
	b.Run("hit", func(b *testing.B) {
		c := newProgramCache(defaultCacheSize)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.get("sunset.js", smallScript); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("miss", func(b *testing.B) {
		c := newProgramCache(defaultCacheSize)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if _, err := c.get("sunset.js", smallScript+"//"+strconv.Itoa(i)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkNewRuntime is the part of a run that pooling runtimes would save.
func BenchmarkNewRuntime(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		vm := goja.New()
		vm.SetMaxCallStackSize(maxCallStackSize)
	}
}
