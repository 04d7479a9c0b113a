package script

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMemoryLimit bounds the heap growth of a run whose spec has no
// memoryLimit and whose Config has no DefaultMemoryLimit.
const DefaultMemoryLimit int64 = 64 << 20

// DefaultMemoryCeiling bounds the memory limits of all the runs running at
// once, when NewMemoryGuard is given no ceiling: 64 runs at
// DefaultMemoryLimit, so that a thread pool well above IDM's default of 10
// is not throttled by it. A daemon on a small host should set its own.
const DefaultMemoryCeiling int64 = 4 << 30

// How often the guard reads the heap size while runs are going: every
// 20ms, after every garbage collection (the heap grows by about its live
// size between two), and every 500µs while a run past half its limit grows
// fast enough to reach it within a second. A read costs about 1µs, but a
// wake-up of the sampler costs about 130µs of CPU on a busy virtual
// machine, hence the slow pace.
const (
	memorySampleInterval    = 20 * time.Millisecond
	memorySampleIntervalHot = 500 * time.Microsecond
)

// Sentinel errors of the memory guard, wrapped by *Error.
var (
	// ErrMemoryLimit means the run grew the heap past its memory limit and
	// was interrupted.
	ErrMemoryLimit = errors.New("script exceeded its memory limit")
	// ErrMemoryCeiling means the run did not start: its memory limit is
	// above the memory ceiling, or did not fit under it beside the runs
	// already going within the run's timeout.
	ErrMemoryCeiling = errors.New("script memory ceiling reached")
)

// heapMetric is the bytes of heap objects, live or not yet swept. Unlike
// runtime.ReadMemStats, reading it does not stop the world.
const heapMetric = "/memory/classes/heap/objects:bytes"

// MemoryGuard bounds the memory of script runs. goja has no heap limit of
// its own and Go cannot attribute allocations to a goroutine, so the guard
// watches the whole Go heap: while at least one run is going, a sampler
// reads the heap size every 20ms and after every garbage collection (more
// often while a run near its limit grows fast), and charges each run with
// the growth of the heap above the lowest size seen since the run started.
// A run charged more than its limit is checked again after a garbage
// collection (so that garbage is not charged), and if still over, it is
// interrupted with ErrMemoryLimit; so is a run charged more than twice its
// limit while that collection goes on. The run then returns the memory to
// the operating system (debug.FreeOSMemory) before Run returns.
//
// Runs that overlap are charged with each other's growth: a runaway script
// can also stop a script that runs beside it, though never one that starts
// after it stopped.
//
// The guard also holds the ceiling: a run reserves its memory limit when
// it starts and releases it when it ends. A run whose limit does not fit
// beside the others waits for them, within its timeout, then fails with
// ErrMemoryCeiling; one whose limit is above the ceiling fails at once.
//
// One guard serves every Engine of a process (Config.Memory), so that the
// ceiling holds across engines replaced on reload. It is safe for
// concurrent use.
type MemoryGuard struct {
	ceiling int64

	mu       sync.Mutex
	runs     map[*guardedRun]struct{}
	reserved int64            // the sum of the limits of runs
	sampling bool             // a sampler goroutine is running
	waiting  int              // runs waiting for room under the ceiling
	heap     []metrics.Sample // for the heap size at the start of a run
	// freed is closed (and replaced) when a run ends while others wait.
	freed chan struct{}
}

// guardedRun is one run under the guard.
type guardedRun struct {
	intr  *interrupter
	limit int64
	// floor is the lowest heap size seen since the run started, and last
	// the charge at the previous read, at lastAt. Guarded by MemoryGuard.mu.
	floor, last int64
	lastAt      time.Time
	// exceeded is set when the guard interrupts the run.
	exceeded atomic.Bool
}

// NewMemoryGuard returns a guard whose ceiling is the sum of the memory
// limits of the runs that may go at once (0 means DefaultMemoryCeiling).
func NewMemoryGuard(ceiling int64) *MemoryGuard {
	if ceiling <= 0 {
		ceiling = DefaultMemoryCeiling
	}
	return &MemoryGuard{ceiling: ceiling, runs: make(map[*guardedRun]struct{}), heap: []metrics.Sample{{Name: heapMetric}}}
}

