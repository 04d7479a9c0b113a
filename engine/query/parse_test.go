package query

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseTreeAndOffsets(t *testing.T) {
	f, err := Parse(`  é/a pr AND ! (/b ſw 'x') or (true)`)
	if err != nil {
		t.Fatal(err)
	}
	want := &Or{At: 2, Operands: []Filter{
		&And{At: 2, Operands: []Filter{
			&Present{At: 2, Field: Pointer{Tokens: []string{"é", "a"}}},
			&Not{At: 13, Operand: &Comparison{At: 16, Field: Pointer{Tokens: []string{"b"}}, Operator: OpStartsWith, Value: Value{Kind: KindString, Str: "x"}}},
		}},
		&Literal{At: 31, Value: true},
	}}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("Parse = %#v\nwant %#v", f, want)
	}
	if got, wantS := f.String(), `((/%C3%A9/a pr and ! (/b sw "x")) or true)`; got != wantS {
		t.Errorf("String() = %q, want %q", got, wantS)
	}
}

func TestParseKeywordsFoldAsJava(t *testing.T) {
	for in, want := range map[string]string{
		`/a ſw "x"`:          `/a sw "x"`, // ſ upper-cases to S
		`/a EQ falſe`:        `/a eq false`,
		`/a Pr`:              `/a pr`,
		`/a MyOp 1`:          `/a MyOp 1`,
		`/a 1.5 2`:           `/a 1.5 2`,
		`!(/a pr)AnD(/b pr)`: `(! (/a pr) and /b pr)`,
	} {
		f, err := Parse(in)
		if err != nil || f.String() != want {
			t.Errorf("Parse(%q) = %v, %v; want %q", in, f, err, want)
		}
	}
}

func TestPointerLookup(t *testing.T) {
	obj := decodeObject(t, `{"a":[{"b":1},null],"n":null,"m":{"":{"x":true}},"k":{"0":"zero"}}`)
	for _, c := range []struct {
		filter string
		want   bool
	}{
		{"/a/0/b eq 1", true}, {"/a/+0/b eq 1", true}, {"/a/-0/b eq 1", true}, {"/a/00/b eq 1", true},
		{"/a/b eq 1", false}, {"/a/1 pr", false}, {"/a/2 pr", false}, {"!(/a/1 pr)", true},
		{"/n pr", false}, {"/n/x pr", false}, {"/m//x eq true", true}, {"/k/0 eq 'ZERO'", true},
		{"/ pr", true}, {"/a pr", true}, {"/a eq 1", false},
	} {
		if got := compileText(t, c.filter).Match(obj); got != c.want {
			t.Errorf("%s = %v, want %v", c.filter, got, c.want)
		}
	}
}

// TestProgramConcurrentMatch shares one Program between goroutines (run
// with -race): each match sees only its own object.
func TestProgramConcurrentMatch(t *testing.T) {
	users := benchUsers(t, 256)
	p, now := benchProgram(t, benchFilters[0].text)
	done := make(chan error, 4)
	for range 4 {
		go func() {
			m := p.Matcher()
			for i := range 2000 {
				u := users[i%len(users)]
				if m.Match(u) != sunsetGo(u, now) || p.Match(u) != sunsetGo(u, now) {
					done <- errBadMatch
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

var errBadMatch = errors.New("a concurrent match disagreed with the Go predicate")
