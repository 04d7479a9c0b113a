package script

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sundial/schema"
)

// runaway is a script that allocates until it is stopped, and the bound
// on the bytes it may allocate under testLimit (which bounds its heap
// growth, whatever the sampling).
type runaway struct {
	name, src string
	// bound is the limit plus the overshoot: what the script allocates
	// between the sampler's reads (every 100µs near the limit, but a loaded
	// machine can delay a read by milliseconds), and the native call in
	// flight when it is interrupted, which runs to its end.
	bound int64
}

const testLimit = 64 << 20

var runaways = []runaway{
	// Small objects: the array's backing store is reallocated as it grows,
	// so a third more is allocated than retained.
	{"arrays", "var a = []; while (true) a.push(new Array(1e6));", testLimit + 64<<20},
	{"objects", "var a = []; for (var i = 0; ; i++) a.push({i: i, s: 'v' + i});", testLimit + 64<<20},
	// Each doubling is one native call: the string that crosses the limit
	// (64 MiB) is doubled once or twice more before the interrupt is seen
	// (512 MiB in all), and once more when a loaded machine delays the
	// sampler past the doubling that follows (1 GiB).
	{"strings", "var s = 'x'; while (true) s = s + s;", 16*testLimit + 16<<20},
	// Each array is one native call of 95 MiB of fresh memory, untouched
	// and so nearly free in time and in RSS: several can be allocated
	// between two reads.
	{"typed arrays", "var a = []; while (true) a.push(new Uint8Array(1e8));", 2 << 30},
	// Written to, the same arrays cost real memory, and time: the guard
	// sees each one.
	{"typed arrays filled", "var a = []; while (true) a.push(new Uint8Array(1e8).fill(1));", 2*testLimit + 3e8},
}

// heapWatch follows the process's heap while a run goes: the bytes
// allocated (an upper bound of any growth) and the highest heap size
// sampled.
type heapWatch struct {
	start, startAllocs int64
	stop               chan struct{}
	done               sync.WaitGroup
	peak               int64
}

func readMetric(name string) int64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

func watchHeap() *heapWatch {
	runtime.GC()
	w := &heapWatch{start: readMetric(heapMetric), startAllocs: readMetric("/gc/heap/allocs:bytes"), stop: make(chan struct{})}
	w.peak = w.start
	w.done.Add(1)
	go func() {
		defer w.done.Done()
		t := time.NewTicker(100 * time.Microsecond)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
				w.peak = max(w.peak, readMetric(heapMetric))
			}
		}
	}()
	return w
}

// end returns the heap growth sampled at its highest, and the bytes
// allocated since watchHeap.
func (w *heapWatch) end() (peak, allocated int64) {
	close(w.stop)
	w.done.Wait()
	return w.peak - w.start, readMetric("/gc/heap/allocs:bytes") - w.startAllocs
}

// TestMemoryLimit runs each runaway pattern under a 64 MiB limit: the run
// fails with the limit error, the heap grew by at most the limit and the
// pattern's overshoot (counting every byte allocated during the run, so
// this bounds the peak whatever the sampling), the memory is back by the
// time Run returns, and another schedule still runs.
//
// Not parallel: the guard charges runs with the whole heap's growth, and
// parallel tests run only after this one.
func TestMemoryLimit(t *testing.T) {
	for _, p := range runaways {
		t.Run(p.name, func(t *testing.T) {
			b := setup(t)
			spec, err := ParseSpec(map[string]any{"type": TypeJavaScript, "source": p.src, "memoryLimit": "64MiB", "timeout": "60s"})
			if err != nil {
				t.Fatal(err)
			}
			w := watchHeap()
			rss0 := procStatus("VmRSS:")
			_, err = b.engine.Run(context.Background(), spec, Request{})
			rss1 := procStatus("VmRSS:")
			peak, allocated := w.end()
			t.Logf("%s: peak heap growth %d MiB (sampled), %d MiB allocated during the run", p.name, peak>>20, allocated>>20)
			if !errors.Is(err, ErrMemoryLimit) || !strings.Contains(err.Error(), "script exceeded its memory limit of 64 MiB") {
				t.Fatalf("run = %v, want the memory limit error", err)
			}
			var se *Error
			if !errors.As(err, &se) || se.Line != 1 {
				t.Errorf("error %v has no position in the script", err)
			}
			if allocated > p.bound {
				t.Errorf("allocated %d MiB during the run, bound %d MiB", allocated>>20, p.bound>>20)
			}
			if after := readMetric(heapMetric) - w.start; after > 16<<20 {
				t.Errorf("heap still %d MiB above its start after the run", after>>20)
			}
			// The memory went back to the operating system with the run.
			if !raceEnabled && rss0 > 0 && rss1-rss0 > 32<<20 {
				t.Errorf("RSS %d MiB after the run, %d MiB before", rss1>>20, rss0>>20)
			}
			if v := run(t, b, "console.log('next'); true", Request{}); v != true {
				t.Errorf("next run = %v", v)
			}
		})
	}
}