// start puts the run that intr interrupts under the guard with limit, waiting up to wait for room
// under the ceiling, or until ctx is done.
func (g *MemoryGuard) start(ctx context.Context, intr *interrupter, limit int64, wait time.Duration) (*guardedRun, error) {
	var deadline <-chan time.Time
	for {
		g.mu.Lock()
		if limit > g.ceiling {
			g.mu.Unlock()
			return nil, fmt.Errorf("%w: the memory limit of %s is above the ceiling of %s", ErrMemoryCeiling, formatBytes(limit), formatBytes(g.ceiling))
		}
		if g.reserved+limit <= g.ceiling {
			defer g.mu.Unlock()
			return g.add(intr, limit), nil
		}
		busy := fmt.Sprintf("%s of %s reserved by %d running scripts, this one needs %s",
			formatBytes(g.reserved), formatBytes(g.ceiling), len(g.runs), formatBytes(limit))
		if g.freed == nil {
			g.freed = make(chan struct{})
		}
		freed := g.freed
		g.waiting++
		g.mu.Unlock()
		if deadline == nil {
			t := time.NewTimer(wait)
			defer t.Stop()
			deadline = t.C
		}
		var err error
		select {
		case <-freed:
		case <-ctx.Done():
			err = fmt.Errorf("%w while waiting for memory (%s): %w", ErrInterrupted, busy, context.Cause(ctx))
		case <-deadline:
			err = fmt.Errorf("%w: waited %s: %s", ErrMemoryCeiling, wait, busy)
		}
		g.mu.Lock()
		g.waiting--
		g.mu.Unlock()
		if err != nil {
			return nil, err
		}
	}
}

// add registers a run; g.mu is held.
func (g *MemoryGuard) add(intr *interrupter, limit int64) *guardedRun {
	r := &guardedRun{intr: intr, limit: limit, floor: heapBytes(g.heap), lastAt: time.Now()}
	g.runs[r] = struct{}{}
	g.reserved += limit
	if !g.sampling {
		g.sampling = true
		go g.sample()
	}
	return r
}

// finish takes r out of the guard, and wakes the runs waiting for room.
func (g *MemoryGuard) finish(r *guardedRun) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.runs, r)
	g.reserved -= r.limit
	r.intr = nil
	if g.waiting > 0 && g.freed != nil {
		close(g.freed)
		g.freed = nil
	}
}

// sample is the sampler goroutine: it runs while there are runs. A run
// charged more than its limit makes it start a garbage collection (on
// another goroutine, so that sampling goes on meanwhile); the run is
// interrupted if it is still over its limit once the collection is done,
// or at once if its charge passes twice its limit.
func (g *MemoryGuard) sample() {
	s := []metrics.Sample{{Name: heapMetric}}
	t := time.NewTimer(memorySampleInterval)
	defer t.Stop()
	gcDone := make(chan struct{}, 1)
	var stopped atomic.Bool
	defer stopped.Store(true)
	afterEachGC(gcDone, &stopped)
	collected := make(chan struct{}, 1)
	collecting := false
	for {
		afterGC := false
		select {
		case <-t.C:
		case <-gcDone:
		case <-collected:
			collecting, afterGC = false, true
		}
		over, hot, running := g.check(heapBytes(s), time.Now(), afterGC)
		if !running && !collecting && g.stopSampling() {
			return
		}
		if hot {
			t.Reset(memorySampleIntervalHot)
		} else {
			t.Reset(memorySampleInterval)
		}
		if over && !collecting {
			collecting = true
			go func() {
				runtime.GC()
				collected <- struct{}{}
			}()
		}
	}
}

// afterEachGC sends on c (without blocking) after every garbage collection
// until stopped is set: a cleanup on an unreachable object runs after the
// collection that frees it, and arms the next.
func afterEachGC(c chan<- struct{}, stopped *atomic.Bool) {
	runtime.AddCleanup(new([32]byte), func(struct{}) {
		if stopped.Load() {
			return
		}
		select {
		case c <- struct{}{}:
		default:
		}
		afterEachGC(c, stopped)
	}, struct{}{})
}

