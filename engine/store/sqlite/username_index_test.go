package sqlite

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sundial/engine/query"
	"sundial/engine/store"
)

// A userName eq "…" query reads the managed_objects_username index (the
// query fails if the index's expression and userNameKey ever differ) and
// answers what engine/query's matcher answers, on the values where
// folding is subtle, on arrays, numbers, objects and missing names.
func TestUserNameIndex(t *testing.T) {
	t.Parallel()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "idx.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	values := []any{"bjensen", "BJensen", "ſam", "sam", "Sam", "\u212aate", "kate", "İris", "iris", "ıris", "[", "[x]", "", "a\u0000b",
		json.Number("12"), true, nil, map[string]any{"b": "sam"}, []any{"x", "SAM"}, []any{json.Number("1")}, []any{}}
	var news []store.NewObject
	for i, v := range values {
		news = append(news, store.NewObject{ID: fmt.Sprintf("o%02d", i), Content: map[string]any{"userName": v, "n": json.Number(fmt.Sprint(i % 3))}})
	}
	news = append(news, store.NewObject{ID: "missing", Content: map[string]any{"n": json.Number("0")}})
	if _, err := s.CreateObjects(t.Context(), store.CreateObjectsParams{Type: "user", Objects: news}); err != nil {
		t.Fatal(err)
	}
	all, err := s.QueryObjects(t.Context(), store.QueryObjectsParams{Type: "user"})
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{`userName eq "sam"`, `userName eq "SAM"`, `userName eq "kate"`, `userName eq "iris"`, `userName eq "bjensen"`,
		`userName eq "["`, `userName eq "[x]"`, `userName eq ""`, `userName eq "12"`, `userName eq "x" and n eq 1`, `n eq 0 and userName eq "sam"`,
		`userName eq "Jürgen"`} {
		f, err := query.Parse(text)
		if err != nil {
			t.Fatal(err)
		}
		prog, err := query.Compile(f)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, o := range all.Objects {
			if prog.Match(o.Content) {
				want = append(want, o.ID)
			}
		}
		res, err := s.QueryObjects(t.Context(), store.QueryObjectsParams{Type: "user", Filter: f})
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		var got []string
		for _, o := range res.Objects {
			got = append(got, o.ID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %v, the matcher says %v", text, got, want)
		}
	}

	hint, ok := userNameHint(mustParse(t, `userName eq "bjensen"`))
	if !ok {
		t.Fatal("no hint for userName eq")
	}
	plan := queryPlan(t, s.reader, "SELECT id FROM managed_objects WHERE type = ? AND "+hint, "user")
	if p := strings.Join(plan, "; "); !strings.Contains(p, "USING INDEX managed_objects_username (type=? AND <expr>=?)") {
		t.Errorf("the hint does not look the index up: %s", p)
	}
	for _, text := range []string{`userName co "b"`, `userName eq "b" or n eq 1`, `!(userName eq "b")`, `/a/userName eq "b"`, `userName eq 1`} {
		if h, ok := userNameHint(mustParse(t, text)); ok {
			t.Errorf("%s: a hint %s", text, h)
		}
	}
}

func mustParse(t *testing.T, text string) query.Filter {
	t.Helper()
	f, err := query.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
