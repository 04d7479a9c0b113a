package sync_test

import (
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"

	"sundial/engine/store"
	"sundial/engine/sync"
)

// implicitMappings: two mappings from managed/src, in this order; the
// first fails on a source whose "fail" is true.
const implicitMappings = `{"mappings": [
  {"name": "srcA", "source": "managed/src", "target": "managed/a",
   "validSource": {"type": "text/javascript", "source": "if (source.fail) { throw 'refused' } true"},
   "correlationQuery": {"type": "text/javascript", "source": "({_queryFilter: 'name eq \"' + source.name + '\"'})"},
   "properties": [{"source": "name", "target": "name"}],
   "policies": [{"situation": "SOURCE_MISSING", "action": "DELETE"}, {"situation": "LINK_ONLY", "action": "UNLINK"},
     {"situation": "UNASSIGNED", "action": "REPORT"}, {"situation": "ALL_GONE", "action": "IGNORE"}]},
  {"name": "srcB", "source": "managed/src", "target": "managed/b", "enableSync": true,
   "properties": [{"source": "name", "target": "name"}],
   "policies": [{"situation": "SOURCE_MISSING", "action": "DELETE"}, {"situation": "LINK_ONLY", "action": "UNLINK"}]},
  {"name": "srcOff", "source": "managed/src", "target": "managed/off", "enableSync": false,
   "properties": [{"source": "name", "target": "name"}]}
]}`

// syncAudit lists the audit/sync entries as "mapping source situation
// action status", sorted.
func syncAudit(t *testing.T, svc *sync.Service) []string {
	t.Helper()
	all, err := svc.SyncAudit(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range all {
		out = append(out, strings.Join([]string{a["mapping"].(string), a["sourceObjectId"].(string), a["situation"].(string), a["action"].(string), a["status"].(string)}, " "))
	}
	sort.Strings(out)
	return out
}

// TestImplicitSync: managed writes through SyncedObjects run the
// enableSync mappings of their type in order; an update that changes
// nothing syncs nothing; a failing mapping skips the rest and fails the
// write (which stays made); deletes are SOURCE_MISSING, LINK_ONLY,
// UNASSIGNED (the old value correlates) or ALL_GONE.
func TestImplicitSync(t *testing.T) {
	p := newLiveProject(t, map[string]string{"conf/sync.json": implicitMappings})
	n := p.start(t)
	ctx := t.Context()
	create := func(typ, id string, content map[string]any) error {
		res, err := n.managed.CreateObjects(ctx, store.CreateObjectsParams{Type: typ, Objects: []store.NewObject{{ID: id, Content: content}}})
		if err != nil {
			t.Fatal(err)
		}
		return res[0].Err
	}
	ids := func(typ string) []string {
		page, err := p.objs.QueryObjects(ctx, store.QueryObjectsParams{Type: typ})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, o := range page.Objects {
			out = append(out, o.Content["name"].(string))
		}
		sort.Strings(out)
		return out
	}
	for _, id := range []string{"x", "y", "z"} {
		if err := create("src", id, map[string]any{"name": id}); err != nil {
			t.Fatal(err)
		}
	}
	if got := ids("a"); !slices.Equal(got, []string{"x", "y", "z"}) {
		t.Fatalf("managed/a %v", got)
	}
	if got := ids("b"); !slices.Equal(got, []string{"x", "y", "z"}) {
		t.Fatalf("managed/b %v", got)
	}
	if got := ids("off"); len(got) != 0 {
		t.Fatalf("a mapping with enableSync false ran: %v", got)
	}

	// the same content again: nothing to sync
	before := len(syncAudit(t, n.svc))
	o, err := p.objs.ReadObject(ctx, store.ReadObjectParams{Type: "src", ID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.managed.UpdateObject(ctx, store.UpdateObjectParams{Type: "src", ID: "x", Content: o.Content}); err != nil {
		t.Fatal(err)
	}
	if after := len(syncAudit(t, n.svc)); after != before {
		t.Errorf("an unchanged update synced: %d audit entries, then %d", before, after)
	}

	// a failure in the first mapping: the second is skipped, the write made
	err = create("src", "w", map[string]any{"name": "w", "fail": true})
	if !errors.Is(err, sync.ErrSyncFailed) || !strings.Contains(err.Error(), "srcA") || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("a failing sync: %v", err)
	}
	if _, err := p.objs.ReadObject(ctx, store.ReadObjectParams{Type: "src", ID: "w"}); err != nil {
		t.Errorf("the write was undone: %v", err)
	}
	if got := ids("b"); slices.Contains(got, "w") {
		t.Errorf("the mapping after the failed one ran: %v", got)
	}

	// deletes: y linked with its target (SOURCE_MISSING → DELETE); z linked,
	// its target gone first (LINK_ONLY → UNLINK); u unlinked but its old
	// value correlates (UNASSIGNED); v has nothing (ALL_GONE)
	if _, err := p.objs.DeleteObject(ctx, store.DeleteObjectParams{Type: "a", ID: aID(t, p, "z")}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.objs.CreateObjects(ctx, store.CreateObjectsParams{Type: "src", Objects: []store.NewObject{
		{ID: "u", Content: map[string]any{"name": "u"}}, {ID: "v", Content: map[string]any{"name": "v"}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.objs.CreateObjects(ctx, store.CreateObjectsParams{Type: "a", Objects: []store.NewObject{{ID: "a-u", Content: map[string]any{"name": "u"}}}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"y", "z", "u", "v"} {
		if _, err := n.managed.DeleteObject(ctx, store.DeleteObjectParams{Type: "src", ID: id}); err != nil {
			t.Fatalf("delete %s: %v", id, err)
		}
	}
	if got := ids("a"); !slices.Equal(got, []string{"u", "x"}) {
		t.Errorf("managed/a after the deletes: %v", got)
	}
	var deletes []string
	for _, e := range syncAudit(t, n.svc) {
		for _, id := range []string{"y", "z", "u", "v", "w"} {
			if strings.HasPrefix(e, "srcA managed/src/"+id+" ") {
				deletes = append(deletes, e)
			}
		}
	}
	want := []string{
		"srcA managed/src/u UNASSIGNED REPORT SUCCESS",
		"srcA managed/src/v ALL_GONE IGNORE SUCCESS",
		"srcA managed/src/w   FAILURE",
		"srcA managed/src/y ABSENT CREATE SUCCESS",
		"srcA managed/src/y SOURCE_MISSING DELETE SUCCESS",
		"srcA managed/src/z ABSENT CREATE SUCCESS",
		"srcA managed/src/z LINK_ONLY UNLINK SUCCESS",
	}
	if !slices.Equal(deletes, want) {
		t.Errorf("audit/sync:\n%s\nwant\n%s", strings.Join(deletes, "\n"), strings.Join(want, "\n"))
	}
}

// aID is the id of the managed/a object named name.
func aID(t *testing.T, p *liveProject, name string) string {
	t.Helper()
	page, err := p.objs.QueryObjects(t.Context(), store.QueryObjectsParams{Type: "a"})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range page.Objects {
		if o.Content["name"] == name {
			return o.ID
		}
	}
	t.Fatalf("no managed/a named %s", name)
	return ""
}
