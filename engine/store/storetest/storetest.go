// Package storetest is the conformance suite every store backend passes:
// Exercise runs one set of behaviour tests against a backend, ExerciseMigrations
// checks its schema migrations, and BenchmarkFires measures acquire+complete
// throughput. The SQLite and PostgreSQL backends run all three from their own
// tests, so the two behave the same.
//
// API is for Sundial's backends only; it is not stable.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"sundial/engine/store"
)

// Option configures Exercise.
type Option func(*options)

type options struct {
	reopen func(t *testing.T, s store.Store) store.Store
}

// WithReopen gives Exercise a way to open another, independent handle on the
// database behind s (what a second node would have). Without it the
// multi-handle tests share s between goroutines.
func WithReopen(reopen func(t *testing.T, s store.Store) store.Store) Option {
	return func(o *options) { o.reopen = reopen }
}

// t0 is the base of the fake times the tests use for schedules. Node
// heartbeats use the real clock, since the database's clock is real.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

// bundle is what one subtest works with.
type bundle struct {
	ctx context.Context
	s   store.Store
	// handles returns n handles on the same database, s first.
	handles func(n int) []store.Store
}

// Exercise runs the conformance suite. newStore must return a handle on a
// fresh, empty, migrated database each time it is called, and arrange for
// its cleanup with t.Cleanup.
func Exercise(t *testing.T, newStore func(t *testing.T) store.Store, opts ...Option) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	setup := func(t *testing.T) *bundle {
		t.Helper()
		s := newStore(t)
		return &bundle{
			ctx: t.Context(),
			s:   s,
			handles: func(n int) []store.Store {
				hs := []store.Store{s}
				for len(hs) < n {
					if o.reopen == nil {
						hs = append(hs, s)
						continue
					}
					hs = append(hs, o.reopen(t, s))
				}
				return hs
			},
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, setup(t))
		})
	}
}

type testCase struct {
	name string
	run  func(t *testing.T, b *bundle)
}

// cases is filled by the init functions of this package's files.
var cases []testCase

func register(name string, run func(t *testing.T, b *bundle)) {
	cases = append(cases, testCase{name, run})
}

// --- helpers ---

func def(id string, next time.Time) store.TriggerDef {
	return store.TriggerDef{
		ScheduleID: id,
		Definition: json.RawMessage(fmt.Sprintf(`{"schedule":"0 * * * * ?","id":%q}`, id)),
		ConfigHash: "h1-" + id,
		NextFireAt: next,
	}
}

func upsert(t *testing.T, b *bundle, defs ...store.TriggerDef) []store.UpsertTriggerResult {
	t.Helper()
	res, err := b.s.UpsertTriggers(b.ctx, store.UpsertTriggersParams{Triggers: defs, Now: t0})
	if err != nil {
		t.Fatalf("UpsertTriggers: %v", err)
	}
	if len(res) != len(defs) {
		t.Fatalf("UpsertTriggers returned %d results for %d triggers", len(res), len(defs))
	}
	return res
}

func acquire(t *testing.T, b *bundle, node string, now time.Time, limit int) []store.Acquired {
	t.Helper()
	acq, err := b.s.AcquireDue(b.ctx, store.AcquireParams{Node: node, Now: now, Limit: limit})
	if err != nil {
		t.Fatalf("AcquireDue(%s): %v", node, err)
	}
	return acq
}

func acquireOne(t *testing.T, b *bundle, node string, now time.Time) store.Acquired {
	t.Helper()
	acq := acquire(t, b, node, now, 1)
	if len(acq) != 1 {
		t.Fatalf("AcquireDue(%s, %s) acquired %d triggers, want 1", node, now, len(acq))
	}
	return acq[0]
}

func fire(t *testing.T, b *bundle, node string, f store.CompleteFire) store.FireResult {
	t.Helper()
	res, err := b.s.CompleteFires(b.ctx, store.CompleteFiresParams{Node: node, Fires: []store.CompleteFire{f}})
	if err != nil {
		t.Fatalf("CompleteFires: %v", err)
	}
	if len(res) != 1 {
		t.Fatalf("CompleteFires returned %d results, want 1", len(res))
	}
	return res[0]
}

func mustFire(t *testing.T, b *bundle, node string, f store.CompleteFire) store.FireResult {
	t.Helper()
	r := fire(t, b, node, f)
	if r.Err != nil {
		t.Fatalf("CompleteFires(%s): %v", f.ScheduleID, r.Err)
	}
	return r
}

func finish(t *testing.T, b *bundle, node string, fs ...store.FinishRun) []store.FinishResult {
	t.Helper()
	res, err := b.s.FinishRuns(b.ctx, store.FinishRunsParams{Node: node, Runs: fs})
	if err != nil {
		t.Fatalf("FinishRuns: %v", err)
	}
	if len(res) != len(fs) {
		t.Fatalf("FinishRuns returned %d results for %d runs", len(res), len(fs))
	}
	return res
}

func getTrigger(t *testing.T, b *bundle, id string) store.Trigger {
	t.Helper()
	tr, err := b.s.GetTrigger(b.ctx, store.GetTriggerParams{ScheduleID: id})
	if err != nil {
		t.Fatalf("GetTrigger(%s): %v", id, err)
	}
	return tr
}

func getRun(t *testing.T, b *bundle, id string) store.Run {
	t.Helper()
	r, err := b.s.GetRun(b.ctx, store.GetRunParams{ID: id})
	if err != nil {
		t.Fatalf("GetRun(%s): %v", id, err)
	}
	return r
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want %v", what, err, target)
	}
}

func wantTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Fatalf("%s = %s, want %s", what, got, want)
	}
}

func wantEq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

func ids[T any](xs []T, id func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = id(x)
	}
	sort.Strings(out)
	return out
}

func triggerID(t store.Trigger) string { return t.ScheduleID }
func runID(r store.Run) string         { return r.ID }

func wantIDs(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	sort.Strings(want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

// parallel runs fn(i) for i in [0,n) concurrently and fails on the first
// error.
func parallel(t *testing.T, n int, fn func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// timeZero is the zero time: "none" for optional times.
var timeZero time.Time
