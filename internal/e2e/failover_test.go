package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"sundial/engine/store"
	"sundial/internal/pgtest"
)

// TestFailoverTime measures the kill -9 failover of a two-node PostgreSQL
// cluster with production-like check-ins: how long after the kill the dead
// node is detected, and its in-flight recoverable runs start again on the
// survivor. It runs only with SUNDIAL_FAILOVER=1 (a run takes about the
// node timeout plus a few seconds, three times); SUNDIAL_FAILOVER_INTERVAL
// and SUNDIAL_FAILOVER_TIMEOUT set the check-in interval (default 2s) and
// the node timeout (default 15s).
//
//	SUNDIAL_FAILOVER=1 go test -run TestFailoverTime -v ./internal/e2e
func TestFailoverTime(t *testing.T) {
	if os.Getenv("SUNDIAL_FAILOVER") == "" {
		t.Skip("set SUNDIAL_FAILOVER=1 to measure the failover time")
	}
	interval, timeout := envDuration("SUNDIAL_FAILOVER_INTERVAL", 2*time.Second), envDuration("SUNDIAL_FAILOVER_TIMEOUT", 15*time.Second)
	var detected, rerun []time.Duration
	for i := range 3 {
		d, r := failoverOnce(t, interval, timeout)
		t.Logf("run %d: detected %s after the kill, runs re-started %s after it", i+1, d.Round(time.Millisecond), r.Round(time.Millisecond))
		detected, rerun = append(detected, d), append(rerun, r)
	}
	slices.Sort(detected)
	slices.Sort(rerun)
	t.Logf("failover, check-in interval %s, node timeout %s, median of 3: detected after %s, recoverable runs re-run after %s (bound: timeout + 2s = %s)",
		interval, timeout, detected[1].Round(time.Millisecond), rerun[1].Round(time.Millisecond), timeout+2*time.Second)
	if rerun[1] > timeout+2*time.Second {
		t.Errorf("median re-run after %s, want within the node timeout + 2s", rerun[1])
	}
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil && d > 0 {
		return d
	}
	return def
}

func failoverOnce(t *testing.T, interval, timeout time.Duration) (detected, rerun time.Duration) {
	dsn := pgtest.DSN(t)
	p := newProject(t)
	p.write(t, "scripts/hold.js", holdScript)
	at := time.Now().UTC().Add(3 * time.Second).Format("2006-01-02T15:04:05")
	for i := range 20 {
		p.write(t, fmt.Sprintf("conf/schedule-hold-%02d.json", i),
			scheduleJSON(fmt.Sprintf(`"type": "simple", "recoverable": true, "startTime": %q, "timeZone": "UTC"`, at), "hold.js"))
	}
	flags := []string{"--checkin-interval", interval.String(), "--node-timeout", timeout.String()}
	a, b := startNode(t, p, "a", dsn, flags...), startNode(t, p, "b", dsn, flags...)
	db := openStore(t, dsn)
	var victim *proc
	waitFor(t, 30*time.Second, "all 20 runs in progress", func() bool {
		rs := runs(t, db)
		if len(rs) < 20 {
			return false
		}
		on := map[string]int{}
		for _, r := range rs {
			on[r.Node]++
		}
		victim = a
		if on["b"] > on["a"] {
			victim = b
		}
		return true
	})
	// Kill right after the victim's check-in, the worst case for detection.
	var last time.Time
	waitFor(t, 2*interval+5*time.Second, "a check-in of the victim", func() bool {
		for _, n := range nodes(t, db) {
			if n.ID == victim.node {
				if last.IsZero() {
					last = n.CheckedInAt
				}
				return n.CheckedInAt.After(last)
			}
		}
		return false
	})
	victim.kill(t)
	killed := time.Now()
	var held []string
	for _, r := range runs(t, db) {
		if r.Node == victim.node && r.Status == store.RunRunning {
			held = append(held, r.ID)
		}
	}
	waitFor(t, timeout+30*time.Second, "the victim's runs to be recovered", func() bool {
		for _, id := range held {
			if r := getRun(t, db, id); !r.Recovery {
				return false
			}
		}
		return true
	})
	for _, n := range nodes(t, db) {
		if n.ID == victim.node {
			detected = n.RecoveredAt.Sub(killed)
		}
	}
	for _, id := range held {
		if d := getRun(t, db, id).StartedAt.Sub(killed); d > rerun {
			rerun = d
		}
	}
	a.kill(t)
	b.kill(t)
	return detected, rerun
}

func nodes(t *testing.T, s store.Store) []store.Node {
	t.Helper()
	ns, err := s.ListNodes(context.Background(), store.ListNodesParams{})
	if err != nil {
		t.Fatal(err)
	}
	return ns
}
