package crest

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// TestEncoderMatchesEncodingJSON: the encoder's own paths write exactly
// what encoding/json writes (without HTML escaping), on values made of
// every kind a resource holds, strings with escapes, non-ASCII and
// invalid UTF-8 included, and maps shared by several parts of a value
// (which the encoder copies from where it first wrote them).
func TestEncoderMatchesEncodingJSON(t *testing.T) {
	strs := []string{"", "plain", `q"uote`, `back\slash`, "tab\tnl\n", "\x00\x1f\x7f", "é", "\u2028\u2029", "\xff\xfe", "<&>", "日本"}
	r := rand.New(rand.NewPCG(1, 2))
	var made []map[string]any // maps to share again
	var gen func(depth int) any
	gen = func(depth int) any {
		switch k := r.IntN(10); {
		case k == 0:
			return nil
		case k == 1:
			return r.IntN(2) == 0
		case k == 2:
			return r.IntN(1000) - 500
		case k == 3:
			return int64(r.Int64())
		case k == 4:
			return r.Float64() * 1e6
		case k == 5:
			return json.Number("12.5e3")
		case k < 8 || depth > 3:
			return strs[r.IntN(len(strs))]
		case k == 8 && len(made) > 0 && r.IntN(3) == 0:
			return made[r.IntN(len(made))]
		case k == 8:
			m := map[string]any{}
			for range r.IntN(5) {
				m[strs[r.IntN(len(strs))]] = gen(depth + 1)
			}
			made = append(made, m)
			return m
		default:
			a := []any{}
			for range r.IntN(5) {
				a = append(a, gen(depth+1))
			}
			return a
		}
	}
	for i := range 2000 {
		v := []any{gen(0), gen(0), gen(0)}
		var want bytes.Buffer
		je := json.NewEncoder(&want)
		je.SetEscapeHTML(false)
		if err := je.Encode(v); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := newEncoder(&got).value(v); err != nil {
			t.Fatal(err)
		}
		if got.String()+"\n" != want.String() {
			t.Fatalf("value %d %#v:\n got %s\nwant %s", i, v, got.String(), want.String())
		}
	}
}
