package query

import (
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that a filter that parses
// compiles and matches as matchTree does, and that its canonical form
// parses again to the same canonical form wherever ForgeRock's own does
// (not for string values holding '"' or '\', which the canonical form does
// not escape, Infinity, a field token holding a parenthesis, or a trailing
// empty field token).
func FuzzParse(f *testing.F) {
	for _, v := range readVectors(f) {
		f.Add(v.filter)
	}
	obj := decodeObject(f, `{"a":1,"s":"Straße","arr":["x",2,true,null],"n":null,"o":{"p":{"q":"İ"}},"sunset":{"date":"2024-01-01T00:00:00.000Z"}}`)
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := Parse(s)
		if err != nil {
			if _, ok := err.(*SyntaxError); !ok {
				t.Fatalf("Parse(%q) error %T, want *SyntaxError", s, err)
			}
			return
		}
		p, err := Compile(flt)
		if err != nil {
			t.Fatalf("Compile(%q): %v", s, err)
		}
		if got, want := p.Match(obj), matchTree(flt, obj); got != want {
			t.Fatalf("%q (%s) matches %v, matchTree %v", s, p.Source(), got, want)
		}
		MatchCREST(flt, obj)
		canonical := flt.String()
		if !reparses(flt) {
			return
		}
		again, err := Parse(canonical)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canonical, s, err)
		}
		if got := again.String(); got != canonical {
			t.Fatalf("canonical form %q of %q parses to %q", canonical, s, got)
		}
	})
}

// reparses reports whether ForgeRock's canonical form of f reads back as f.
func reparses(f Filter) bool {
	field := func(p Pointer) bool {
		for i, t := range p.Tokens {
			if strings.ContainsAny(t, "()") || (t == "" && i == len(p.Tokens)-1 && len(p.Tokens) > 1) {
				return false
			}
		}
		return true
	}
	switch f := f.(type) {
	case *And:
		for _, o := range f.Operands {
			if !reparses(o) {
				return false
			}
		}
	case *Or:
		for _, o := range f.Operands {
			if !reparses(o) {
				return false
			}
		}
	case *Not:
		return reparses(f.Operand)
	case *Present:
		return field(f.Field)
	case *Comparison:
		v := f.Value
		switch {
		case v.Kind == KindString && strings.ContainsAny(v.Str, `"\`):
			return false
		case v.Kind == KindDouble && (v.Double > 1.7976931348623157e308 || v.Double < -1.7976931348623157e308):
			return false
		}
		return field(f.Field)
	}
	return true
}
