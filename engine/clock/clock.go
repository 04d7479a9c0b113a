// Package clock owns Sundial's notion of time. Every scheduling decision reads
// the time from a Clock and waits on its timers, so the whole scheduler can be
// driven by a Fake clock in tests, without sleeps.
package clock

import (
	"sort"
	"sync"
	"time"
)

// Clock tells the time and makes timers.
type Clock interface {
	// Now returns the current instant.
	Now() time.Time
	// NewTimer returns a timer that delivers the clock's time on C once d has
	// elapsed on this clock.
	NewTimer(d time.Duration) Timer
}

// Timer is the subset of *time.Timer that Sundial uses.
type Timer interface {
	// C delivers the time when the timer fires.
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it was active.
	Stop() bool
	// Reset changes the timer to fire after d; it reports whether it was active.
	Reset(d time.Duration) bool
}

// DeadlineTimer is a Timer that can also be armed for an instant. A Fake
// clock's timers are: arming for an instant cannot race with a test moving
// the clock between the caller's Now and its Reset.
type DeadlineTimer interface {
	Timer
	// ResetAt changes the timer to fire at deadline (at once if it has
	// passed); it reports whether the timer was active.
	ResetAt(deadline time.Time) bool
}

// ResetAt arms t to fire at deadline on c: with t's ResetAt when it has
// one, otherwise with Reset(deadline - c.Now()).
func ResetAt(c Clock, t Timer, deadline time.Time) bool {
	if dt, ok := t.(DeadlineTimer); ok {
		return dt.ResetAt(deadline)
	}
	return t.Reset(deadline.Sub(c.Now()))
}

// Real is the wall clock.
type Real struct{}

var _ Clock = Real{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// NewTimer wraps time.NewTimer.
func (Real) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time        { return r.t.C }
func (r realTimer) Stop() bool                 { return r.t.Stop() }
func (r realTimer) Reset(d time.Duration) bool { return r.t.Reset(d) }

// Fake is a manually advanced clock for tests. Its timers fire, in deadline
// order, when Advance or Set moves the time to or past their deadline. It is
// safe for concurrent use.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	timers  map[*fakeTimer]struct{}
	changed chan struct{} // closed and replaced whenever the timer set changes
}

var (
	_ Clock         = (*Fake)(nil)
	_ DeadlineTimer = (*fakeTimer)(nil)
)

// NewFake returns a fake clock reading start.
func NewFake(start time.Time) *Fake {
	return &Fake{now: start, timers: map[*fakeTimer]struct{}{}, changed: make(chan struct{})}
}

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTimer returns a timer that fires when the fake time reaches Now()+d.
func (f *Fake) NewTimer(d time.Duration) Timer {
	t := &fakeTimer{f: f, c: make(chan time.Time, 1)}
	t.Reset(d)
	return t
}

// Advance moves the time forward by d, firing every timer that comes due.
func (f *Fake) Advance(d time.Duration) {
	f.Set(f.Now().Add(d))
}

// Set moves the time to t (never backwards), firing due timers in deadline order.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t.Before(f.now) {
		return
	}
	var due []*fakeTimer
	for ft := range f.timers {
		if !ft.deadline.After(t) {
			due = append(due, ft)
		}
	}
	sort.Slice(due, func(i, j int) bool { return due[i].deadline.Before(due[j].deadline) })
	for _, ft := range due {
		delete(f.timers, ft)
		ft.active = false
		select {
		case ft.c <- ft.deadline:
		default:
		}
	}
	f.now = t
	if len(due) > 0 {
		f.notifyLocked()
	}
}

// Timers returns the number of armed timers.
func (f *Fake) Timers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// NextDeadline returns the earliest armed timer's deadline, and false when no
// timer is armed.
func (f *Fake) NextDeadline() (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var best time.Time
	found := false
	for ft := range f.timers {
		if !found || ft.deadline.Before(best) {
			best, found = ft.deadline, true
		}
	}
	return best, found
}

// Changed returns a channel closed the next time a timer is armed, stopped or
// fired. Tests use it to wait for the code under test to arm its timer.
func (f *Fake) Changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

func (f *Fake) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

type fakeTimer struct {
	f        *Fake
	c        chan time.Time
	deadline time.Time // guarded by f.mu
	active   bool      // guarded by f.mu
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	was := t.active
	if was {
		delete(t.f.timers, t)
		t.active = false
		t.f.notifyLocked()
	}
	return was
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	return t.resetLocked(t.f.now.Add(d))
}

// ResetAt implements DeadlineTimer.
func (t *fakeTimer) ResetAt(deadline time.Time) bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	return t.resetLocked(deadline)
}

func (t *fakeTimer) resetLocked(deadline time.Time) bool {
	was := t.active
	t.deadline = deadline
	if !deadline.After(t.f.now) {
		delete(t.f.timers, t)
		t.active = false
		select {
		case t.c <- t.deadline:
		default:
		}
	} else {
		t.f.timers[t] = struct{}{}
		t.active = true
	}
	t.f.notifyLocked()
	return was
}
