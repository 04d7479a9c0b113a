// Package benchenv holds what the data-set benchmarks share: their size,
// from the environment, and the process's peak resident set size.
package benchenv

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// UsersVar names the environment variable that sets how many users the
// data-set benchmarks (the task scan, the import, the userName query)
// create: SUNDIAL_BENCH_USERS=1000000 for the million-user figures.
const UsersVar = "SUNDIAL_BENCH_USERS"

// Users is the number of users the benchmark creates: UsersVar, or def
// when it is unset.
func Users(tb testing.TB, def int) int {
	v := os.Getenv(UsersVar)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		tb.Fatalf("%s=%q: want a positive number of users", UsersVar, v)
	}
	return n
}

// ResetPeakRSS resets the process's peak resident set size (Linux's
// VmHWM, by writing 5 to /proc/self/clear_refs), so that PeakRSS then
// measures what follows, not the data set's setup. Where that is not
// possible it reports false and PeakRSS measures the whole process.
func ResetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// PeakRSS is the process's peak resident set size in bytes (VmHWM), or
// -1 where /proc/self/status does not say it.
func PeakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb); err == nil {
				return kb * 1024
			}
		}
	}
	return -1
}

// ReportPeakRSS reports PeakRSS as the metric peak-RSS-MB.
func ReportPeakRSS(b *testing.B) {
	if rss := PeakRSS(); rss >= 0 {
		b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MB")
	}
}
