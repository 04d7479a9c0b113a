package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	"sundial/engine/store"
)

// ExerciseRecons runs the synchronization-store tests against a backend:
// links and their two unique keys, recon runs and their retention, plan
// and audit entries.
func ExerciseRecons(t *testing.T, newStore func(t *testing.T) store.Store) {
	recons := func(t *testing.T) store.Recons {
		r, err := store.ReconsOf(newStore(t))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	t.Run("Links", func(t *testing.T) { t.Parallel(); reconLinks(t, recons(t)) })
	t.Run("LinksOf", func(t *testing.T) { t.Parallel(); reconLinksOf(t, recons(t)) })
	t.Run("Runs", func(t *testing.T) { t.Parallel(); reconRuns(t, recons(t)) })
	t.Run("ManyEntries", func(t *testing.T) { t.Parallel(); reconManyEntries(t, recons(t)) })
}

func reconLinks(t *testing.T, r store.Recons) {
	ctx := t.Context()
	res, err := r.CreateLinks(ctx, []store.Link{
		{LinkType: "m", LinkQualifier: "default", FirstID: "s1", SecondID: "t1"},
		{LinkType: "m", LinkQualifier: "default", FirstID: "s2", SecondID: "t2"},
		{LinkType: "m", LinkQualifier: "other", FirstID: "s1", SecondID: "t1"},
		{LinkType: "m", LinkQualifier: "default", FirstID: "s1", SecondID: "t9"}, // second link of s1
		{LinkType: "m", LinkQualifier: "default", FirstID: "s9", SecondID: "t2"}, // second link of t2
		{LinkType: "n", LinkQualifier: "default", FirstID: "s1", SecondID: "t1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, true, true, false, false, true} {
		if ok := res[i].Err == nil; ok != want {
			t.Errorf("link %d: err %v, want ok %v", i, res[i].Err, want)
		}
		if !want && !errors.Is(res[i].Err, store.ErrConflict) {
			t.Errorf("link %d: err %v, want ErrConflict", i, res[i].Err)
		}
		if want && (res[i].Link.ID == "" || res[i].Link.Rev != "1") {
			t.Errorf("link %d: %+v", i, res[i].Link)
		}
	}
	query := func(p store.QueryLinksParams) []store.Link {
		var out []store.Link
		if err := r.QueryLinks(ctx, p, func(l store.Link) error { out = append(out, l); return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := query(store.QueryLinksParams{LinkType: "m"}); len(got) != 3 {
		t.Errorf("links of m: %v", got)
	}
	if got := query(store.QueryLinksParams{LinkType: "m", LinkQualifier: "default", SecondID: "t2"}); len(got) != 1 || got[0].FirstID != "s2" {
		t.Errorf("link of t2: %v", got)
	}
	n, err := r.DeleteLinks(ctx, []string{res[0].Link.ID, "nope"})
	if err != nil || n != 1 {
		t.Fatalf("DeleteLinks: %d, %v", n, err)
	}
	if got := query(store.QueryLinksParams{LinkType: "m", FirstID: "s1"}); len(got) != 1 || got[0].LinkQualifier != "other" {
		t.Errorf("links of s1 after the delete: %v", got)
	}
	// s1 can be linked again once its link is gone.
	res, err = r.CreateLinks(ctx, []store.Link{{ID: "fixed", LinkType: "m", LinkQualifier: "default", FirstID: "s1", SecondID: "t9"}})
	if err != nil || res[0].Err != nil || res[0].Link.ID != "fixed" {
		t.Fatalf("relink: %v %v", res, err)
	}
}

// reconLinksOf reads links by either end, over more ids than one
// statement compares.
func reconLinksOf(t *testing.T, r store.Recons) {
	ctx := t.Context()
	var links []store.Link
	for i := range 1200 {
		links = append(links, store.Link{LinkType: "m", LinkQualifier: "default", FirstID: fmt.Sprintf("s%04d", i), SecondID: fmt.Sprintf("t%04d", i)})
	}
	links = append(links,
		store.Link{LinkType: "m", LinkQualifier: "other", FirstID: "s0001", SecondID: "t0001"},
		store.Link{LinkType: "n", LinkQualifier: "default", FirstID: "s0001", SecondID: "t0001"})
	if _, err := r.CreateLinks(ctx, links); err != nil {
		t.Fatal(err)
	}
	linksOf := func(p store.LinksOfParams) map[string]string {
		out := map[string]string{}
		err := r.LinksOf(ctx, p, func(l store.Link) error {
			if l.ID == "" || l.Rev != "1" || l.LinkType != p.LinkType || l.LinkQualifier != p.LinkQualifier {
				t.Errorf("LinksOf(%+v): %+v", p, l)
			}
			out[l.FirstID] = l.SecondID
			return nil
		})
		if err != nil {
			t.Fatalf("LinksOf(%+v): %v", p, err)
		}
		return out
	}
	var many, wantMany []string
	for i := 0; i < 1300; i += 2 { // past the last link too
		many = append(many, fmt.Sprintf("s%04d", i))
		if i < 1200 {
			wantMany = append(wantMany, fmt.Sprintf("s%04d", i))
		}
	}
	got := linksOf(store.LinksOfParams{LinkType: "m", LinkQualifier: "default", FirstIDs: many})
	if len(got) != len(wantMany) {
		t.Errorf("by first ids: %d links, want %d", len(got), len(wantMany))
	}
	for _, id := range wantMany {
		if got[id] != "t"+id[1:] {
			t.Errorf("by first ids: %s -> %q", id, got[id])
		}
	}
	cases := []struct {
		name string
		p    store.LinksOfParams
		want map[string]string
	}{
		{"by second ids", store.LinksOfParams{LinkType: "m", LinkQualifier: "default", SecondIDs: []string{"t0003", "t0003", "s0004", "nope"}},
			map[string]string{"s0003": "t0003"}},
		{"other qualifier", store.LinksOfParams{LinkType: "m", LinkQualifier: "other", FirstIDs: []string{"s0001", "s0002"}},
			map[string]string{"s0001": "t0001"}},
		{"other type", store.LinksOfParams{LinkType: "n", LinkQualifier: "default", SecondIDs: []string{"t0001", "t0002"}},
			map[string]string{"s0001": "t0001"}},
		{"no ids", store.LinksOfParams{LinkType: "m", LinkQualifier: "default"}, map[string]string{}},
		{"one id", store.LinksOfParams{LinkType: "m", LinkQualifier: "default", FirstIDs: []string{"s1199"}}, map[string]string{"s1199": "t1199"}},
	}
	for _, c := range cases {
		if got := linksOf(c.p); !maps.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	err := r.LinksOf(ctx, store.LinksOfParams{LinkType: "m", LinkQualifier: "default", FirstIDs: []string{"s1"}, SecondIDs: []string{"t1"}},
		func(store.Link) error { return nil })
	if !errors.Is(err, store.ErrInvalid) {
		t.Errorf("both ends: %v, want ErrInvalid", err)
	}
	stop := errors.New("stop")
	calls := 0
	err = r.LinksOf(ctx, store.LinksOfParams{LinkType: "m", LinkQualifier: "default", FirstIDs: many}, func(store.Link) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("a failing callback: %v after %d calls", err, calls)
	}
}

// reconManyEntries appends more entries at once than one statement may
// hold, then a batch with one seq taken, which writes none of its entries.
func reconManyEntries(t *testing.T, r store.Recons) {
	ctx := t.Context()
	var entries []store.ReconEntry
	for seq := range 150 {
		entries = append(entries, store.ReconEntry{ReconID: "r", Kind: store.ReconAudit, Seq: int64(seq), Doc: json.RawMessage(fmt.Sprintf(`{"n":%d}`, seq))})
	}
	if err := r.AppendReconEntries(ctx, entries); err != nil {
		t.Fatal(err)
	}
	var clash []store.ReconEntry
	for seq := 150; seq < 300; seq++ {
		clash = append(clash, store.ReconEntry{ReconID: "r", Kind: store.ReconAudit, Seq: int64(seq), Doc: json.RawMessage(`{}`)})
	}
	clash[140].Seq = 7
	if err := r.AppendReconEntries(ctx, clash); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a taken seq: %v", err)
	}
	var got []int64
	err := r.ReadReconEntries(ctx, store.ReadReconEntriesParams{ReconID: "r", Kind: store.ReconAudit}, func(e store.ReconEntry) error {
		var doc struct{ N int64 }
		if err := json.Unmarshal(e.Doc, &doc); err != nil || doc.N != e.Seq {
			t.Errorf("entry %d: %s %v", e.Seq, e.Doc, err)
		}
		got = append(got, e.Seq)
		return nil
	})
	if err != nil || len(got) != 150 || got[0] != 0 || got[149] != 149 {
		t.Errorf("read %d entries (%v): %v", len(got), err, got)
	}
}

func reconRuns(t *testing.T, r store.Recons) {
	ctx := t.Context()
	base := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, id := range []string{"a", "b", "c"} {
		run := store.ReconRun{ID: id, Mapping: "m", State: "ACTIVE", Started: base.Add(time.Duration(i) * time.Minute), Summary: json.RawMessage(`{"_id":"` + id + `"}`)}
		if err := r.PutReconRun(ctx, run); err != nil {
			t.Fatal(err)
		}
		run.State, run.Ended = "SUCCESS", run.Started.Add(time.Second)
		if err := r.PutReconRun(ctx, run); err != nil {
			t.Fatal(err)
		}
		var entries []store.ReconEntry
		for seq := range 3 {
			entries = append(entries, store.ReconEntry{ReconID: id, Kind: store.ReconPlan, Seq: int64(seq), Doc: json.RawMessage(`{"n":1}`)})
		}
		entries = append(entries, store.ReconEntry{ReconID: id, Kind: store.ReconAudit, Seq: 0, Doc: json.RawMessage(`{}`)})
		if err := r.AppendReconEntries(ctx, entries); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.AppendReconEntries(ctx, []store.ReconEntry{{ReconID: "a", Kind: store.ReconPlan, Seq: 1, Doc: json.RawMessage(`{}`)}}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate seq: %v", err)
	}
	got, err := r.ReadReconRun(ctx, "b")
	if err != nil || got.State != "SUCCESS" || !got.Ended.Equal(base.Add(time.Minute+time.Second)) || !got.Started.Equal(base.Add(time.Minute)) {
		t.Errorf("ReadReconRun: %+v, %v", got, err)
	}
	var s map[string]any
	if err := json.Unmarshal(got.Summary, &s); err != nil || s["_id"] != "b" {
		t.Errorf("summary %s: %v", got.Summary, err)
	}
	if _, err := r.ReadReconRun(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown run: %v", err)
	}
	plan := 0
	if err := r.ReadReconEntries(ctx, store.ReadReconEntriesParams{ReconID: "a", Kind: store.ReconPlan}, func(e store.ReconEntry) error {
		if e.Seq != int64(plan) {
			t.Errorf("entry %d has seq %d", plan, e.Seq)
		}
		plan++
		return nil
	}); err != nil || plan != 3 {
		t.Errorf("plan of a: %d entries, %v", plan, err)
	}
	n, err := r.DeleteReconRuns(ctx, store.DeleteReconRunsParams{EndedBefore: base.Add(time.Hour), KeepNewest: 1})
	if err != nil || n != 2 {
		t.Fatalf("DeleteReconRuns: %d, %v", n, err)
	}
	runs, err := r.ListReconRuns(ctx)
	if err != nil || len(runs) != 1 || runs[0].ID != "c" {
		t.Fatalf("runs left: %v, %v", runs, err)
	}
	plan = 0
	_ = r.ReadReconEntries(ctx, store.ReadReconEntriesParams{ReconID: "a", Kind: store.ReconPlan}, func(store.ReconEntry) error { plan++; return nil })
	if plan != 0 {
		t.Errorf("plan of a deleted run: %d entries left", plan)
	}
}
