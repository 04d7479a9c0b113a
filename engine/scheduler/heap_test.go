package scheduler

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestHeapRandom checks the lazy-deletion heap against a linear scan: after
// any mix of arming, re-keying and disarming, peek returns the armed entry
// with the earliest (next fire time, seq), and a pop-all drains them in order.
func TestHeapRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var h triggerHeap
	entries := make([]*entry, 500)
	for i := range entries {
		entries[i] = &entry{seq: uint32(i)}
	}
	want := func() *entry {
		var best *entry
		for _, e := range entries {
			if !e.armed {
				continue
			}
			if best == nil || e.state.Next.Before(best.state.Next) ||
				e.state.Next.Equal(best.state.Next) && e.seq < best.seq {
				best = e
			}
		}
		return best
	}
	for step := range 20000 {
		e := entries[rng.IntN(len(entries))]
		switch rng.IntN(4) {
		case 0, 1: // arm or move
			switch rng.IntN(10) {
			case 0:
				e.state.Next = base.AddDate(400, 0, 0) // past 2262: saturated key
			default:
				e.state.Next = base.Add(time.Duration(rng.IntN(50)) * time.Second)
			}
			if !e.armed || e.armedKey != heapKey(e.state.Next) {
				h.push(e)
			}
		case 2:
			h.remove(e)
		case 3: // fire the top: disarm it
			if top := h.peek(); top != nil {
				h.remove(top)
			}
		}
		if got, w := h.peek(), want(); got != w {
			t.Fatalf("step %d: peek = %v, want %v", step, got, w)
		}
		if len(h.items) > 3*len(entries)+64 {
			t.Fatalf("step %d: %d items for %d entries: stale items not dropped", step, len(h.items), len(entries))
		}
	}
	for w := want(); w != nil; w = want() {
		if got := h.peek(); got != w {
			t.Fatalf("drain: peek = %v, want %v", got, w)
		}
		h.remove(w)
	}
	if h.peek() != nil {
		t.Fatal("heap not empty")
	}
}
