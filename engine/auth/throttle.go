package auth

import (
	"sync"
	"time"
)

// Failure slow-down: after freeFailures failures in a row from one key (a
// client id, or a remote address), the key is refused without checking
// for 1 s, then twice as long after each further failure, up to maxDelay.
// A success for the key clears it; an entry idle for forgetAfter is
// dropped. The table holds at most maxThrottleKeys keys.
const (
	freeFailures    = 3
	firstDelay      = time.Second
	maxDelay        = time.Minute
	forgetAfter     = 15 * time.Minute
	maxThrottleKeys = 10000
)

type throttle struct {
	mu   sync.Mutex
	keys map[string]*failures
}

type failures struct {
	count int
	until time.Time // refused before this
	last  time.Time
}

// wait returns how long key is still refused at now (0: not refused).
func (t *throttle) wait(key string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.keys[key]
	if f == nil || !now.Before(f.until) {
		return 0
	}
	return f.until.Sub(now)
}

// fail records a failure of key at now and returns the count in a row.
func (t *throttle) fail(key string, now time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.keys == nil {
		t.keys = map[string]*failures{}
	}
	f := t.keys[key]
	if f != nil && now.Sub(f.last) > forgetAfter {
		f = nil
	}
	if f == nil {
		if len(t.keys) >= maxThrottleKeys {
			t.pruneLocked(now)
		}
		f = &failures{}
		t.keys[key] = f
	}
	f.count++
	f.last = now
	if n := f.count - freeFailures; n > 0 {
		d := maxDelay
		if n <= 7 { // 1 s << 6 = 64 s is already over maxDelay
			d = min(firstDelay<<(n-1), maxDelay)
		}
		f.until = now.Add(d)
	}
	return f.count
}

// succeed clears key.
func (t *throttle) succeed(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.keys, key)
}

// pruneLocked drops idle entries; when none is idle it drops arbitrary
// ones, down to three quarters of the bound, so a flood of keys cannot
// grow the table.
func (t *throttle) pruneLocked(now time.Time) {
	for k, f := range t.keys {
		if now.Sub(f.last) > forgetAfter {
			delete(t.keys, k)
		}
	}
	for k := range t.keys {
		if len(t.keys) < maxThrottleKeys*3/4 {
			break
		}
		delete(t.keys, k)
	}
}
