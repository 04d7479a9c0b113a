package managed_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"sundial/engine/managed"
	"sundial/engine/query"
	"sundial/engine/store"
	"sundial/engine/store/sqlite"
)

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestApplyPatch(t *testing.T) {
	const doc = `{"userName":"bjensen","active":true,"n":5,"f":1.5,"roles":["a","b","a"],"tags":[1,2],"addr":{"city":"Paris"},"nul":null}`
	for _, tc := range []struct {
		name, patch, want, err string
	}{
		{"guide's replace", `[{"operation":"replace","field":"/active","value":false}]`,
			`{"userName":"bjensen","active":false,"n":5,"f":1.5,"roles":["a","b","a"],"tags":[1,2],"addr":{"city":"Paris"},"nul":null}`, ""},
		{"add creates parents", `[{"operation":"add","field":"/sunset/date","value":"2024-01-01T00:00:00.000Z"}]`,
			`{"userName":"bjensen","active":true,"n":5,"f":1.5,"roles":["a","b","a"],"tags":[1,2],"addr":{"city":"Paris"},"nul":null,"sunset":{"date":"2024-01-01T00:00:00.000Z"}}`, ""},
		{"add appends", `[{"operation":"add","field":"/roles/-","value":"c"}]`,
			`{"userName":"bjensen","active":true,"n":5,"f":1.5,"roles":["a","b","a","c"],"tags":[1,2],"addr":{"city":"Paris"},"nul":null}`, ""},
		{"replace null is a no-op", `[{"operation":"replace","field":"/active","value":null}]`, doc, ""},
		{"remove field", `[{"operation":"remove","field":"addr/city"}]`,
			`{"userName":"bjensen","active":true,"n":5,"f":1.5,"roles":["a","b","a"],"tags":[1,2],"addr":{},"nul":null}`, ""},
		{"remove elements", `[{"operation":"remove","field":"/roles","value":"a"}]`,
			`{"userName":"bjensen","active":true,"n":5,"f":1.5,"roles":["b"],"tags":[1,2],"addr":{"city":"Paris"},"nul":null}`, ""},
		{"remove unequal scalar", `[{"operation":"remove","field":"/n","value":6}]`, doc, ""},
		{"remove equal scalar", `[{"operation":"remove","field":"/n","value":5.0}]`,
			`{"userName":"bjensen","active":true,"f":1.5,"roles":["a","b","a"],"tags":[1,2],"addr":{"city":"Paris"},"nul":null}`, ""},
		{"increment", `[{"operation":"increment","field":"/n","value":2},{"operation":"increment","field":"/f","value":1},{"operation":"increment","field":"/tags","value":10}]`,
			`{"userName":"bjensen","active":true,"n":7,"f":2.5,"roles":["a","b","a"],"tags":[11,12],"addr":{"city":"Paris"},"nul":null}`, ""},
		{"copy and move", `[{"operation":"copy","from":"/userName","field":"/cn"},{"operation":"move","from":"/addr","field":"/home"},{"operation":"move","from":"/missing","field":"/x"}]`,
			`{"userName":"bjensen","cn":"bjensen","active":true,"n":5,"f":1.5,"roles":["a","b","a"],"tags":[1,2],"home":{"city":"Paris"},"nul":null}`, ""},
		{"copy into itself", `[{"operation":"copy","from":"/addr","field":"/addr/old"},{"operation":"replace","field":"/addr/city","value":"Lyon"}]`,
			`{"userName":"bjensen","active":true,"n":5,"f":1.5,"roles":["a","b","a"],"tags":[1,2],"addr":{"city":"Lyon","old":{"city":"Paris"}},"nul":null}`, ""},
		{"increment missing", `[{"operation":"increment","field":"/nul","value":1}]`, "", "The field '/nul' does not exist"},
		{"increment string", `[{"operation":"increment","field":"/userName","value":1}]`, "", "The field '/userName' is not a number"},
		{"position", `[{"operation":"replace","field":"/roles/0","value":"x"}]`, "", "Position-based operation is not allowed: /roles/0"},
		{"unknown", `[{"operation":"transform","field":"/n","value":{}}]`, "", "Operation transform is not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ops, err := managed.ParsePatch([]byte(tc.patch))
			if err != nil {
				t.Fatal(err)
			}
			m := decode(t, doc)
			err = managed.ApplyPatch(m, ops)
			if tc.err != "" {
				var pe *managed.PatchError
				if !errors.As(err, &pe) || pe.Message != tc.err {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(m)
			want, _ := json.Marshal(decode(t, tc.want))
			if string(got) != string(want) {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
	for _, bad := range []string{`{}`, `[1]`, `[{"field":"/a"}]`, `nope`} {
		if _, err := managed.ParsePatch([]byte(bad)); err == nil {
			t.Errorf("ParsePatch(%s): no error", bad)
		}
	}
}

func openObjects(t *testing.T) store.Objects { return openObjectsB(t) }

func openObjectsB(t testing.TB) store.Objects {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "sundial.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestPatchStored: a patch is applied whole or not at all, with the
// revision checked; the guide's bjensen patch by query.
func TestPatchStored(t *testing.T) {
	ctx := t.Context()
	o := openObjects(t)
	if _, err := o.CreateObjects(ctx, store.CreateObjectsParams{Type: "user", Objects: []store.NewObject{
		{ID: "bjensen", Content: decode(t, `{"userName":"bjensen","active":true,"n":1}`)},
		{ID: "scarter", Content: decode(t, `{"userName":"scarter","active":true,"n":1}`)},
	}}); err != nil {
		t.Fatal(err)
	}
	ops, _ := managed.ParsePatch([]byte(`[{"operation":"replace","field":"/active","value":false},{"operation":"increment","field":"/userName","value":1}]`))
	if _, err := managed.Patch(ctx, o, managed.PatchParams{Type: "user", ID: "bjensen", Operations: ops}); err == nil {
		t.Fatal("a failing patch succeeded")
	}
	if got, _ := o.ReadObject(ctx, store.ReadObjectParams{Type: "user", ID: "bjensen"}); got.Rev != "1" || got.Content["active"] != true {
		t.Fatalf("a failing patch wrote: %+v", got)
	}
	ops, _ = managed.ParsePatch([]byte(`[{"operation":"increment","field":"/n","value":1}]`))
	if _, err := managed.Patch(ctx, o, managed.PatchParams{Type: "user", ID: "bjensen", IfRev: "7", Operations: ops}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("patch at a wrong revision: err = %v", err)
	}
	got, err := managed.Patch(ctx, o, managed.PatchParams{Type: "user", ID: "bjensen", IfRev: "1", Operations: ops})
	if err != nil || got.Rev != "2" || got.Content["n"] != json.Number("2") {
		t.Fatalf("patch: %+v, %v", got, err)
	}
	f, _ := query.Parse(`userName eq 'BJENSEN'`)
	ops, _ = managed.ParsePatch([]byte(`[{"operation":"replace","field":"/active","value":false}]`))
	patched, err := managed.PatchByQuery(ctx, o, managed.PatchByQueryParams{Type: "user", Filter: f, Operations: ops})
	if err != nil || len(patched) != 1 || patched[0].ID != "bjensen" || patched[0].Content["active"] != false {
		t.Fatalf("patch by query: %+v, %v", patched, err)
	}
	if got, _ := o.ReadObject(ctx, store.ReadObjectParams{Type: "user", ID: "scarter"}); got.Content["active"] != true {
		t.Fatalf("patch by query changed another object: %+v", got)
	}
}
