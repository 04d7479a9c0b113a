package clock

import (
	"testing"
	"time"
)

func TestFakeResetAt(t *testing.T) {
	start := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	f := NewFake(start)
	tm := f.NewTimer(time.Hour)
	f.Advance(time.Minute)
	// Armed for an instant, the deadline does not move with the clock.
	ResetAt(f, tm, start.Add(2*time.Minute))
	if d, ok := f.NextDeadline(); !ok || !d.Equal(start.Add(2*time.Minute)) {
		t.Fatalf("deadline = %s, %v", d, ok)
	}
	f.Advance(time.Minute)
	select {
	case got := <-tm.C():
		if !got.Equal(start.Add(2 * time.Minute)) {
			t.Fatalf("fired with %s", got)
		}
	default:
		t.Fatal("timer did not fire at its deadline")
	}
	// A passed deadline fires at once.
	ResetAt(f, tm, start)
	select {
	case <-tm.C():
	default:
		t.Fatal("timer for a passed deadline did not fire")
	}
}

func TestRealResetAt(t *testing.T) {
	tm := Real{}.NewTimer(time.Hour)
	defer tm.Stop()
	ResetAt(Real{}, tm, time.Now().Add(-time.Second))
	select {
	case <-tm.C():
	case <-time.After(10 * time.Second):
		t.Fatal("timer for a passed deadline did not fire")
	}
}
