package script

import (
	"testing"

	"github.com/dop251/goja"
)

func TestFormatMessage(t *testing.T) {
	t.Parallel()
	vm := goja.New()
	val := func(src string) goja.Value {
		v, err := vm.RunString("(" + src + ")")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		msg    string
		params []string // JavaScript expressions
		want   string
	}{
		{"no placeholders", []string{"1"}, "no placeholders"},
		{"{}", []string{"1"}, "1"},
		{"a {} b {} c", []string{"1", "'x'"}, "a 1 b x c"},
		{"more {} than {} params {}", []string{"1"}, "more 1 than {} params {}"},
		{"fewer {}", []string{"1", "2", "3"}, "fewer 1"},
		{"{}{}", []string{"1", "2"}, "12"},
		{`escaped \{} then {}`, []string{"1"}, "escaped {} then 1"},
		{`backslash \\{}`, []string{"1"}, `backslash \1`},
		{"{ } and {x} are not placeholders {}", []string{"1"}, "{ } and {x} are not placeholders 1"},
		{"null {} undefined {}", []string{"null", "undefined"}, "null null undefined undefined"},
		{"object {}", []string{"{a: 1, b: 'x'}"}, `object {"a":1,"b":"x"}`},
		{"array {}", []string{"[1, [2]]"}, "array [1,[2]]"},
		{"error {}", []string{"new RangeError('r')"}, "error RangeError: r"},
		{"number {}", []string{"1.5"}, "number 1.5"},
		{"bool {}", []string{"false"}, "bool false"},
		{"date {}", []string{"new Date(0)"}, "date " + val("new Date(0)").String()},
		{"cycle {}", []string{"(function() { var o = {}; o.o = o; return o })()"}, "cycle [object Object]"},
		{"toJSON {}", []string{"{toJSON: function() { return 'j' }}"}, `toJSON "j"`},
		{"multi\nline {}", []string{"1"}, "multi\nline 1"},
		{"unicode é {} ✓", []string{"'ü'"}, "unicode é ü ✓"},
	}
	for _, tt := range tests {
		params := make([]goja.Value, len(tt.params))
		for i, p := range tt.params {
			params[i] = val(p)
		}
		if got := formatMessage(tt.msg, params); got != tt.want {
			t.Errorf("formatMessage(%q, %v) = %q, want %q", tt.msg, tt.params, got, tt.want)
		}
	}
}

func TestParseLevel(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"": "INFO", "trace": "DEBUG-4", "TRACE": "DEBUG-4", "debug": "DEBUG", "info": "INFO",
		"warn": "WARN", "warning": "WARN", "error": "ERROR", "fatal": "ERROR", " Fatal ": "ERROR",
	} {
		l, err := parseLevel(in)
		if err != nil || l.String() != want {
			t.Errorf("parseLevel(%q) = %v, %v, want %s", in, l, err, want)
		}
	}
	if _, err := parseLevel("loud"); err == nil {
		t.Error("parseLevel(loud) succeeded")
	}
}
