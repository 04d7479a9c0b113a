package managed_test

import (
	"errors"
	"path/filepath"
	"testing"

	"sundial/engine/connector"
	"sundial/engine/managed"
	"sundial/engine/query"
	"sundial/engine/store"
	"sundial/engine/store/sqlite"
)

func TestSet(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	objs, _ := store.ObjectsOf(st)
	set := managed.NewSet(objs, "user")
	if set.Resource() != "managed/user" {
		t.Errorf("Resource() = %q", set.Resource())
	}
	created, err := set.Create(ctx, "u1", connector.Object{"userName": "ann"})
	if err != nil || created["_id"] != "u1" || created["_rev"] != "1" {
		t.Fatalf("Create: %v %v", created, err)
	}
	if _, err := set.Create(ctx, "u1", connector.Object{}); !errors.Is(err, connector.ErrConflict) {
		t.Errorf("second create: %v", err)
	}
	got, errs, err := set.CreateMany(ctx, []string{"u2", "u1", ""}, []connector.Object{{"userName": "bob"}, {}, {"userName": "cy"}})
	if err != nil || errs[0] != nil || !errors.Is(errs[1], connector.ErrConflict) || errs[2] != nil || got[2]["_id"] == "" {
		t.Fatalf("CreateMany: %v %v %v", got, errs, err)
	}
	if _, err := set.Update(ctx, "u1", "7", connector.Object{"userName": "x"}); !errors.Is(err, connector.ErrConflict) {
		t.Errorf("update at a wrong revision: %v", err)
	}
	if u, err := set.Update(ctx, "u1", "1", connector.Object{"userName": "anne"}); err != nil || u["_rev"] != "2" {
		t.Errorf("Update: %v %v", u, err)
	}
	if _, err := set.Read(ctx, "nope"); !errors.Is(err, connector.ErrNotFound) {
		t.Errorf("read missing: %v", err)
	}
	f, _ := query.Parse(`userName sw "b"`)
	var names []any
	if err := set.Query(ctx, connector.Query{Filter: f}, func(o connector.Object) error { names = append(names, o["userName"]); return nil }); err != nil || len(names) != 1 || names[0] != "bob" {
		t.Errorf("Query: %v %v", names, err)
	}
	n := 0
	_ = set.Query(ctx, connector.Query{IDsOnly: true}, func(connector.Object) error { n++; return nil })
	if n != 3 {
		t.Errorf("query all: %d objects", n)
	}
	if err := set.Delete(ctx, "u1", ""); err != nil {
		t.Fatal(err)
	}
	if err := set.Delete(ctx, "u1", ""); !errors.Is(err, connector.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}
