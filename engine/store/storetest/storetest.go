// Package storetest is the conformance suite every store backend passes:
// Exercise runs one set of behaviour tests against a backend, ExerciseMigrations
// checks its schema migrations, and BenchmarkFires measures the throughput of
// ClaimFires, the path the scheduler's fires take. The SQLite and PostgreSQL
// backends run all three from their own tests, so the two behave the same.
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

// getTrigger returns the stored trigger of a schedule.
func getTrigger(t *testing.T, b *bundle, id string) store.Trigger {
	t.Helper()
	ts, err := b.s.ListTriggers(b.ctx, store.ListTriggersParams{})
	if err != nil {
		t.Fatalf("ListTriggers: %v", err)
	}
	for _, tr := range ts {
		if tr.ScheduleID == id {
			return tr
		}
	}
	t.Fatalf("no trigger %s stored", id)
	return store.Trigger{}
}

// findRun returns the recorded run with an id, and whether there is one.
func findRun(t *testing.T, b *bundle, id string) (store.Run, bool) {
	t.Helper()
	for _, r := range allRuns(t, b) {
		if r.ID == id {
			return r, true
		}
	}
	return store.Run{}, false
}

func getRun(t *testing.T, b *bundle, id string) store.Run {
	t.Helper()
	r, ok := findRun(t, b, id)
	if !ok {
		t.Fatalf("no run %s recorded", id)
	}
	return r
}

// allRuns returns every recorded run, newest first.
func allRuns(t *testing.T, b *bundle) []store.Run {
	t.Helper()
	rs, err := b.s.ListRuns(b.ctx, store.ListRunsParams{Limit: 1 << 20})
	if err != nil {
		t.Fatalf("ListRuns: %v", err)
	}
	return rs
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

// race runs fn(i) for i in [0,n) concurrently, released together, and
// returns the errors joined. It is the one harness of the tests and the
// benchmark where nodes (or a node's workers) race for the same rows.
func race(n int, fn func(i int) error) error {
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
	return errors.Join(errs...)
}

// parallel is race that fails the test on an error.
func parallel(t *testing.T, n int, fn func(i int) error) {
	t.Helper()
	if err := race(n, fn); err != nil {
		t.Fatal(err)
	}
}

// timeZero is the zero time: "none" for optional times.
var timeZero time.Time

func wantRun(t *testing.T, what string, got, want store.Run) {
	t.Helper()
	g, w := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want)
	if g != w || !got.ScheduledAt.Equal(want.ScheduledAt) || !got.StartedAt.Equal(want.StartedAt) || !got.EndedAt.Equal(want.EndedAt) {
		t.Fatalf("%s =\n  %s\nwant\n  %s", what, g, w)
	}
}