// TestMemoryLimit_WakesSleep: a run over its limit that sleeps in
// java.lang.Thread.sleep is woken and stopped.
func TestMemoryLimit_WakesSleep(t *testing.T) {
	b := setup(t)
	spec := Spec{Source: "var a = new Uint8Array(1e8).fill(1); java.lang.Thread.sleep(3600000)", MemoryLimit: testLimit}
	if _, err := b.engine.Run(context.Background(), spec, Request{}); !errors.Is(err, ErrMemoryLimit) {
		t.Fatalf("run = %v, want the memory limit error", err)
	}
}

// TestMemoryLimit_Concurrent: short runs beside a runaway, and a run after
// it was stopped, all succeed; only the runaway fails.
func TestMemoryLimit_Concurrent(t *testing.T) {
	b := setup(t)
	hog := Spec{Source: "console.log('hog'); " + runaways[0].src, MemoryLimit: testLimit}
	errc := make(chan error, 1)
	go func() {
		_, err := b.engine.Run(context.Background(), hog, Request{})
		errc <- err
	}()
	for !strings.Contains(b.stdout.String(), "hog") {
		runtime.Gosched()
	}
	short := Spec{Source: "var a = []; for (var i = 0; i < 100; i++) a.push({i: i}); a.length"}
	var hogErr error
	runs := 0
	for hogErr == nil {
		if v, err := b.engine.Run(context.Background(), short, Request{}); v != int64(100) || err != nil {
			t.Fatalf("short run %d beside the runaway = %v, %v", runs, v, err)
		}
		runs++
		select {
		case hogErr = <-errc:
		default:
		}
	}
	t.Logf("%d short runs beside the runaway", runs)
	if !errors.Is(hogErr, ErrMemoryLimit) {
		t.Fatalf("runaway: %v", hogErr)
	}
	if v := run(t, b, "var a = []; for (var i = 0; i < 10000; i++) a.push({i: i}); a.length", Request{}); v != int64(10000) {
		t.Errorf("run after the runaway = %v", v)
	}
}

// TestMemoryCeiling: runs reserve their limits under the ceiling; one that
// does not fit waits until the others end, or fails at its timeout naming
// the ceiling; a limit above the ceiling fails at once.
func TestMemoryCeiling(t *testing.T) {
	t.Parallel()
	guard := NewMemoryGuard(100 << 20)
	b := setup(t, func(c *Config) { c.Memory = guard })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		// java.lang.Thread.sleep blocks until the context is cancelled.
		_, err := b.engine.Run(ctx, Spec{Source: "console.log('started'); java.lang.Thread.sleep(3600000)", MemoryLimit: 64 << 20}, Request{})
		done <- err
	}()
	for !strings.Contains(b.stdout.String(), "started") {
		runtime.Gosched()
	}

	_, err := b.engine.Run(context.Background(), Spec{Source: "true", MemoryLimit: 64 << 20, Timeout: time.Millisecond}, Request{})
	if !errors.Is(err, ErrMemoryCeiling) || !strings.Contains(err.Error(), "waited 1ms: 64 MiB of 100 MiB reserved by 1 running scripts, this one needs 64 MiB") {
		t.Errorf("a run that does not fit = %v, want the ceiling error", err)
	}
	if v, err := b.engine.Run(context.Background(), Spec{Source: "true", MemoryLimit: 36 << 20}, Request{}); v != true || err != nil {
		t.Errorf("a run that fits = %v, %v", v, err)
	}
	_, err = b.engine.Run(context.Background(), Spec{Source: "true", MemoryLimit: 200 << 20}, Request{})
	if !errors.Is(err, ErrMemoryCeiling) || !strings.Contains(err.Error(), "the memory limit of 200 MiB is above the ceiling of 100 MiB") {
		t.Errorf("a limit above the ceiling = %v", err)
	}

	// A run that waits starts when the first one ends.
	waiter := make(chan error, 1)
	go func() {
		v, err := b.engine.Run(context.Background(), Spec{Source: "true", MemoryLimit: 64 << 20}, Request{})
		if err == nil && v != true {
			err = errors.New("wrong result")
		}
		waiter <- err
	}()
	awaitWaiting(guard)
	cancel()
	if err := <-done; !errors.Is(err, ErrInterrupted) {
		t.Errorf("sleeper: %v", err)
	}
	if err := <-waiter; err != nil {
		t.Errorf("the waiting run: %v", err)
	}

	// A run waiting for room is interrupted with its context.
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() {
		_, err := b.engine.Run(ctx2, Spec{Source: "console.log('second'); java.lang.Thread.sleep(3600000)", MemoryLimit: 64 << 20}, Request{})
		done <- err
	}()
	for !strings.Contains(b.stdout.String(), "second") {
		runtime.Gosched()
	}
	ctx3, cancel3 := context.WithCancel(context.Background())
	go func() {
		_, err := b.engine.Run(ctx3, Spec{Source: "true", MemoryLimit: 64 << 20}, Request{})
		waiter <- err
	}()
	awaitWaiting(guard)
	cancel3()
	if err := <-waiter; !errors.Is(err, ErrInterrupted) || !strings.Contains(err.Error(), "while waiting for memory") {
		t.Errorf("a waiting run cancelled = %v", err)
	}
	cancel2()
	<-done
}