// stopSampling ends the sampling unless a run has started meanwhile; the
// next run starts a new sampler.
func (g *MemoryGuard) stopSampling() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.runs) > 0 {
		return false
	}
	g.sampling = false
	return true
}

// check charges every run with heap. It interrupts the runs charged more
// than twice their limit, or more than their limit when afterGC, and
// reports whether other runs are over their limit, whether any is past
// half of it and growing fast, and whether any run is going.
func (g *MemoryGuard) check(heap int64, now time.Time, afterGC bool) (over, hot, running bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.runs) == 0 {
		return false, false, false
	}
	for r := range g.runs {
		r.floor = min(r.floor, heap)
		charge := heap - r.floor
		// Fast: at this pace, the run would grow by its limit within a second.
		fast := float64(charge-r.last) > float64(r.limit)*now.Sub(r.lastAt).Seconds()
		hot = hot || (charge > r.limit/2 && fast)
		r.last, r.lastAt = charge, now
		switch {
		case charge <= r.limit || r.exceeded.Load():
		case afterGC || charge > 2*r.limit:
			r.exceeded.Store(true)
			r.intr.interrupt(fmt.Errorf("%w of %s", ErrMemoryLimit, formatBytes(r.limit)))
		default:
			over = true
		}
	}
	return over, hot, true
}

func heapBytes(s []metrics.Sample) int64 {
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(min(s[0].Value.Uint64(), math.MaxInt64))
}

// byteUnits are the units a memory limit may be written in, in any case.
var byteUnits = map[string]int64{
	"b":  1,
	"kb": 1e3, "mb": 1e6, "gb": 1e9,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30,
}

// parseMemoryLimit reads a memory limit: a number of bytes (a JSON number
// or a string of digits), or digits followed by a unit, optionally after a
// space: B, kB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024),
// in any case, e.g. "64MiB", "256MB", "1 GiB".
func parseMemoryLimit(v any) (int64, error) {
	var n int64
	switch t := v.(type) {
	case string:
		s := strings.TrimSpace(t)
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		unit := strings.ToLower(strings.TrimPrefix(s[i:], " "))
		mult, ok := byteUnits[unit]
		if unit == "" {
			mult, ok = 1, true
		}
		digits, err := strconv.ParseInt(s[:i], 10, 64)
		if i == 0 || !ok || err != nil || digits > math.MaxInt64/mult {
			return 0, fmt.Errorf("invalid size %q (want bytes, or a number and a unit: \"64MiB\", \"256MB\", \"1GiB\")", t)
		}
		n = digits * mult
	case float64:
		if t != math.Trunc(t) || t >= math.MaxInt64 {
			return 0, fmt.Errorf("invalid number of bytes %v", t)
		}
		n = int64(t)
	case int:
		n = int64(t)
	case int64:
		n = t
	default:
		return 0, fmt.Errorf("must be a number of bytes or a size such as \"64MiB\", got %s", typeName(v))
	}
	if n <= 0 {
		return 0, fmt.Errorf("must be positive, got %v", v)
	}
	return n, nil
}

// ParseSize reads a size as memoryLimit is written ("64MiB", "4GiB",
// "256 MB", or a number of bytes); the daemon reads its memory ceiling
// with it.
func ParseSize(s string) (int64, error) { return parseMemoryLimit(s) }

// formatBytes writes n in the largest binary unit not above it, to one
// decimal unless exact: "64 MiB", "1.5 GiB", "244.1 MiB", "1000 B".
func formatBytes(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		switch {
		case n < u.size:
		case n%u.size == 0:
			return strconv.FormatInt(n/u.size, 10) + " " + u.name
		default:
			return strconv.FormatFloat(float64(n)/float64(u.size), 'f', 1, 64) + " " + u.name
		}
	}
	return strconv.FormatInt(n, 10) + " B"
}
