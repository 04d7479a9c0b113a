package query

import "testing"

// matchTree is IDM's match of f on obj read straight off the filter tree,
// each field looked up anew: the reference the compiled programs (their
// single-field groups, shared look-ups and fast paths) must agree with.
func matchTree(f Filter, obj map[string]any) bool {
	switch f := f.(type) {
	case *Literal:
		return f.Value
	case *And:
		for _, o := range f.Operands {
			if !matchTree(o, obj) {
				return false
			}
		}
		return true
	case *Or:
		for _, o := range f.Operands {
			if matchTree(o, obj) {
				return true
			}
		}
		return false
	case *Not:
		return !matchTree(f.Operand, obj)
	case *Present:
		return isPresent(valueAt(obj, f.Field))
	case *Comparison:
		if f.Operator.Extended() {
			return false
		}
		return newAssertion(f).anyOf(valueAt(obj, f.Field), operatorTests[f.Operator])
	}
	panic("unknown filter")
}

// compileText parses and compiles a filter that must compile.
func compileText(t testing.TB, text string) *Program {
	t.Helper()
	f, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(f)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCompileSource shows how the source calls one function per
// comparison, presence test, or group of them on one field.
func TestCompileSource(t *testing.T) {
	for _, c := range []struct{ filter, source string }{
		{`/a eq 1`, `c0(m0)`},
		{`/a pr`, `p0(m0)`},
		{`/ pr`, `p0($env)`},
		{`/$env/x eq 1`, `c0($env)`},
		{`!(/a pr)`, `f0(m0)`},
		{`/a/b lt "x" and !(/a/c pr)`, `(let v0 = m0; c0(v0) && f0(v0))`},
		{`/a le "x" and (!(/b pr) or /b ge "x")`, `(c0(m0) && f0(m1))`},
		{`/a gt 1 and /a lt 5 or /b pr`, `(f0(m0) || p0(m1))`},
		{`!(/a eq 1 or !(/a co "x" and /a pr))`, `f0(m0)`},
		{`/a eq 1 and /a myop 2`, `(c0(m0) && false)`},
		{`/a eq 1 and (/b eq 2 or /a eq 3)`, `(let v0 = m0; c0(v0) && (c1(m1) || c2(v0)))`},
		{`/x eq 1 and (/a/b eq 2 or /a/c eq 3)`, `(c0(m0) && (let v0 = m1; c1(v0) || c2(v0)))`},
		{`(/v0 eq 1 or /x pr) and /v0/y eq 2`, `(let v1 = m0; (c0(v1) || p0(m1)) && c1(v1))`},
		{`true and ! false`, `(true && !false)`},
	} {
		if got := compileText(t, c.filter).Source(); got != c.source {
			t.Errorf("Compile(%q).Source() = %q, want %q", c.filter, got, c.source)
		}
	}
}

// TestMatchAgreesWithTree checks the compiled programs against matchTree
// on objects where the fields are missing, null, arrays, nested, or of
// other types.
func TestMatchAgreesWithTree(t *testing.T) {
	filters := []string{
		`/a eq 1`, `/a pr`, `!(/a pr)`, `/a sw "x"`, `/a co 1`,
		`/a ge "m" and !(/a pr)`, `!(/a pr) or /a ge "m"`, `/a ge "m" or !(/a pr)`,
		`!(/a lt "m" and /a gt "c")`, `/a eq 1 or /a eq "x" or /a eq true`,
		`/a/b lt "m" and !(/a/c pr)`, `/a/b pr and /a/b/0 eq "x"`, `/a/0 eq "x" or /a/1 eq 2`,
		`/a le "m" and (!(/b pr) or /b ge "m")`, `/b lt "m" and (!(/a pr) or /a le "m")`,
		`/ pr`, `!(/ pr)`, `/a myop 1 or !(/a pr)`, `(/a pr and /a/b pr) or /a/c eq 1`,
		`/$env eq 1`, `/$env pr or /a pr`, `(/v0 eq "x" or /b pr) and /v0 lt "y"`,
		`/a eq "x" and (/b eq "n" or /a eq "z")`, `/a/b eq "c" and (/a/c pr or /a/b/0 eq "x")`,
	}
	objects := []string{
		`{}`, `{"a":null}`, `{"a":"x"}`, `{"a":"M"}`, `{"a":"z","b":"n"}`, `{"a":1}`, `{"a":true}`,
		`{"a":["x",2,true,null]}`, `{"a":["d","z"]}`, `{"a":[]}`, `{"a":{"b":"c","c":null}}`,
		`{"a":{"b":["x"],"c":1}}`, `{"a":{"b":"a"},"b":null}`, `{"b":"a"}`, `{"a":"İ","b":"ẞ"}`,
		`{"$env":1}`, `{"v0":"x","b":1}`, `{"v0":["z","x"]}`,
	}
	for _, text := range filters {
		p := compileText(t, text)
		m := p.Matcher()
		for _, o := range objects {
			obj := decodeObject(t, o)
			want := matchTree(p.Filter(), obj)
			if got := m.Match(obj); got != want {
				t.Errorf("%q (%s) on %s = %v, want %v", text, p.Source(), o, got, want)
			}
		}
	}
}
