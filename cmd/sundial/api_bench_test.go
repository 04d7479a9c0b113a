package main

// Benchmarks of the REST API as clients see it: a real `sundial serve`
// process, and this test binary as the second process sending the
// requests over loopback through engine/apiclient (bearer tokens,
// keep-alive connections).

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sundial/engine/apiclient"
	"sundial/internal/testconf"
)

// benchDaemon starts `sundial serve` on conf and returns a client of its
// API with the bootstrap admin's credentials.
func benchDaemon(b *testing.B, conf string) *apiclient.Client {
	b.Helper()
	data, scripts := b.TempDir(), b.TempDir()
	p := startServe(b, "--conf", conf, "--scripts", scripts, "--data-dir", data, "--listen", "127.0.0.1:0")
	addr := waitOutputWithin(b, p.stderr, regexp.MustCompile(`msg="sundial started".* listen=(\S+)`), "the start line", 5*time.Minute)[1]
	secret, err := os.ReadFile(filepath.Join(data, "admin.secret"))
	if err != nil {
		b.Fatal(err)
	}
	c, err := apiclient.New(apiclient.Options{BaseURL: "http://" + addr, ClientID: "openidm-admin", Secret: strings.TrimSpace(string(secret))})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// latencies collects request durations and reports their p99 and the
// requests per second of the benchmark's loop.
type latencies struct {
	mu  sync.Mutex
	all []time.Duration
}

func (l *latencies) add(d []time.Duration) {
	l.mu.Lock()
	l.all = append(l.all, d...)
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B, elapsed time.Duration) {
	if len(l.all) == 0 {
		return
	}
	slices.Sort(l.all)
	p99 := l.all[min(len(l.all)-1, len(l.all)*99/100)]
	b.ReportMetric(float64(p99)/float64(time.Millisecond), "p99-ms")
	b.ReportMetric(float64(len(l.all))/elapsed.Seconds(), "req/s")
}

// BenchmarkAPIQuery10k: GET /openidm/scheduler/job?_queryFilter=true on a
// daemon of 10,000 schedules, the whole job resources of each answer read
// and decoded, one request at a time.
func BenchmarkAPIQuery10k(b *testing.B) {
	const n = 10_000
	c := benchDaemon(b, testconf.IdleSchedules(b, n))
	ctx := context.Background()
	q := url.Values{"_queryFilter": {"true"}}
	first, err := c.Get(ctx, "/openidm/scheduler/job", q)
	if err != nil {
		b.Fatal(err)
	}
	var answer struct {
		Result      []json.RawMessage `json:"result"`
		ResultCount int               `json:"resultCount"`
	}
	if err := json.Unmarshal(first.Body, &answer); err != nil || answer.ResultCount != n || len(answer.Result) != n {
		b.Fatalf("query: %v, %d results, want %d", err, answer.ResultCount, n)
	}
	var l latencies
	var each []time.Duration
	start := time.Now()
	for b.Loop() {
		t0 := time.Now()
		if _, err := c.Get(ctx, "/openidm/scheduler/job", q); err != nil {
			b.Fatal(err)
		}
		each = append(each, time.Since(t0))
	}
	elapsed := time.Since(start)
	l.add(each)
	l.report(b, elapsed)
	b.ReportMetric(float64(len(first.Body))/(1<<20), "answer-MiB")
}

// BenchmarkAPITrigger: POST /openidm/scheduler/job/{id}?_action=trigger in
// a loop from 16 concurrent clients (keep-alive connections, one bearer
// token), on a schedule that allows concurrent runs of a one-line script.
func BenchmarkAPITrigger(b *testing.B) {
	conf := b.TempDir()
	schedule := `{"schedule": "0 0 3 * * ? 2099", "concurrentExecution": true, "invokeService": "script",
  "invokeContext": {"script": {"type": "text/javascript", "source": "1"}}}`
	if err := os.WriteFile(filepath.Join(conf, "schedule-bench.json"), []byte(schedule), 0o644); err != nil {
		b.Fatal(err)
	}
	c := benchDaemon(b, conf)
	ctx := context.Background()
	const path = "/openidm/scheduler/job/bench"
	if _, err := c.Action(ctx, path, "trigger", nil); err != nil {
		b.Fatal(err)
	}
	var l latencies
	b.SetParallelism(8)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var each []time.Duration
		for pb.Next() {
			t0 := time.Now()
			if _, err := c.Action(ctx, path, "trigger", nil); err != nil {
				b.Error(fmt.Errorf("trigger: %w", err))
				return
			}
			each = append(each, time.Since(t0))
		}
		l.add(each)
	})
	elapsed := time.Since(start)
	l.report(b, elapsed)
}
