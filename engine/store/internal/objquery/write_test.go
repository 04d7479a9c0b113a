package objquery

import (
	"regexp"
	"testing"
)

// TestNewIDsGrow: the ids of one process are version 7 UUIDs that sort in
// the order they were made, also past the 4096 of one millisecond.
func TestNewIDsGrow(t *testing.T) {
	shape := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	prev := NewID()
	for range 10_000 {
		id := NewID()
		if !shape.MatchString(id) {
			t.Fatalf("%s is not a version 7 UUID", id)
		}
		if id <= prev {
			t.Fatalf("%s made after %s sorts before it", id, prev)
		}
		prev = id
	}
}

func TestOrderedClockSpendsTheCounter(t *testing.T) {
	var c orderedClock
	for _, tc := range []struct{ now, ms, seq int64 }{
		{100, 100, 0}, {100, 100, 1}, {99, 100, 2}, {101, 101, 0},
	} {
		if ms, seq := c.next(tc.now); ms != tc.ms || seq != tc.seq {
			t.Fatalf("next(%d) = %d, %d, want %d, %d", tc.now, ms, seq, tc.ms, tc.seq)
		}
	}
	c.seq = 0xfff
	if ms, seq := c.next(101); ms != 102 || seq != 0 {
		t.Fatalf("a spent counter: %d, %d, want 102, 0", ms, seq)
	}
}
