package managed_test

import (
	"context"
	"errors"
	"testing"

	"sundial/engine/managed"
	"sundial/engine/store"
)

// TestUnitBuffersWrites: a unit writes nothing until committed, sees its
// own writes (a query's results included), and commits them as one unit
// checked against the revisions it saw; a unit that lost a race to
// another writer commits nothing.
func TestUnitBuffersWrites(t *testing.T) {
	ctx := context.Background()
	objs := openObjects(t)
	if _, err := objs.CreateObjects(ctx, store.CreateObjectsParams{Type: "user", Objects: []store.NewObject{
		{ID: "a", Content: map[string]any{"n": "a"}}, {ID: "b", Content: map[string]any{"n": "b"}},
	}}); err != nil {
		t.Fatal(err)
	}
	res := managed.Resources{Objects: objs}
	u := managed.NewUnit(res)
	if _, err := u.Patch(ctx, "managed/user/a", "1", []any{map[string]any{"operation": "replace", "field": "/n", "value": "a2"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Delete(ctx, "managed/user/b", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Create(ctx, "managed/user", "c", map[string]any{"n": "c"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := u.Read(ctx, "managed/user/b"); got != nil {
		t.Errorf("the unit reads its deleted object: %v", got)
	}
	q, err := u.Query(ctx, "managed/user", map[string]any{"_queryFilter": "true"})
	if err != nil {
		t.Fatal(err)
	}
	if rs := q["result"].([]any); len(rs) != 1 || rs[0].(map[string]any)["n"] != "a2" || rs[0].(map[string]any)["_rev"] != "2" {
		t.Errorf("query in the unit: %v, want a at a2, revision 2", rs)
	}
	if o, _ := objs.ReadObject(ctx, store.ReadObjectParams{Type: "user", ID: "a"}); o.Content["n"] != "a" {
		t.Fatalf("the unit wrote before its commit: %v", o.Content)
	}

	lost := managed.NewUnit(res)
	if _, err := lost.Patch(ctx, "managed/user/a", "", []any{map[string]any{"operation": "replace", "field": "/n", "value": "lost"}}); err != nil {
		t.Fatal(err)
	}
	errs, err := objs.CommitObjectUnits(ctx, store.CommitObjectUnitsParams{Units: []store.ObjectUnit{{Writes: u.Writes()}, {Writes: lost.Writes()}}})
	if err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || !errors.Is(errs[1], store.ErrConflict) {
		t.Fatalf("commit: %v, want the first unit written and the second a conflict", errs)
	}
	for id, want := range map[string]any{"a": "a2", "b": nil, "c": "c"} {
		o, err := objs.ReadObject(ctx, store.ReadObjectParams{Type: "user", ID: id})
		if want == nil {
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: %v, want deleted", id, err)
			}
			continue
		}
		if err != nil || o.Content["n"] != want {
			t.Errorf("%s: %v %v, want n %v", id, o.Content, err, want)
		}
	}
}
