package query

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// vector is one case of testdata/crest-query-public.tsv, answered by
// ForgeRock's own code.
type vector struct {
	id, filter, object string
	parses             bool
	detail, idm, crest string
}

func readVectors(t testing.TB) []vector {
	t.Helper()
	data, err := os.ReadFile("testdata/crest-query-public.tsv")
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		c := strings.Split(line, "\t")
		if len(c) != 7 {
			t.Fatalf("%q: %d columns", line, len(c))
		}
		v := vector{id: c[0], object: c[2], parses: c[3] == "true", idm: c[5], crest: c[6]}
		if err := json.Unmarshal([]byte(c[1]), &v.filter); err != nil {
			t.Fatalf("%s: filter: %v", v.id, err)
		}
		if err := json.Unmarshal([]byte(c[4]), &v.detail); err != nil {
			t.Fatalf("%s: detail: %v", v.id, err)
		}
		vs = append(vs, v)
	}
	if len(vs) != 669 {
		t.Fatalf("%d vectors, want 669", len(vs))
	}
	return vs
}

func decodeObject(t testing.TB, s string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var obj map[string]any
	if err := d.Decode(&obj); err != nil {
		t.Fatalf("object %s: %v", s, err)
	}
	return obj
}

// TestVectors runs every ForgeRock case: parse or reject, the canonical
// form exactly, and IDM's match.
func TestVectors(t *testing.T) {
	var parsed, canonical, matched, crest int
	vs := readVectors(t)
	for _, v := range vs {
		f, err := Parse(v.filter)
		if (err == nil) != v.parses {
			t.Errorf("%s: Parse(%q): err = %v, ForgeRock parses = %v (%s)", v.id, v.filter, err, v.parses, v.detail)
			continue
		}
		parsed++
		if err != nil {
			canonical++
			matched++
			continue
		}
		if got := f.String(); got != v.detail {
			t.Errorf("%s: Parse(%q).String() = %q, want %q", v.id, v.filter, got, v.detail)
		} else {
			canonical++
		}
		p, err := Compile(f)
		if err != nil {
			t.Errorf("%s: Compile(%q): %v", v.id, v.filter, err)
			continue
		}
		if got := p.Match(decodeObject(t, v.object)); (map[bool]string{true: "true", false: "false"})[got] != v.idm {
			t.Errorf("%s: %q on %s = %v, IDM says %s", v.id, v.filter, v.object, got, v.idm)
		} else {
			matched++
		}
		if got := MatchCREST(f, decodeObject(t, v.object)).String(); got != v.crest {
			t.Errorf("%s: MatchCREST(%q) on %s = %s, CREST says %s", v.id, v.filter, v.object, got, v.crest)
		} else {
			crest++
		}
	}
	t.Logf("parse %d/%d, canonical %d/%d, IDM match %d/%d, CREST %d of the filters that parse", parsed, len(vs), canonical, len(vs), matched, len(vs), crest)
}
