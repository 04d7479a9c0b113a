package sync_test

import (
	"context"
	"fmt"
	stdsync "sync"
	"testing"

	"sundial/engine/store"
	"sundial/engine/store/sqlite"
	"sundial/engine/sync"
)

// linkReads is the SQLite store, counting how the links are read.
type linkReads struct {
	*sqlite.Store
	mu      stdsync.Mutex
	every   int // QueryLinks of every link of a type
	mostIDs int // the most ids one LinksOf asked for
	batches int // LinksOf calls
}

func (s *linkReads) QueryLinks(ctx context.Context, p store.QueryLinksParams, fn func(store.Link) error) error {
	s.mu.Lock()
	if p.LinkQualifier == "" && p.FirstID == "" && p.SecondID == "" {
		s.every++
	}
	s.mu.Unlock()
	return s.Store.QueryLinks(ctx, p, fn)
}

func (s *linkReads) LinksOf(ctx context.Context, p store.LinksOfParams, fn func(store.Link) error) error {
	s.mu.Lock()
	s.batches++
	s.mostIDs = max(s.mostIDs, len(p.FirstIDs), len(p.SecondIDs))
	s.mu.Unlock()
	return s.Store.LinksOf(ctx, p, fn)
}

// TestReconReadsLinksBatchByBatch reconciles more sources than one batch
// holds: the links are read a batch of ids at a time, never all of them,
// and every situation comes out as when they were all held: a source
// correlating with a target linked from another batch, a target linked
// from a source that is gone.
func TestReconReadsLinksBatchByBatch(t *testing.T) {
	var reads *linkReads
	f := newFixture(t, mappingFile, func(c *sync.Config) {
		reads = &linkReads{Store: c.Store.(*sqlite.Store)}
		c.Store = reads
	})
	const n = 250
	for i := range n {
		f.put(t, f.src, fmt.Sprintf("s%03d", i), "userName", fmt.Sprintf("u%03d", i), "mail", fmt.Sprintf("u%03d@x", i))
		f.put(t, f.tgt, fmt.Sprintf("t%03d", i), "userName", fmt.Sprintf("u%03d", i), "email", "old@x")
		if i < 200 {
			f.link(t, fmt.Sprintf("s%03d", i), fmt.Sprintf("t%03d", i))
		}
	}
	// s-late (in the last batch) finds t005, linked from s005 in the
	// first batch; t-orphan's source is gone; t-nobody has no link.
	f.put(t, f.src, "s-late", "userName", "u005")
	f.put(t, f.tgt, "t-orphan", "userName", "orphan")
	f.link(t, "s-gone", "t-orphan")
	f.put(t, f.tgt, "t-nobody", "userName", "nobody")

	run, err := f.svc.Reconcile(t.Context(), sync.ReconParams{Mapping: "srcToTgt"})
	if err != nil || run.State() != sync.StateSuccess {
		t.Fatal(err, run.Err())
	}
	sits := run.Summary()["situationSummary"].(map[string]any)
	want := map[string]int{"CONFIRMED": 200, "FOUND": 50, "FOUND_ALREADY_LINKED": 1, "SOURCE_MISSING": 1, "UNASSIGNED": 1}
	for k, v := range want {
		if sits[k] != v {
			t.Errorf("%s: %v, want %d (%v)", k, sits[k], v, sits)
		}
	}
	if c := run.Counts(); c.Updated != 250 || c.Linked != 50 || c.Unlinked != 1 || c.SourceTotal != n+1 || c.TargetTotal != n+2 {
		t.Errorf("counts %+v", c)
	}
	reads.mu.Lock()
	if reads.every != 0 || reads.mostIDs > 100 || reads.batches < 3 {
		t.Errorf("links read: %d times all of them, %d LinksOf calls, at most %d ids", reads.every, reads.batches, reads.mostIDs)
	}
	reads.mu.Unlock()

	again, err := f.svc.Reconcile(t.Context(), sync.ReconParams{Mapping: "srcToTgt"})
	if err != nil || again.State() != sync.StateSuccess {
		t.Fatal(err, again.Err())
	}
	if c := again.Counts(); c.Created+c.Updated+c.Deleted+c.Linked+c.Unlinked != 0 {
		t.Errorf("second recon: %+v", c)
	}
	if sits := again.Summary()["situationSummary"].(map[string]any); sits["CONFIRMED"] != n || sits["UNASSIGNED"] != 2 {
		t.Errorf("second recon: %v", sits)
	}
}