// awaitWaiting returns once a run waits for room under guard's ceiling.
func awaitWaiting(guard *MemoryGuard) {
	for waiting := 0; waiting == 0; runtime.Gosched() {
		guard.mu.Lock()
		waiting = guard.waiting
		guard.mu.Unlock()
	}
}

func TestParseMemoryLimit(t *testing.T) {
	t.Parallel()
	good := []struct {
		in   any
		want int64
	}{
		{"64MiB", 64 << 20},
		{"64 MiB", 64 << 20},
		{"64mib", 64 << 20},
		{"256MB", 256e6},
		{"1GiB", 1 << 30},
		{"1gb", 1e9},
		{"512KiB", 512 << 10},
		{"100kB", 100e3},
		{"1048576", 1 << 20},
		{"4096B", 4096},
		{float64(1 << 20), 1 << 20},
		{67108864, 64 << 20},
	}
	for _, tt := range good {
		if got, err := parseMemoryLimit(tt.in); err != nil || got != tt.want {
			t.Errorf("parseMemoryLimit(%#v) = %d, %v, want %d", tt.in, got, err, tt.want)
		}
	}
	bad := []any{"", "MiB", "64 M", "64MiBs", "1.5GiB", "-1", "0", "64  MiB", "99999999999GiB", float64(1.5), float64(-2), 0, true, nil}
	for _, in := range bad {
		if got, err := parseMemoryLimit(in); err == nil {
			t.Errorf("parseMemoryLimit(%#v) = %d, want an error", in, got)
		}
	}
	// The schedule schema's pattern accepts the same strings.
	raw, err := schema.Get("schedule")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Defs struct {
			Script struct {
				Properties struct {
					MemoryLimit struct {
						Pattern string `json:"pattern"`
					} `json:"memoryLimit"`
				} `json:"properties"`
			} `json:"script"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	pattern := regexp.MustCompile(doc.Defs.Script.Properties.MemoryLimit.Pattern)
	for _, tt := range good {
		if in, ok := tt.in.(string); ok && !pattern.MatchString(in) {
			t.Errorf("the schema rejects %q", in)
		}
	}
	for _, in := range bad {
		if in, ok := in.(string); ok && in != "99999999999GiB" && pattern.MatchString(in) {
			t.Errorf("the schema accepts %q", in)
		}
	}
	if !pattern.MatchString("&{script.memory|64MiB}") {
		t.Errorf("the schema rejects a property reference")
	}

	_, err = ParseSpec(map[string]any{"type": TypeJavaScript, "source": "1", "memoryLimit": "64 M"})
	var se *SpecError
	if !errors.As(err, &se) || se.Key != "memoryLimit" || !strings.Contains(err.Error(), `invalid size "64 M"`) {
		t.Errorf("ParseSpec with a bad memoryLimit = %v", err)
	}
}

func TestFormatBytes(t *testing.T) {
	t.Parallel()
	for in, want := range map[int64]string{64 << 20: "64 MiB", 1 << 30: "1 GiB", 3 << 29: "1.5 GiB", 256e6: "244.1 MiB", 1000: "1000 B", 2048: "2 KiB"} {
		if got := formatBytes(in); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkRunaway runs each runaway pattern to its limit and reports the
// peak heap growth sampled every 100µs, the bytes allocated by the run, the
// process's peak RSS growth, and the time to be stopped.
func BenchmarkRunaway(b *testing.B) {
	for _, p := range runaways {
		b.Run(p.name, func(b *testing.B) {
			e := New(Config{})
			spec := Spec{Source: p.src, MemoryLimit: testLimit}
			var peak, allocated, rss int64
			for b.Loop() {
				resetPeakRSS()
				rss0 := peakRSS()
				w := watchHeap()
				_, err := e.Run(context.Background(), spec, Request{})
				pk, al := w.end()
				if !errors.Is(err, ErrMemoryLimit) {
					b.Fatal(err)
				}
				peak, allocated, rss = max(peak, pk), max(allocated, al), max(rss, peakRSS()-rss0)
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(allocated)/(1<<20), "allocated-MiB")
			b.ReportMetric(float64(rss)/(1<<20), "peak-rss-MiB")
		})
	}
}

// resetPeakRSS resets the kernel's peak RSS of the process (Linux).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS returns the process's peak RSS in bytes, 0 if unknown.
func peakRSS() int64 { return procStatus("VmHWM:") }

// procStatus returns a size field of /proc/self/status (Linux) in bytes, 0
// if unknown.
func procStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkSingleAllocation measures what one native call allocates past a
// 64 MiB limit: the guard can only interrupt the script after the call.
func BenchmarkSingleAllocation(b *testing.B) {
	for _, tt := range []struct{ name, src string }{
		{"repeat 2e8", "var s = 'x'.repeat(2e8); s.length"},
		{"new Array(1e9)", "var a = new Array(1e9); a.length"}, // a length, no elements
		{"Array(1e7).fill", "var a = new Array(1e7).fill(0); a.length"},
	} {
		b.Run(tt.name, func(b *testing.B) {
			e := New(Config{})
			spec := Spec{Source: tt.src + "; while (true) {}", MemoryLimit: testLimit, Timeout: time.Second}
			var allocated int64
			for b.Loop() {
				allocated = max(allocated, allocatedBy(b, e, spec))
			}
			b.ReportMetric(float64(allocated)/(1<<20), "allocated-MiB")
		})
	}
}

// allocatedBy runs spec, which must be stopped by its memory limit or its
// timeout, and returns the bytes allocated meanwhile.
func allocatedBy(b *testing.B, e *Engine, spec Spec) int64 {
	w := watchHeap()
	_, err := e.Run(context.Background(), spec, Request{})
	_, allocated := w.end()
	if !errors.Is(err, ErrMemoryLimit) && !errors.Is(err, ErrTimeout) {
		b.Fatal(err)
	}
	b.Logf("stopped by %v", err)
	return allocated
}

// BenchmarkGuardSampling is the cost of the sampler while a run goes: the
// process's CPU time while a script sleeps for 200ms, per second of run.
func BenchmarkGuardSampling(b *testing.B) {
	e := New(Config{})
	spec := Spec{Source: "java.lang.Thread.sleep(200)"}
	var cpu, wall time.Duration
	for b.Loop() {
		c0, t0 := processCPU(), time.Now()
		if _, err := e.Run(context.Background(), spec, Request{}); err != nil {
			b.Fatal(err)
		}
		cpu += processCPU() - c0
		wall += time.Since(t0)
	}
	b.ReportMetric(float64(cpu.Microseconds())/wall.Seconds(), "cpu-µs/s")
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestMemoryGuard_SamplerStops: the sampler runs only while runs go.
func TestMemoryGuard_SamplerStops(t *testing.T) {
	t.Parallel()
	guard := NewMemoryGuard(0)
	b := setup(t, func(c *Config) { c.Memory = guard })
	sampling := func() bool {
		guard.mu.Lock()
		defer guard.mu.Unlock()
		return guard.sampling
	}
	for range 3 {
		run(t, b, "true", Request{})
		deadline := time.Now().Add(10 * time.Second)
		for sampling() {
			if time.Now().After(deadline) {
				t.Fatal("the sampler still runs 10s after the last run")
			}
			runtime.Gosched()
		}
	}
	guard.mu.Lock()
	defer guard.mu.Unlock()
	if len(guard.runs) != 0 || guard.reserved != 0 || guard.waiting != 0 {
		t.Errorf("guard after the runs: %d runs, %d reserved, %d waiting", len(guard.runs), guard.reserved, guard.waiting)
	}
}
