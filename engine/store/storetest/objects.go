package storetest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"sundial/engine/query"
	"sundial/engine/store"
)

// ExerciseObjects runs the managed-object tests against a backend: writes
// with revisions, paging, sorting, and the differential test of queries,
// which requires every answer of QueryObjects to be engine/query's matcher's
// on the objects as stored.
func ExerciseObjects(t *testing.T, newStore func(t *testing.T) store.Store) {
	objects := func(t *testing.T) store.Objects {
		o, err := store.ObjectsOf(newStore(t))
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	t.Run("CRUD", func(t *testing.T) { t.Parallel(); objectsCRUD(t, objects(t)) })
	t.Run("ReadMany", func(t *testing.T) { t.Parallel(); objectsReadMany(t, objects(t)) })
	t.Run("ModifyMany", func(t *testing.T) { t.Parallel(); objectsModifyMany(t, objects(t)) })
	t.Run("Units", func(t *testing.T) { t.Parallel(); objectsUnits(t, objects(t)) })
	t.Run("Paging", func(t *testing.T) { t.Parallel(); objectsPaging(t, objects(t)) })
	t.Run("VectorsDifferential", func(t *testing.T) { t.Parallel(); objectsVectors(t, objects(t)) })
	t.Run("RandomDifferential", func(t *testing.T) { t.Parallel(); objectsRandom(t, objects(t)) })
}

func content(kv ...any) map[string]any {
	m := map[string]any{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func objectsCRUD(t *testing.T, o store.Objects) {
	ctx := t.Context()
	res, err := o.CreateObjects(ctx, store.CreateObjectsParams{Type: "user", Objects: []store.NewObject{
		{ID: "bjensen", Content: content("userName", "bjensen", "active", true)},
		{ID: "bjensen", Content: content("userName", "again")},
		{Content: content("userName", "anonymous")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil || res[0].Object.Rev != "1" || res[0].Object.Content["_id"] != "bjensen" || res[0].Object.Content["_rev"] != "1" {
		t.Fatalf("create: %+v", res[0])
	}
	if !errors.Is(res[1].Err, store.ErrConflict) {
		t.Fatalf("create of a repeated id: err = %v, want ErrConflict", res[1].Err)
	}
	if res[2].Err != nil || len(res[2].Object.ID) != 36 {
		t.Fatalf("create without id: %+v", res[2])
	}
	if _, err := o.ReadObject(ctx, store.ReadObjectParams{Type: "user", ID: "nobody"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("read of a missing object: err = %v", err)
	}
	if _, err := o.ReadObject(ctx, store.ReadObjectParams{Type: "role", ID: "bjensen"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("read under another type: err = %v", err)
	}
	got, err := o.UpdateObject(ctx, store.UpdateObjectParams{Type: "user", ID: "bjensen", IfRev: "1",
		Content: content("userName", "bjensen", "active", false, "_rev", "99")})
	if err != nil || got.Rev != "2" || got.Content["active"] != false || got.Content["_rev"] != "2" {
		t.Fatalf("update: %+v, %v", got, err)
	}
	if _, err := o.UpdateObject(ctx, store.UpdateObjectParams{Type: "user", ID: "bjensen", IfRev: "1", Content: content()}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("update at an old revision: err = %v", err)
	}
	if _, err := o.UpdateObject(ctx, store.UpdateObjectParams{Type: "user", ID: "nobody", Content: content()}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update of a missing object: err = %v", err)
	}
	boom := errors.New("boom")
	if _, err := o.ModifyObject(ctx, store.ModifyObjectParams{Type: "user", ID: "bjensen", Modify: func(c map[string]any) (map[string]any, error) {
		c["active"] = "half-written"
		return nil, boom
	}}); !errors.Is(err, boom) {
		t.Fatalf("modify failing: err = %v", err)
	}
	got, err = o.ModifyObject(ctx, store.ModifyObjectParams{Type: "user", ID: "bjensen", IfRev: "2", Modify: func(c map[string]any) (map[string]any, error) {
		if _, ok := c["_rev"]; ok {
			return nil, fmt.Errorf("modify sees _rev")
		}
		c["mail"] = "bjensen@example.com"
		return c, nil
	}})
	if err != nil || got.Rev != "3" || got.Content["mail"] != "bjensen@example.com" || got.Content["active"] != false {
		t.Fatalf("modify: %+v, %v", got, err)
	}
	if _, err := o.DeleteObject(ctx, store.DeleteObjectParams{Type: "user", ID: "bjensen", IfRev: "2"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("delete at an old revision: err = %v", err)
	}
	if got, err := o.DeleteObject(ctx, store.DeleteObjectParams{Type: "user", ID: "bjensen", IfRev: "3"}); err != nil || got.Rev != "3" {
		t.Fatalf("delete: %+v, %v", got, err)
	}
	if _, err := o.DeleteObject(ctx, store.DeleteObjectParams{Type: "user", ID: "bjensen"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: err = %v", err)
	}
}

// objectsModifyMany checks ModifyObjects' per-item outcomes: each item's
// revision check and Modify decide for it alone, in one commit.
// objectsReadMany reads more objects than one statement asks for, in a
// given order, with missing, repeated and other-type ids among them.
func objectsReadMany(t *testing.T, o store.Objects) {
	ctx := t.Context()
	const n = 1200
	var news []store.NewObject
	for i := range n {
		news = append(news, store.NewObject{ID: fmt.Sprintf("u%04d", i), Content: content("n", i)})
	}
	if _, err := o.CreateObjects(ctx, store.CreateObjectsParams{Type: "user", Objects: news}); err != nil {
		t.Fatal(err)
	}
	if _, err := o.CreateObjects(ctx, store.CreateObjectsParams{Type: "role", Objects: []store.NewObject{{ID: "r1", Content: content("n", -1)}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := o.UpdateObject(ctx, store.UpdateObjectParams{Type: "user", ID: "u0007", Content: content("n", 7, "again", true)}); err != nil {
		t.Fatal(err)
	}
	var ids, want []string
	for i := n - 1; i >= 0; i -= 2 {
		ids, want = append(ids, fmt.Sprintf("u%04d", i)), append(want, fmt.Sprintf("u%04d", i))
	}
	ids = append(ids, "nobody", "r1", "u0007", "U0009", "u1199")
	got, err := o.ReadObjects(ctx, store.ReadObjectsParams{Type: "user", IDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	if objectIDs(got) != strings.Join(want, " ") {
		t.Fatalf("ReadObjects ids:\n got %s\nwant %s", objectIDs(got), strings.Join(want, " "))
	}
	for _, g := range got {
		one, err := o.ReadObject(ctx, store.ReadObjectParams{Type: "user", ID: g.ID})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(g, one) {
			t.Fatalf("ReadObjects %s = %+v, ReadObject = %+v", g.ID, g, one)
		}
	}
	if got, err := o.ReadObjects(ctx, store.ReadObjectsParams{Type: "user"}); err != nil || len(got) != 0 {
		t.Fatalf("ReadObjects of no ids = %v, %v", got, err)
	}
}

func objectsModifyMany(t *testing.T, o store.Objects) {
	ctx := t.Context()
	var news []store.NewObject
	for _, id := range []string{"a", "b", "c", "d"} {
		news = append(news, store.NewObject{ID: id, Content: content("n", id)})
	}
	if _, err := o.CreateObjects(ctx, store.CreateObjectsParams{Type: "user", Objects: news}); err != nil {
		t.Fatal(err)
	}
	if _, err := o.UpdateObject(ctx, store.UpdateObjectParams{Type: "user", ID: "b", Content: content("n", "b2")}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	mark := func(c map[string]any) (map[string]any, error) { c["claimed"] = true; return c, nil }
	res, err := o.ModifyObjects(ctx, store.ModifyObjectsParams{Type: "user", Items: []store.ModifyItem{
		{ID: "d", IfRev: "1", Modify: mark},      // written
		{ID: "b", IfRev: "1", Modify: mark},      // b is at 2: conflict
		{ID: "nobody", IfRev: "1", Modify: mark}, // missing
		{ID: "c", IfRev: "1", Modify: func(c map[string]any) (map[string]any, error) { c["claimed"] = "half"; return nil, boom }},
		{ID: "a", Modify: mark},             // no check
		{ID: "a", IfRev: "1", Modify: mark}, // a is at 2 by now
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 6 {
		t.Fatalf("%d results, want 6", len(res))
	}
	for _, i := range []int{0, 4} {
		if r := res[i]; r.Err != nil || r.Object.Rev != "2" || r.Object.Content["claimed"] != true {
			t.Errorf("item %d: %+v", i, r)
		}
	}
	for i, want := range map[int]error{1: store.ErrConflict, 2: store.ErrNotFound, 3: boom, 5: store.ErrConflict} {
		if !errors.Is(res[i].Err, want) {
			t.Errorf("item %d: err = %v, want %v", i, res[i].Err, want)
		}
	}
	for id, want := range map[string]struct {
		rev     string
		claimed any
	}{"a": {"2", true}, "b": {"2", nil}, "c": {"1", nil}, "d": {"2", true}} {
		got, err := o.ReadObject(ctx, store.ReadObjectParams{Type: "user", ID: id})
		if err != nil || got.Rev != want.rev || got.Content["claimed"] != want.claimed {
			t.Errorf("%s after ModifyObjects: %+v, %v; want rev %s, claimed %v", id, got, err, want.rev, want.claimed)
		}
	}
}

// objectsUnits commits units of work: each all or nothing, a later unit
// seeing an earlier one's writes.
func objectsUnits(t *testing.T, o store.Objects) {
	ctx := t.Context()
	if _, err := o.CreateObjects(ctx, store.CreateObjectsParams{Type: "user", Objects: []store.NewObject{
		{ID: "a", Content: content("n", "a")}, {ID: "b", Content: content("n", "b")}, {ID: "c", Content: content("n", "c")},
	}}); err != nil {
		t.Fatal(err)
	}
	w := func(typ, id, rev string, c map[string]any) store.ObjectWrite {
		return store.ObjectWrite{Type: typ, ID: id, Rev: rev, Content: c}
	}
	errs, err := o.CommitObjectUnits(ctx, store.CommitObjectUnitsParams{Units: []store.ObjectUnit{
		// 0: a patched, a role created, c deleted: all written.
		{Writes: []store.ObjectWrite{w("user", "a", "1", content("n", "a2")), w("role", "r1", "", content("name", "r1")), w("user", "c", "1", nil)}},
		// 1: b written, but a expected at revision 1, which unit 0 changed: nothing written.
		{Writes: []store.ObjectWrite{w("user", "b", "1", content("n", "b-lost")), w("user", "a", "1", content("n", "a-lost"))}},
		// 2: creates r1, which unit 0 created.
		{Writes: []store.ObjectWrite{w("role", "r1", "", content("name", "again"))}},
		// 3: a missing object.
		{Writes: []store.ObjectWrite{w("user", "zz", "1", content("n", "zz"))}},
		// 4: a at the revision unit 0 wrote.
		{Writes: []store.ObjectWrite{w("user", "a", "2", content("n", "a3")), w("user", "b", "1", content("n", "b2"))}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []error{nil, store.ErrConflict, store.ErrConflict, store.ErrNotFound, nil}
	for i, e := range errs {
		if (want[i] == nil) != (e == nil) || (e != nil && !errors.Is(e, want[i])) {
			t.Errorf("unit %d: err %v, want %v", i, e, want[i])
		}
	}
	for _, c := range []struct{ typ, id, rev, n string }{
		{"user", "a", "3", "a3"}, {"user", "b", "2", "b2"}, {"role", "r1", "1", ""}, {"user", "c", "", ""},
	} {
		got, err := o.ReadObject(ctx, store.ReadObjectParams{Type: c.typ, ID: c.id})
		if c.rev == "" {
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s/%s: %v, want not found", c.typ, c.id, err)
			}
			continue
		}
		if err != nil || got.Rev != c.rev || (c.n != "" && got.Content["n"] != c.n) {
			t.Errorf("%s/%s: %+v %v, want rev %s n %q", c.typ, c.id, got, err, c.rev, c.n)
		}
	}
}

func objectsPaging(t *testing.T, o store.Objects) {
	ctx := t.Context()
	var news []store.NewObject
	for i := range 25 {
		news = append(news, store.NewObject{ID: fmt.Sprintf("u%02d", i), Content: content(
			"n", json.Number(fmt.Sprint(i%7)), "name", []string{"b", "A", "c", "ſ", "a"}[i%5])})
	}
	if _, err := o.CreateObjects(ctx, store.CreateObjectsParams{Type: "user", Objects: news}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		filter string
		sort   []store.SortKey
	}{
		{filter: "true"},
		{filter: `n gt 2`},
		{filter: `name eq "S"`}, // ſ folds to s: decided in Go
		{filter: "true", sort: []store.SortKey{{Field: ptr("name")}, {Field: ptr("n"), Descending: true}}},
		{filter: `n ge 1`, sort: []store.SortKey{{Field: ptr("n")}}},
	} {
		f, err := query.Parse(tc.filter)
		if err != nil {
			t.Fatal(err)
		}
		all, err := o.QueryObjects(ctx, store.QueryObjectsParams{Type: "user", Filter: f, SortKeys: tc.sort, CountTotal: true})
		if err != nil {
			t.Fatalf("%s: %v", tc.filter, err)
		}
		if all.Cookie != "" || all.Total != len(all.Objects) {
			t.Fatalf("%s unpaged: cookie %q, total %d of %d", tc.filter, all.Cookie, all.Total, len(all.Objects))
		}
		var paged []store.Object
		cookie := ""
		for pages := 0; ; pages++ {
			page, err := o.QueryObjects(ctx, store.QueryObjectsParams{Type: "user", Filter: f, SortKeys: tc.sort, PageSize: 4, Cookie: cookie})
			if err != nil {
				t.Fatalf("%s page %d: %v", tc.filter, pages, err)
			}
			if page.Total != -1 || len(page.Objects) > 4 || pages > 10 {
				t.Fatalf("%s page %d: %d objects, total %d", tc.filter, pages, len(page.Objects), page.Total)
			}
			paged = append(paged, page.Objects...)
			if cookie = page.Cookie; cookie == "" {
				break
			}
		}
		if objectIDs(paged) != objectIDs(all.Objects) {
			t.Errorf("%s: pages give %s, one query %s", tc.filter, objectIDs(paged), objectIDs(all.Objects))
		}
		ids, err := o.QueryObjects(ctx, store.QueryObjectsParams{Type: "user", Filter: f, SortKeys: tc.sort, IDsOnly: true})
		if err != nil || objectIDs(ids.Objects) != objectIDs(all.Objects) {
			t.Errorf("%s ids only: %v %s, want %s", tc.filter, err, objectIDs(ids.Objects), objectIDs(all.Objects))
		}
		for _, obj := range ids.Objects {
			if obj.Content["_id"] != obj.ID || obj.Content["_rev"] != obj.Rev {
				t.Errorf("%s ids only: %+v", tc.filter, obj)
			}
		}
	}
	// Without a filter, an ids-only query reads no document.
	ids, err := o.QueryObjects(ctx, store.QueryObjectsParams{Type: "user", IDsOnly: true, PageSize: 10})
	if err != nil || len(ids.Objects) != 10 || ids.Cookie == "" {
		t.Fatalf("ids only: %v %d objects, cookie %q", err, len(ids.Objects), ids.Cookie)
	}
	for _, obj := range ids.Objects {
		if len(obj.Content) != 2 || obj.Content["_id"] != obj.ID || obj.Content["_rev"] != "1" {
			t.Errorf("ids only: %+v", obj)
		}
	}
	f, _ := query.Parse("true")
	byName, _ := o.QueryObjects(ctx, store.QueryObjectsParams{Type: "user", Filter: f,
		SortKeys: []store.SortKey{{Field: ptr("name")}}, PageSize: 12})
	// a (case-insensitively, then by id) and A, then b, then c, then ſ (= s).
	if got := objectIDs(byName.Objects); got != "u01 u04 u06 u09 u11 u14 u16 u19 u21 u24 u00 u05" {
		t.Errorf("sorted by name: %s", got)
	}
	if _, err := o.QueryObjects(ctx, store.QueryObjectsParams{Type: "user", Cookie: "%%%"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("bad cookie: err = %v", err)
	}
}

func ptr(s string) query.Pointer { return query.Pointer{Tokens: strings.Split(s, "/")} }

func objectIDs(objs []store.Object) string {
	var b []string
	for _, o := range objs {
		b = append(b, o.ID)
	}
	return strings.Join(b, " ")
}

// vectorsFile is engine/query's copy of ForgeRock's query-filter vectors.
func vectorsFile(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "query", "testdata", "crest-query-public.tsv")
}

// objectsVectors stores every object of the vectors and runs every filter
// that parses over all of them.
func objectsVectors(t *testing.T, o store.Objects) {
	f, err := os.Open(vectorsFile(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var filters []query.Filter
	seen := map[string]bool{}
	var news []store.NewObject
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		var text string
		if err := json.Unmarshal([]byte(cols[1]), &text); err != nil {
			t.Fatal(err)
		}
		if flt, err := query.Parse(text); err == nil && !seen[flt.String()] {
			seen[flt.String()] = true
			filters = append(filters, flt)
		}
		d := json.NewDecoder(strings.NewReader(cols[2]))
		d.UseNumber()
		var obj map[string]any
		if err := d.Decode(&obj); err != nil {
			t.Fatal(err)
		}
		news = append(news, store.NewObject{ID: cols[0], Content: obj})
	}
	differential(t, o, news, filters)
}

// differential stores news (each alone: a backend may refuse some, such
// as PostgreSQL a NUL character) and checks QueryObjects against the
// matcher on what was stored.
func differential(t *testing.T, o store.Objects, news []store.NewObject, filters []query.Filter) {
	ctx := t.Context()
	var stored []store.Object
	refused := 0
	for _, n := range news {
		res, err := o.CreateObjects(ctx, store.CreateObjectsParams{Type: "thing", Objects: []store.NewObject{n}})
		if err != nil {
			t.Fatalf("create %s: %v", n.ID, err)
		}
		if errors.Is(res[0].Err, store.ErrInvalid) {
			refused++
			continue
		}
		if res[0].Err != nil {
			t.Fatalf("create %s: %v", n.ID, res[0].Err)
		}
		// What the matcher sees is the object as read back.
		got, err := o.ReadObject(ctx, store.ReadObjectParams{Type: "thing", ID: n.ID})
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, got)
	}
	if refused > len(news)/10 {
		t.Fatalf("%d of %d objects refused", refused, len(news))
	}
	for _, f := range filters {
		p, err := query.Compile(f)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, s := range stored {
			if p.Match(s.Content) {
				want = append(want, s.ID)
			}
		}
		slices.Sort(want)
		res, err := o.QueryObjects(ctx, store.QueryObjectsParams{Type: "thing", Filter: f, CountTotal: true})
		if err != nil {
			t.Fatalf("query %s: %v", f, err)
		}
		if got := objectIDs(res.Objects); got != strings.Join(want, " ") || res.Total != len(want) {
			t.Errorf("query %s: got %d [%s], total %d; the matcher says %d [%s]", f, len(res.Objects), got, res.Total, len(want), strings.Join(want, " "))
		}
	}
	t.Logf("%d filters over %d objects (%d refused by the backend)", len(filters), len(stored), refused)
}

// objectsRandom runs random filters of the vectors' grammar over random
// objects built of the values where SQL and Java disagree most.
func objectsRandom(t *testing.T, o store.Objects) {
	r := rand.New(rand.NewPCG(1, 2))
	fields := []string{"a", "b", "a/b", "arr", "s", "a/c"}
	strs := []string{"", "a", "A", "ab", "aB", "abc", "b", "z", "_", "s", "S", "ſ", "k", "K", "\u212a", "i", "I", "ı", "İ", "i\u0307",
		"é", "É", "σ", "Σ", "ς", "ß", "ẞ", "😀", "\ufffd", "a\u0000b", "sam", "ſam", "Sam", "Z9", "0", "10", "9"}
	nums := []string{"0", "-0", "0.0", "-0.0", "1", "-1", "1.5", "2", "10", "1e400", "-1e400", "9007199254740993",
		"123456789012345678901234567890", "5E0", "0.1", "0.30000000000000001", "1e-400"}
	value := func(depth int) any {
		switch r.IntN(8) {
		case 0, 1, 2:
			return strs[r.IntN(len(strs))]
		case 3, 4:
			return json.Number(nums[r.IntN(len(nums))])
		case 5:
			return r.IntN(2) == 0
		case 6:
			return nil
		}
		return map[string]any{"b": strs[r.IntN(len(strs))], "c": json.Number(nums[r.IntN(len(nums))])}
	}
	var news []store.NewObject
	for i := range 400 {
		obj := map[string]any{}
		for _, f := range []string{"a", "b", "s", "arr"} {
			if r.IntN(4) == 0 {
				continue
			}
			if f == "arr" || r.IntN(6) == 0 {
				var arr []any
				for range r.IntN(4) {
					arr = append(arr, value(1))
				}
				obj[f] = arr
				continue
			}
			obj[f] = value(0)
		}
		news = append(news, store.NewObject{ID: fmt.Sprintf("r%03d", i), Content: obj})
	}
	ops := []string{"eq", "co", "sw", "gt", "ge", "lt", "le", "EQ", "ext"}
	literal := func() string {
		switch r.IntN(5) {
		case 0, 1:
			s := strs[r.IntN(len(strs))]
			return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
		case 2:
			return []string{"true", "false"}[r.IntN(2)]
		}
		return []string{"0", "-0.0", "0.0", "1", "1.5", "-1", "10", "9007199254740992", "1.0E400", "0.3", "2"}[r.IntN(11)]
	}
	var expr func(depth int) string
	expr = func(depth int) string {
		k := r.IntN(10)
		if depth > 2 {
			k = r.IntN(5)
		}
		f := fields[r.IntN(len(fields))]
		switch {
		case k < 3:
			return f + " " + ops[r.IntN(len(ops))] + " " + literal()
		case k == 3:
			return f + " pr"
		case k == 4:
			return []string{"true", "false"}[r.IntN(2)]
		case k < 7:
			return "!(" + expr(depth+1) + ")"
		case k < 9:
			return "(" + expr(depth+1) + " and " + expr(depth+1) + ")"
		}
		return "(" + expr(depth+1) + " or " + expr(depth+1) + ")"
	}
	var filters []query.Filter
	for range 400 {
		text := expr(0)
		f, err := query.Parse(text)
		if err != nil {
			t.Fatalf("generated filter %q: %v", text, err)
		}
		filters = append(filters, f)
	}
	differential(t, o, news, filters)
}

// QueryObjects returns the objects of type typ matching the filter text,
// failing the test on a parse or query error.
func QueryObjects(t testing.TB, objs store.Objects, typ, filter string) []store.Object {
	t.Helper()
	f, err := query.Parse(filter)
	if err != nil {
		t.Fatal(err)
	}
	res, err := objs.QueryObjects(context.Background(), store.QueryObjectsParams{Type: typ, Filter: f})
	if err != nil {
		t.Fatal(err)
	}
	return res.Objects
}
