package sync_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"sundial/engine/connector"
	"sundial/engine/managed"
	"sundial/engine/store"
	"sundial/engine/sync"
)

// readCounting is a managed set that counts its one-object reads.
type readCounting struct {
	*managed.Set
	reads *atomic.Int64
}

func (r readCounting) Read(ctx context.Context, id string) (connector.Object, error) {
	r.reads.Add(1)
	return r.Set.Read(ctx, id)
}

// TestLinkedTargetsReadInBatches: a re-run reads the linked targets of
// its sources many at a time, not one read per source, and still finds
// a linked target that is gone MISSING.
func TestLinkedTargetsReadInBatches(t *testing.T) {
	var reads atomic.Int64
	f := newFixture(t, mappingFile, func(c *sync.Config) {
		resolve := c.Resolve
		c.Resolve = func(r string) (connector.ObjectSet, func(), error) {
			set, release, err := resolve(r)
			if r == "managed/tgt" && err == nil {
				return readCounting{set.(*managed.Set), &reads}, release, nil
			}
			return set, release, err
		}
	})
	const n = 250
	var srcs, tgts []store.NewObject
	var links []store.Link
	for i := range n {
		name := fmt.Sprintf("u%03d", i)
		srcs = append(srcs, store.NewObject{ID: "s-" + name, Content: map[string]any{"userName": name, "mail": name + "@x"}})
		if i != 7 {
			tgts = append(tgts, store.NewObject{ID: "t-" + name, Content: map[string]any{"userName": name, "email": name + "@x",
				"status": "active", "display": map[string]any{"name": name + "!"}}})
		}
		links = append(links, store.Link{LinkType: "srcToTgt", LinkQualifier: "default", FirstID: "s-" + name, SecondID: "t-" + name})
	}
	for typ, objs := range map[string][]store.NewObject{"src": srcs, "tgt": tgts} {
		if _, err := f.objs.CreateObjects(t.Context(), store.CreateObjectsParams{Type: typ, Objects: objs}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.recons.CreateLinks(t.Context(), links); err != nil {
		t.Fatal(err)
	}
	run, err := f.svc.Reconcile(t.Context(), sync.ReconParams{Mapping: "srcToTgt"})
	if err != nil || run.State() != sync.StateSuccess {
		t.Fatal(err, run.Err())
	}
	if got := reads.Load(); got != 0 {
		t.Errorf("%d one-object reads of the target set, want 0", got)
	}
	var missing []string
	for _, e := range entries(t, f.svc, run.ID) {
		if strings.Contains(e, "MISSING") {
			missing = append(missing, e)
		}
	}
	if strings.Join(missing, ",") != "source s-u007 MISSING ASYNC SUCCESS" {
		t.Errorf("MISSING entries %v", missing)
	}
	if c := run.Counts(); c.SourceTotal != n || c.Created+c.Deleted != 0 {
		t.Errorf("counts %+v", c)
	}
}
