package config

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"

	"sundial/internal/testconf"
)

// BenchmarkLoad100kIdle loads 100,000 real schedule files (cron script
// schedules, as an IDM conf directory holds them) through Load, runs the
// GC, and reports what the snapshot holds: the live heap, the heap in use,
// and the process's resident set (VmRSS) before and after returning free
// memory to the OS. Each iteration is one Load; run it with -benchtime=1x.
func BenchmarkLoad100kIdle(b *testing.B) {
	const n = 100000
	dir := testconf.IdleSchedules(b, n)
	for range b.N {
		runtime.GC()
		debug.FreeOSMemory()
		base := liveHeap()
		d, err := Load(dir, LoadOptions{Env: noEnv})
		if err != nil {
			b.Fatal(err)
		}
		if len(d.Schedules) != n || !d.Valid() {
			b.Fatalf("loaded %d schedules, errors %v", len(d.Schedules), d.AllErrors()[:1])
		}
		runtime.GC()
		// HEAPPROF=file writes a heap profile of the loaded snapshot
		// (what -memprofile, taken at the end, no longer holds).
		if p := os.Getenv("HEAPPROF"); p != "" {
			f, _ := os.Create(p)
			pprof.WriteHeapProfile(f)
			f.Close()
		}
		live := liveHeap()
		b.ReportMetric(float64(live-base)/n, "live-B/schedule")
		b.ReportMetric(float64(live)/(1<<20), "live-heap-MB")
		b.ReportMetric(float64(heapInUse())/(1<<20), "heap-inuse-MB")
		b.ReportMetric(vmRSS()/1024, "rss-MB")
		debug.FreeOSMemory()
		b.ReportMetric(vmRSS()/1024, "rss-released-MB")
		runtime.KeepAlive(d)
	}
}

// liveHeap is the heap the last GC found live, in bytes.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// heapInUse is the heap memory in spans that hold objects (live or not yet
// swept), in bytes.
func heapInUse() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64() + s[1].Value.Uint64()
}

// vmRSS is the process's resident set in KiB (0 where /proc is missing).
func vmRSS() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb
		}
	}
	return 0
}
