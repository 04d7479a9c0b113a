package script

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseSpec(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		block map[string]any
		want  Spec
	}{
		{
			"seed shape: input inside the script block is a binding",
			map[string]any{"type": "text/javascript", "source": "x", "input": map[string]any{"edit": float64(26)}},
			Spec{Source: "x", Bindings: map[string]any{"input": map[string]any{"edit": float64(26)}}},
		},
		{
			"file becomes the name",
			map[string]any{"type": "text/javascript", "file": "script/sunset.js"},
			Spec{Name: "script/sunset.js", File: "script/sunset.js"},
		},
		{
			"a .js file needs no type",
			map[string]any{"file": "audit/autoPurgeAuditRecon.js"},
			Spec{Name: "audit/autoPurgeAuditRecon.js", File: "audit/autoPurgeAuditRecon.js"},
		},
		{
			"globals, an empty globals, name, visibility and _keys",
			map[string]any{"type": "text/javascript", "source": "x", "name": "n", "visibility": "public",
				"_id": "ignored", "globals": map[string]any{"input": nil}},
			Spec{Name: "n", Source: "x", Globals: map[string]any{"input": nil}},
		},
		{
			"empty globals",
			map[string]any{"type": "text/javascript", "source": "x", "globals": map[string]any{}},
			Spec{Source: "x"},
		},
		{
			"null globals and timeout",
			map[string]any{"type": "text/javascript", "source": "x", "globals": nil, "timeout": nil},
			Spec{Source: "x"},
		},
		{
			"timeout as a duration",
			map[string]any{"type": "text/javascript", "source": "x", "timeout": "30s"},
			Spec{Source: "x", Timeout: 30 * time.Second},
		},
		{
			"timeout in minutes",
			map[string]any{"type": "text/javascript", "source": "x", "timeout": "5m"},
			Spec{Source: "x", Timeout: 5 * time.Minute},
		},
		{
			"timeout as a JSON number of ms",
			map[string]any{"type": "text/javascript", "source": "x", "timeout": float64(1500)},
			Spec{Source: "x", Timeout: 1500 * time.Millisecond},
		},
		{
			"timeout as a YAML int of ms",
			map[string]any{"type": "text/javascript", "source": "x", "timeout": 250},
			Spec{Source: "x", Timeout: 250 * time.Millisecond},
		},
		{
			"memoryLimit with a unit",
			map[string]any{"type": "text/javascript", "source": "x", "memoryLimit": "256MiB"},
			Spec{Source: "x", MemoryLimit: 256 << 20},
		},
		{
			"memoryLimit in bytes",
			map[string]any{"type": "text/javascript", "source": "x", "memoryLimit": float64(1 << 20), "timeout": nil},
			Spec{Source: "x", MemoryLimit: 1 << 20},
		},
		{
			"the old spelling: name is the file",
			map[string]any{"type": "text/javascript", "name": "script/sunset.js"},
			Spec{Name: "script/sunset.js", File: "script/sunset.js"},
		},
		{
			"timeout as a string of ms (after &{property} substitution)",
			map[string]any{"type": "text/javascript", "source": "x", "timeout": "2000"},
			Spec{Source: "x", Timeout: 2 * time.Second},
		},
	}
	for _, tt := range tests {
		got, err := ParseSpec(tt.block)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, got, tt.want)
		}
	}
}

func TestParseSpec_Errors(t *testing.T) {
	t.Parallel()
	js := "text/javascript"
	tests := []struct {
		block map[string]any
		key   string
		want  string
	}{
		{nil, "", "script block is missing"},
		{map[string]any{"type": js}, "", `script block needs "source" or "file"`},
		{map[string]any{"type": js, "source": "x", "file": "y.js"}, "file", `"file": "source" and "file" are mutually exclusive`},
		{map[string]any{"type": "groovy", "source": "x"}, "type", `"type": unsupported script type "groovy" (only "text/javascript" is supported)`},
		{map[string]any{"type": "javascript", "file": "x.js"}, "type", `unsupported script type "javascript"`},
		{map[string]any{"source": "x"}, "type", `"type": missing (want "text/javascript")`},
		{map[string]any{"file": "x.groovy"}, "type", `"type": missing`},
		{map[string]any{"type": true, "source": "x"}, "type", `"type": must be a string, got a boolean`},
		{map[string]any{"type": js, "source": float64(1)}, "source", `"source": must be a string, got a number`},
		{map[string]any{"type": js, "file": nil}, "file", `"file": must be a string, got null`},
		{map[string]any{"type": js, "file": ""}, "file", `"file": empty script path`},
		{map[string]any{"type": js, "file": "/etc/passwd"}, "file", `"file": script path must be relative to the scripts directory: "/etc/passwd" is absolute`},
		{map[string]any{"type": js, "file": "../x.js"}, "file", `"../x.js" escapes it`},
		{map[string]any{"type": js, "file": "script/../../x.js"}, "file", `escapes it`},
		{map[string]any{"type": js, "file": "."}, "file", `names the directory itself`},
		{map[string]any{"type": js, "source": "x", "name": float64(1)}, "name", `"name": must be a string`},
		{map[string]any{"type": js, "source": "x", "globals": []any{}}, "globals", `"globals": must be an object, got an array`},
		{map[string]any{"type": js, "source": "x", "globals": map[string]any{"logger": 1}}, "globals", `"globals": "logger" would shadow the built-in binding`},
		{map[string]any{"type": js, "source": "x", "java": 1}, "java", `"java": would shadow the built-in binding`},
		{map[string]any{"type": js, "source": "x", "timeout": "soon"}, "timeout", `"timeout": invalid duration "soon"`},
		{map[string]any{"type": js, "source": "x", "timeout": "-1s"}, "timeout", `"timeout": must be positive, got -1s`},
		{map[string]any{"type": js, "source": "x", "timeout": float64(0)}, "timeout", `must be positive`},
		{map[string]any{"type": js, "source": "x", "timeout": 1.5}, "timeout", `invalid number of milliseconds 1.5`},
		{map[string]any{"type": js, "source": "x", "timeout": true}, "timeout", `must be a duration string or milliseconds, got a boolean`},
	}
	for _, tt := range tests {
		_, err := ParseSpec(tt.block)
		var se *SpecError
		if !errors.As(err, &se) {
			t.Errorf("%v: error %v is not a *SpecError", tt.block, err)
			continue
		}
		if se.Key != tt.key || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %q (key %q), want %q (key %q)", tt.block, err, se.Key, tt.want, tt.key)
		}
	}
	_, err := ParseSpec(map[string]any{"type": js, "file": "../x.js"})
	if !errors.Is(err, ErrBadPath) {
		t.Errorf("escape is not ErrBadPath: %v", err)
	}
}

func TestCandidatePaths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
	}{
		{"testlog.js", []string{"testlog.js"}},
		{"script/testlog.js", []string{"script/testlog.js", "testlog.js"}},
		{"script/pcs/x.js", []string{"script/pcs/x.js", "pcs/x.js"}},
		{"./script//a/../testlog.js", []string{"script/testlog.js", "testlog.js"}},
	}
	for _, tt := range tests {
		c, err := cleanPath(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := candidatePaths(c); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.in, got, tt.want)
		}
	}
}
