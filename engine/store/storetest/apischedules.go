package storetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"sundial/engine/store"
)

func init() {
	register("APISchedules/PutCreatesAndReplaces", testPutAPISchedule)
	register("APISchedules/IfRev", testAPIScheduleIfRev)
	register("APISchedules/Invalid", testAPIScheduleInvalid)
	register("APISchedules/Delete", testDeleteAPISchedule)
	register("APISchedules/List", testListAPISchedules)
	register("APISchedules/ConcurrentCreate", testAPIScheduleConcurrentCreate)
	register("ListTriggers/ByScheduleIDs", testListTriggersByIDs)
	register("Changes/Log", testChangesLog)
	register("Changes/Limit", testChangesLimit)
	register("Changes/ConcurrentWritersNothingSkipped", testChangesConcurrent)
	register("Changes/Prune", testPruneChanges)
	register("SigningKey", testSigningKey)
}

func body(id string, n int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"_id":%q,"n":%d}`, id, n))
}

func put(t *testing.T, b *bundle, p store.PutAPIScheduleParams) store.APISchedule {
	t.Helper()
	a, err := b.s.PutAPISchedule(b.ctx, p)
	if err != nil {
		t.Fatalf("PutAPISchedule %s: %v", p.ID, err)
	}
	return a
}

func changes(t *testing.T, s store.Store, b *bundle, after int64) store.Changes {
	t.Helper()
	c, err := s.Changes(b.ctx, store.ChangesParams{AfterSeq: after})
	if err != nil {
		t.Fatalf("Changes after %d: %v", after, err)
	}
	return c
}

func testPutAPISchedule(t *testing.T, b *bundle) {
	a := put(t, b, store.PutAPIScheduleParams{ID: "j", Body: body("j", 1), Now: at(1)})
	wantEq(t, "created rev", a.Rev, 1)
	wantEq(t, "created body", string(a.Body), string(body("j", 1)))
	wantTime(t, "CreatedAt", a.CreatedAt, at(1))
	wantTime(t, "UpdatedAt", a.UpdatedAt, at(1))
	a = put(t, b, store.PutAPIScheduleParams{ID: "j", Body: body("j", 2), Now: at(2)})
	wantEq(t, "replaced rev", a.Rev, 2)
	wantEq(t, "replaced body", string(a.Body), string(body("j", 2)))
	wantTime(t, "CreatedAt kept", a.CreatedAt, at(1))
	wantTime(t, "UpdatedAt", a.UpdatedAt, at(2))
	got, err := b.s.ListAPISchedules(b.ctx, store.ListAPISchedulesParams{})
	if err != nil || len(got) != 1 || got[0].Rev != 2 || string(got[0].Body) != string(body("j", 2)) {
		t.Fatalf("ListAPISchedules = %+v, %v; want j at rev 2", got, err)
	}
}

func testAPIScheduleIfRev(t *testing.T, b *bundle) {
	put(t, b, store.PutAPIScheduleParams{ID: "j", Body: body("j", 1), IfRev: store.MustNotExist, Now: at(1)})
	before := changes(t, b.s, b, -1).LastSeq
	for _, tc := range []struct {
		name  string
		id    string
		ifRev int64
	}{
		{"create only, exists", "j", store.MustNotExist},
		{"stale revision", "j", 2},
		{"revision of a missing row", "missing", 1},
	} {
		_, err := b.s.PutAPISchedule(b.ctx, store.PutAPIScheduleParams{ID: tc.id, Body: body(tc.id, 9), IfRev: tc.ifRev, Now: at(5)})
		wantErr(t, tc.name, err, store.ErrConflict)
		var ce *store.APIScheduleConflictError
		if !errors.As(err, &ce) {
			t.Fatalf("%s: error %v is not an *APIScheduleConflictError", tc.name, err)
		}
		if tc.id == "j" {
			wantEq(t, tc.name+": current rev", ce.Current.Rev, 1)
			wantEq(t, tc.name+": current body", string(ce.Current.Body), string(body("j", 1)))
		} else {
			wantEq(t, tc.name+": current id", ce.Current.ID, "")
		}
	}
	wantEq(t, "changes logged by refused puts", changes(t, b.s, b, -1).LastSeq, before)
	a := put(t, b, store.PutAPIScheduleParams{ID: "j", Body: body("j", 2), IfRev: 1, Now: at(6)})
	wantEq(t, "rev after a matching put", a.Rev, 2)
	_, err := b.s.DeleteAPISchedule(b.ctx, store.DeleteAPIScheduleParams{ID: "j", IfRev: 1})
	wantErr(t, "delete at a stale revision", err, store.ErrConflict)
	var ce *store.APIScheduleConflictError
	if !errors.As(err, &ce) || ce.Current.Rev != 2 {
		t.Fatalf("delete conflict %v does not carry the stored row at rev 2", err)
	}
	if _, err := b.s.DeleteAPISchedule(b.ctx, store.DeleteAPIScheduleParams{ID: "j", IfRev: 2}); err != nil {
		t.Fatalf("delete at the stored revision: %v", err)
	}
}

func testAPIScheduleInvalid(t *testing.T, b *bundle) {
	for _, p := range []store.PutAPIScheduleParams{
		{ID: "", Body: body("x", 1)},
		{ID: "x", Body: json.RawMessage(`[1]`)},
		{ID: "x", Body: json.RawMessage(`{"a":`)},
		{ID: "x"},
		{ID: "x", Body: body("x", 1), IfRev: -2},
	} {
		_, err := b.s.PutAPISchedule(b.ctx, p)
		wantErr(t, fmt.Sprintf("put %+v", p), err, store.ErrInvalid)
	}
	_, err := b.s.DeleteAPISchedule(b.ctx, store.DeleteAPIScheduleParams{ID: "x", IfRev: store.MustNotExist})
	wantErr(t, "delete with IfRev -1", err, store.ErrInvalid)
	_, err = b.s.DeleteAPISchedule(b.ctx, store.DeleteAPIScheduleParams{})
	wantErr(t, "delete without an id", err, store.ErrInvalid)
}

func testDeleteAPISchedule(t *testing.T, b *bundle) {
	put(t, b, store.PutAPIScheduleParams{ID: "j", Body: body("j", 1), Now: at(1)})
	put(t, b, store.PutAPIScheduleParams{ID: "k", Body: body("k", 1), Now: at(1)})
	a, err := b.s.DeleteAPISchedule(b.ctx, store.DeleteAPIScheduleParams{ID: "j"})
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "deleted id", a.ID, "j")
	wantEq(t, "deleted body", string(a.Body), string(body("j", 1)))
	_, err = b.s.DeleteAPISchedule(b.ctx, store.DeleteAPIScheduleParams{ID: "j"})
	wantErr(t, "second delete", err, store.ErrNotFound)
	got, err := b.s.ListAPISchedules(b.ctx, store.ListAPISchedulesParams{})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "left", ids(got, apiID), "k")
	// A schedule created again after a delete starts at rev 1.
	wantEq(t, "rev of a re-created schedule", put(t, b, store.PutAPIScheduleParams{ID: "j", Body: body("j", 3)}).Rev, 1)
}

func apiID(a store.APISchedule) string { return a.ID }

func testListAPISchedules(t *testing.T, b *bundle) {
	for _, id := range []string{"c", "a", "b"} {
		put(t, b, store.PutAPIScheduleParams{ID: id, Body: body(id, 1)})
	}
	all, err := b.s.ListAPISchedules(b.ctx, store.ListAPISchedulesParams{})
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "order", fmt.Sprint(ids(all, apiID)), "[a b c]")
	for i, want := range []string{"a", "b", "c"} {
		wantEq(t, "ordered by id", all[i].ID, want)
	}
	some, err := b.s.ListAPISchedules(b.ctx, store.ListAPISchedulesParams{IDs: []string{"c", "missing", "a"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(some) != 2 || some[0].ID != "a" || some[1].ID != "c" {
		t.Fatalf("ListAPISchedules{c, missing, a} = %+v, want a, c", some)
	}
	none, err := b.s.ListAPISchedules(b.ctx, store.ListAPISchedulesParams{IDs: []string{}})
	if err != nil || len(none) != 0 {
		t.Fatalf("ListAPISchedules{IDs: empty} = %+v, %v; want none", none, err)
	}
}

// testAPIScheduleConcurrentCreate: nodes creating the same id with
// IfRev -1 at once: exactly one wins.
func testAPIScheduleConcurrentCreate(t *testing.T, b *bundle) {
	hs := b.handles(4)
	var mu sync.Mutex
	won := 0
	parallel(t, len(hs), func(i int) error {
		_, err := hs[i].PutAPISchedule(b.ctx, store.PutAPIScheduleParams{ID: "j", Body: body("j", i), IfRev: store.MustNotExist})
		if errors.Is(err, store.ErrConflict) {
			return nil
		}
		if err == nil {
			mu.Lock()
			won++
			mu.Unlock()
		}
		return err
	})
	wantEq(t, "creators that won", won, 1)
}

func testListTriggersByIDs(t *testing.T, b *bundle) {
	upsert(t, b, def("c", at(1)), def("a", at(1)), def("b", at(1)))
	ts, err := b.s.ListTriggers(b.ctx, store.ListTriggersParams{ScheduleIDs: []string{"c", "missing", "a"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 2 || ts[0].ScheduleID != "a" || ts[1].ScheduleID != "c" {
		t.Fatalf("ListTriggers{c, missing, a} = %v, want a, c", ids(ts, triggerID))
	}
	ts, err = b.s.ListTriggers(b.ctx, store.ListTriggersParams{ScheduleIDs: []string{}})
	if err != nil || len(ts) != 0 {
		t.Fatalf("ListTriggers{ScheduleIDs: empty} = %v, %v; want none", ids(ts, triggerID), err)
	}
}

func testChangesLog(t *testing.T, b *bundle) {
	start := changes(t, b.s, b, -1)
	if len(start.Items) != 0 {
		t.Fatalf("Changes(-1) items = %+v, want none", start.Items)
	}
	upsert(t, b, def("p", at(10)), def("q", at(10)))
	put(t, b, store.PutAPIScheduleParams{ID: "j", Body: body("j", 1), Now: at(1)})
	if _, err := b.s.PauseTriggers(b.ctx, store.PauseTriggersParams{ScheduleIDs: []string{"q", "p"}, Paused: true, Now: at(2)}); err != nil {
		t.Fatal(err)
	}
	// Pausing what is paused changes nothing and logs nothing.
	if _, err := b.s.PauseTriggers(b.ctx, store.PauseTriggersParams{ScheduleIDs: []string{"p"}, Paused: true, Now: at(3)}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.s.PauseTriggers(b.ctx, store.PauseTriggersParams{All: true, Paused: false, Now: at(4)}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.s.DeleteAPISchedule(b.ctx, store.DeleteAPIScheduleParams{ID: "j", Now: at(5)}); err != nil {
		t.Fatal(err)
	}
	c := changes(t, b.s, b, start.LastSeq)
	var got []string
	prev := start.LastSeq
	for _, ch := range c.Items {
		if ch.Seq <= prev {
			t.Fatalf("seq %d after %d: not increasing", ch.Seq, prev)
		}
		prev = ch.Seq
		got = append(got, fmt.Sprintf("%s %s %d", ch.Kind, ch.ID, ch.At.Sub(t0)/time.Second))
	}
	want := "[schedule j 1 pause p 2 pause q 2 pause p 4 pause q 4 schedule j 5]"
	wantEq(t, "changes", fmt.Sprint(got), want)
	wantEq(t, "LastSeq", c.LastSeq, prev)
	wantEq(t, "Changes(-1) after them", changes(t, b.s, b, -1).LastSeq, prev)

	// Nothing new: no items, LastSeq stays.
	again := changes(t, b.s, b, c.LastSeq)
	if len(again.Items) != 0 || again.LastSeq != c.LastSeq {
		t.Fatalf("Changes with nothing new = %+v, want no items and LastSeq %d", again, c.LastSeq)
	}
	// Another handle reads the same log.
	other := b.handles(2)[1]
	wantEq(t, "changes on another handle", len(changes(t, other, b, start.LastSeq).Items), len(c.Items))
}

func testChangesLimit(t *testing.T, b *bundle) {
	start := changes(t, b.s, b, -1).LastSeq
	for i := range 5 {
		put(t, b, store.PutAPIScheduleParams{ID: fmt.Sprint("j", i), Body: body("j", i)})
	}
	after, n := start, 0
	for {
		c, err := b.s.Changes(b.ctx, store.ChangesParams{AfterSeq: after, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Items) > 2 {
			t.Fatalf("%d items with Limit 2", len(c.Items))
		}
		if len(c.Items) == 0 {
			break
		}
		n += len(c.Items)
		after = c.LastSeq
	}
	wantEq(t, "items read in pages", n, 5)
}

// testChangesConcurrent: writers on several handles append to the log
// while a reader polls it from the LastSeq it was given; when they are
// done, the reader has seen every entry, each once. (A log whose seqs
// commit out of order would let the reader pass over an entry that
// commits after a higher one was read.)
func testChangesConcurrent(t *testing.T, b *bundle) {
	hs := b.handles(4)
	writers := hs[1:]
	upsert(t, b, def("p0", at(1)), def("p1", at(1)), def("p2", at(1)))
	start := changes(t, hs[0], b, -1).LastSeq
	const perWriter = 40
	done := make(chan struct{})
	seen := map[int64]int{}
	var readErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		after := start
		poll := func() bool {
			c, err := hs[0].Changes(b.ctx, store.ChangesParams{AfterSeq: after, Limit: 7})
			if err != nil {
				readErr = err
				return false
			}
			for _, ch := range c.Items {
				seen[ch.Seq]++
			}
			after = c.LastSeq
			return len(c.Items) > 0
		}
		for {
			select {
			case <-done:
				for poll() {
				}
				return
			default:
				poll()
			}
		}
	})
	err := race(len(writers), func(w int) error {
		for i := range perWriter {
			var err error
			if i%4 == 3 {
				_, err = writers[w].PauseTriggers(b.ctx, store.PauseTriggersParams{ScheduleIDs: []string{fmt.Sprint("p", w)}, Paused: i%8 == 3})
			} else {
				id := fmt.Sprintf("w%d-%d", w, i%5)
				_, err = writers[w].PutAPISchedule(b.ctx, store.PutAPIScheduleParams{ID: id, Body: body(id, i)})
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	close(done)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if readErr != nil {
		t.Fatal(readErr)
	}
	all, err := hs[0].Changes(b.ctx, store.ChangesParams{AfterSeq: start, Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "entries written", len(all.Items), len(writers)*perWriter)
	for _, ch := range all.Items {
		if seen[ch.Seq] != 1 {
			t.Fatalf("entry %+v seen %d times by the polling reader, want once", ch, seen[ch.Seq])
		}
	}
	wantEq(t, "entries seen", len(seen), len(all.Items))
}

func testPruneChanges(t *testing.T, b *bundle) {
	start := changes(t, b.s, b, -1).LastSeq
	for i := range 5 {
		put(t, b, store.PutAPIScheduleParams{ID: fmt.Sprint("j", i), Body: body("j", i), Now: at(i)})
	}
	n, err := b.s.PruneChanges(b.ctx, store.PruneChangesParams{Before: at(3), Limit: 2})
	if err != nil || n != 2 {
		t.Fatalf("PruneChanges limit 2 = %d, %v; want 2", n, err)
	}
	n, err = b.s.PruneChanges(b.ctx, store.PruneChangesParams{Before: at(3)})
	if err != nil || n != 1 {
		t.Fatalf("second PruneChanges = %d, %v; want 1", n, err)
	}
	c := changes(t, b.s, b, start)
	if len(c.Items) != 2 || c.Items[0].ID != "j3" || c.Items[1].ID != "j4" {
		t.Fatalf("changes left = %+v, want j3, j4", c.Items)
	}
	// Seqs are never reused, even once every entry is pruned.
	if _, err := b.s.PruneChanges(b.ctx, store.PruneChangesParams{Before: at(100)}); err != nil {
		t.Fatal(err)
	}
	a := put(t, b, store.PutAPIScheduleParams{ID: "after", Body: body("after", 1)})
	_ = a
	c2 := changes(t, b.s, b, c.LastSeq)
	if len(c2.Items) != 1 || c2.Items[0].ID != "after" {
		t.Fatalf("changes after pruning all = %+v, want the new entry", c2.Items)
	}
}

func testSigningKey(t *testing.T, b *bundle) {
	hs := b.handles(4)
	keys := make([][]byte, len(hs))
	parallel(t, len(hs), func(i int) error {
		k, err := hs[i].SigningKey(b.ctx)
		keys[i] = k
		return err
	})
	wantEq(t, "key length", len(keys[0]), 32)
	if bytes.Equal(keys[0], make([]byte, 32)) {
		t.Fatal("signing key is all zeros")
	}
	for i, k := range keys {
		if !bytes.Equal(k, keys[0]) {
			t.Fatalf("handle %d key differs", i)
		}
	}
	again, err := b.s.SigningKey(b.ctx)
	if err != nil || !bytes.Equal(again, keys[0]) {
		t.Fatalf("second call: %v, key differs %v", err, !bytes.Equal(again, keys[0]))
	}
}
