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

// names lists the "name" of every object of typ, sorted.
func names(t *testing.T, objs store.Objects, typ string) []string {
	t.Helper()
	page, err := objs.QueryObjects(t.Context(), store.QueryObjectsParams{Type: typ})
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

// pendingRecords counts the records of pending syncs in the store.
func pendingRecords(t *testing.T, objs store.Objects) int {
	t.Helper()
	page, err := objs.QueryObjects(t.Context(), store.QueryObjectsParams{Type: sync.PendingSyncType})
	if err != nil {
		t.Fatal(err)
	}
	return len(page.Objects)
}

// TestImplicitSyncOfUnits: the units CommitObjectUnits commits are synced
// as the other writes are: creates, updates with their old value (an
// update that changes nothing syncs nothing), deletes; a unit that does
// not commit syncs nothing; a mapping that fails is that unit's error,
// the unit staying committed and its other objects synced; no record of
// pending syncs is left.
func TestImplicitSyncOfUnits(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) { testImplicitSyncOfUnits(t, be.open) })
	}
}

func testImplicitSyncOfUnits(t *testing.T, open func(testing.TB) store.Store) {
	p := newLiveProjectOn(t, map[string]string{"conf/sync.json": implicitMappings}, open)
	n := p.start(t)
	ctx := t.Context()
	so := n.managed.(sync.SyncedObjects)
	commit := func(units ...store.ObjectUnit) []error {
		t.Helper()
		return commitUnits(t, so, units...)
	}
	write := func(id, rev string, content map[string]any) store.ObjectUnit {
		return store.ObjectUnit{Writes: []store.ObjectWrite{{Type: "src", ID: id, Rev: rev, Content: content}}}
	}

	errs := commit(write("x", "", map[string]any{"name": "x"}),
		store.ObjectUnit{Writes: []store.ObjectWrite{{Type: "src", ID: "y", Content: map[string]any{"name": "y"}},
			{Type: "other", ID: "o", Content: map[string]any{"name": "o"}}}})
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("creates: %v", errs)
	}
	if got := names(t, p.objs, "a"); !slices.Equal(got, []string{"x", "y"}) {
		t.Fatalf("managed/a after the creates: %v", got)
	}

	// x renamed, y deleted, z's unit conflicts (z does not exist at rev 3)
	before := len(syncAudit(t, n.svc))
	errs = commit(write("x", "1", map[string]any{"name": "x2"}), write("y", "1", nil), write("z", "3", map[string]any{"name": "z"}))
	if errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], store.ErrNotFound) {
		t.Fatalf("update, delete, conflict: %v", errs)
	}
	if got := names(t, p.objs, "a"); !slices.Equal(got, []string{"x2"}) {
		t.Fatalf("managed/a after the update and the delete: %v", got)
	}
	if got := names(t, p.objs, "b"); !slices.Equal(got, []string{"x2"}) {
		t.Fatalf("managed/b after the update and the delete: %v", got)
	}
	if got := len(syncAudit(t, n.svc)) - before; got != 4 {
		t.Errorf("%d audit/sync entries for an update and a delete in two mappings, want 4", got)
	}

	// the same content at the next revision: nothing to sync
	before = len(syncAudit(t, n.svc))
	if errs := commit(write("x", "2", map[string]any{"name": "x2"})); errs[0] != nil {
		t.Fatal(errs[0])
	}
	if after := len(syncAudit(t, n.svc)); after != before {
		t.Errorf("an unchanged unit synced: %d audit entries, then %d", before, after)
	}

	// a failing mapping: the unit's error, the unit committed, its other
	// object synced
	errs = commit(store.ObjectUnit{Writes: []store.ObjectWrite{{Type: "src", ID: "x", Rev: "3", Content: map[string]any{"name": "x3", "fail": true}},
		{Type: "src", ID: "q", Content: map[string]any{"name": "q"}}}})
	if !errors.Is(errs[0], sync.ErrSyncFailed) || !strings.Contains(errs[0].Error(), "refused") {
		t.Fatalf("a failing sync: %v", errs[0])
	}
	if o, err := p.objs.ReadObject(ctx, store.ReadObjectParams{Type: "src", ID: "x"}); err != nil || o.Content["name"] != "x3" {
		t.Errorf("the unit whose sync failed: %v %v", o.Content, err)
	}
	if got := names(t, p.objs, "a"); !slices.Equal(got, []string{"q", "x2"}) {
		t.Errorf("managed/a after the unit whose first sync failed: %v", got)
	}
	if got := pendingRecords(t, p.objs); got != 0 {
		t.Errorf("%d records of pending syncs left", got)
	}
}

// TestSyncPending: the syncs a process was killed before running (its
// units committed with their record) run when SyncPending does, on the
// objects as they are now; one that fails is reported and its record
// deleted all the same; a record of another node is left alone.
func TestSyncPending(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) { testSyncPending(t, be.open) })
	}
}

func testSyncPending(t *testing.T, open func(testing.TB) store.Store) {
	p := newLiveProjectOn(t, map[string]string{"conf/sync.json": implicitMappings}, open)
	n := p.start(t)
	record := func(id, node string, ids ...string) store.ObjectWrite {
		var list []any
		for _, i := range ids {
			list = append(list, map[string]any{"type": "src", "id": i})
		}
		return store.ObjectWrite{Type: sync.PendingSyncType, ID: id, Content: map[string]any{"node": node, "objects": list}}
	}
	// what the killed process committed: x created, y created then
	// deleted (its sync of the create ran, the delete's did not), and
	// the records
	so := n.managed.(sync.SyncedObjects)
	so.Node = "n1"
	if errs := commitUnits(t, so, store.ObjectUnit{Writes: []store.ObjectWrite{{Type: "src", ID: "y", Content: map[string]any{"name": "y"}}}}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	if errs := commitUnits(t, p.objs,
		store.ObjectUnit{Writes: []store.ObjectWrite{{Type: "src", ID: "x", Content: map[string]any{"name": "x"}}, {Type: "src", ID: "y", Rev: "1"},
			{Type: "src", ID: "f", Content: map[string]any{"name": "f", "fail": true}}, record("r1", "n1", "x", "y", "f")}},
		store.ObjectUnit{Writes: []store.ObjectWrite{{Type: "src", ID: "w", Content: map[string]any{"name": "w"}}, record("r2", "n2", "w")}}); errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	if got := names(t, p.objs, "a"); !slices.Equal(got, []string{"y"}) {
		t.Fatalf("managed/a before: %v", got)
	}
	done, err := so.SyncPending(t.Context())
	if err != nil || done.Synced != 3 || len(done.Failed) != 1 || !errors.Is(done.Failed[0], sync.ErrSyncFailed) {
		t.Fatalf("SyncPending: %+v, %v", done, err)
	}
	if got := names(t, p.objs, "a"); !slices.Equal(got, []string{"x"}) {
		t.Errorf("managed/a after: %v, want x created and y deleted", got)
	}
	if got := pendingRecords(t, p.objs); got != 1 {
		t.Errorf("%d records left, want the other node's", got)
	}
	if done, err := so.SyncPending(t.Context()); err != nil || done.Synced != 0 {
		t.Errorf("a second SyncPending: %+v, %v", done, err)
	}
}

func commitUnits(t *testing.T, objs store.Objects, units ...store.ObjectUnit) []error {
	t.Helper()
	errs, err := objs.CommitObjectUnits(t.Context(), store.CommitObjectUnitsParams{Units: units})
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != len(units) {
		t.Fatalf("%d errors for %d units", len(errs), len(units))
	}
	return errs
}
