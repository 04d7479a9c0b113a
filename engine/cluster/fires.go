package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"sundial/engine/scheduler"
	"sundial/engine/store"
)

// The scheduler's fires: claimed once across the cluster, and their runs
// recorded, retried while the store fails.

// retry calls fn until it succeeds, fails with an error that retrying
// cannot fix, the budget is spent or ctx ends, with a growing pause.
func (n *Node) retry(ctx context.Context, fn func() error) error {
	deadline := n.clock.Now().Add(n.opts.RetryBudget)
	pause := 20 * time.Millisecond
	for {
		err := fn()
		if err == nil || errors.Is(err, errStopped) || errors.Is(err, store.ErrInvalid) ||
			ctx.Err() != nil || n.clock.Now().Add(pause).After(deadline) {
			return err
		}
		t := n.clock.NewTimer(pause)
		select {
		case <-t.C():
		case <-ctx.Done():
			t.Stop()
			return err
		case <-n.stopped:
			t.Stop()
			return err
		}
		pause = min(2*pause, 500*time.Millisecond)
	}
}

// AcquireFires implements scheduler.StateStore: one store.ClaimFires of the
// fires, batched with other claims in flight. A fire is not won when
// another node has fired the trigger at or past it, or holds it; the
// schedule then continues from the stored state (Options.Adopt). While the
// node is fenced every fire fails at once with ErrFenced.
func (n *Node) AcquireFires(ctx context.Context, ps []scheduler.AcquireFireParams) []scheduler.AcquireResult {
	out := make([]scheduler.AcquireResult, len(ps))
	if err := n.fenced(); err != nil {
		n.metrics.claims.WithLabelValues("fenced").Add(float64(len(ps)))
		for i := range out {
			out[i].Err = fmt.Errorf("fire %s: %w", ps[i].FireID, err)
		}
		return out
	}
	fs := make([]store.ClaimFire, len(ps))
	for i, p := range ps {
		fs[i] = store.ClaimFire{
			ScheduleID:     p.ScheduleID,
			ConfigHash:     p.Hash,
			FireID:         p.FireID,
			ScheduledAt:    p.ScheduledTime,
			StartedAt:      p.StartedAt,
			NextFireAt:     p.State.Next,
			TimesTriggered: int64(p.State.TimesTriggered),
			Data:           encodeData(p.State),
			Block:          p.Block,
			Recoverable:    p.Recoverable,
		}
	}
	var res []store.ClaimResult
	err := n.retry(ctx, func() (err error) {
		res, err = n.claims.doAll(ctx, fs)
		return err
	})
	if err != nil {
		n.metrics.claims.WithLabelValues("error").Add(float64(len(ps)))
		n.storeFailed("claim", err)
		for i := range out {
			out[i].Err = fmt.Errorf("claim fire %s: %w", ps[i].FireID, err)
		}
		return out
	}
	won := 0
	for i, r := range res {
		p := ps[i]
		switch {
		case r.Err == nil:
		case errors.Is(r.Err, store.ErrAlreadyFired) && r.Run.Node == n.id && r.Run.Status == store.RunRunning &&
			r.Run.StartedAt.Equal(store.NowOr(p.StartedAt)):
			// A retry after a commit whose answer was lost: the fire is ours.
		default:
			if errors.Is(r.Err, store.ErrConflict) {
				// (After ErrAlreadyFired the scheduler is past this fire
				// already; the stored trigger may not be, if a manual run
				// took the fire id.)
				n.adopt(r.Trigger)
			}
			n.log.LogAttrs(context.Background(), slog.LevelDebug, "fire not claimed",
				slog.String("fireId", p.FireID), slog.Any("reason", r.Err))
			continue
		}
		won++
		out[i].Won = true
		// The run end is written in the background, unless the trigger stays
		// blocked until it is: the schedule's next fire waits for it.
		n.runs.Store(p.FireID, runRef{id: fs[i].FireID, persisted: true, blocks: p.Block && !p.State.Next.IsZero()})
	}
	n.metrics.claims.WithLabelValues("won").Add(float64(won))
	n.metrics.claims.WithLabelValues("lost").Add(float64(len(ps) - won))
	return out
}

// claimBatch is the claims batcher's store call. A fire id given twice (a
// fire the scheduler retried while its first claim was in flight) goes in a
// second call.
func (n *Node) claimBatch(ctx context.Context, fires []store.ClaimFire) ([]store.ClaimResult, error) {
	seen := make(map[string]bool, len(fires))
	var again []int
	first := fires[:0:0]
	for i, f := range fires {
		if seen[f.FireID] {
			again = append(again, i)
			continue
		}
		seen[f.FireID] = true
		first = append(first, f)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := n.st.ClaimFires(ctx, store.ClaimFiresParams{Node: n.id, Fires: first})
	if err != nil || len(again) == 0 {
		return res, err
	}
	out := make([]store.ClaimResult, 0, len(fires))
	out = append(out, res...)
	rest := make([]store.ClaimFire, len(again))
	for i, j := range again {
		rest[i] = fires[j]
	}
	more, err := n.claimBatch(ctx, rest)
	if err != nil {
		return nil, err
	}
	// Put the results back in input order.
	full := make([]store.ClaimResult, len(fires))
	k, m := 0, 0
	for i := range fires {
		if m < len(again) && again[m] == i {
			full[i] = more[m]
			m++
			continue
		}
		full[i] = out[k]
		k++
	}
	return full, nil
}

// finishBatch is the run-end batcher's store call.
func (n *Node) finishBatch(ctx context.Context, runs []store.FinishRun) ([]store.FinishResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return n.st.FinishRuns(ctx, store.FinishRunsParams{Node: n.id, Runs: runs})
}

// RunStarted implements scheduler.StateStore: the runs that AcquireFires did
// not record, manual fires and fires of non-persisted schedules. A
// non-persisted schedule fires on every node, so its run id gets the node id
// appended ("<fireId>/<node>"), and its runs are recorded in the background,
// never holding the fire up (nor retried when the store fails). A manual fire
// of a persisted schedule is recorded before it runs, under its fire id.
func (n *Node) RunStarted(ctx context.Context, p scheduler.RunStartedParams) error {
	// The scheduler sends the other fires of persisted schedules through
	// AcquireFire.
	if !p.Manual || !n.isPersisted(p.ScheduleID) {
		ref := runRef{id: p.FireID + "/" + n.id}
		n.runs.Store(p.FireID, ref)
		n.rec.add(record{start: &store.StartRunParams{
			ID: ref.id, ScheduleID: p.ScheduleID, ScheduledAt: p.ScheduledTime, StartedAt: p.StartedAt, Node: n.id,
		}})
		return nil
	}
	ref := runRef{id: p.FireID, persisted: true}
	err := n.retry(ctx, func() error {
		_, err := n.st.StartRun(ctx, store.StartRunParams{
			ID: ref.id, ScheduleID: p.ScheduleID, ScheduledAt: p.ScheduledTime, StartedAt: p.StartedAt,
			Node: n.id, Recoverable: p.Recoverable,
		})
		if errors.Is(err, store.ErrAlreadyFired) {
			return nil // a retry after a lost answer, or the same instant twice
		}
		return err
	})
	if err != nil {
		n.storeFailed("start run", err)
		return fmt.Errorf("record run %s: %w", p.FireID, err)
	}
	n.runs.Store(p.FireID, ref)
	return nil
}

// RunEnded implements scheduler.StateStore: store.FinishRuns, batched. The
// end of a persisted schedule's run that blocks its trigger is written
// before RunEnded returns, retried, and kept for the check-in loop to write
// when the store fails; the end of another persisted run goes the same way
// in the background, so that the worker is free at once; a non-persisted
// run's end is recorded in the background too.
func (n *Node) RunEnded(ctx context.Context, p scheduler.RunEndedParams) error {
	v, ok := n.runs.LoadAndDelete(p.FireID)
	if !ok {
		return nil // its start was not recorded
	}
	ref := v.(runRef)
	fin := finishOf(ref.id, p.EndedAt, p.Outcome, p.Error)
	switch {
	case !ref.persisted:
		n.rec.add(record{finish: &fin})
		return nil
	case !ref.blocks:
		n.ending.Add(1)
		go func() {
			defer n.ending.Done()
			_ = n.finishRun(context.WithoutCancel(ctx), fin) // logged, and kept when it fails
		}()
		return nil
	}
	return n.finishRun(ctx, fin)
}

// finishOf is the store's record of a run's outcome.
func finishOf(id string, ended time.Time, o scheduler.Outcome, msg string) store.FinishRun {
	fin := store.FinishRun{ID: id, Status: store.RunSucceeded, EndedAt: ended, Error: msg}
	switch o {
	case scheduler.OutcomeSuccess:
	case scheduler.OutcomeCancelled:
		fin.Status = store.RunFailed
		fin.Error = "cancelled: " + msg
	case scheduler.OutcomeSkipped:
		// A claimed fire that did not run (its schedule was paused,
		// disabled or removed while it waited for a worker); msg is the
		// reason.
		fin.Status = store.RunSkipped
	default:
		fin.Status = store.RunFailed
	}
	return fin
}

// finishRun records a persisted run's end, or keeps it pending.
func (n *Node) finishRun(ctx context.Context, fin store.FinishRun) error {
	var res store.FinishResult
	err := n.retry(ctx, func() (err error) {
		res, err = n.finishes.do(ctx, fin)
		return err
	})
	if err != nil {
		n.storeFailed("finish run", err)
		if !errors.Is(err, errStopped) {
			n.mu.Lock()
			n.pending = append(n.pending, fin)
			n.mu.Unlock()
		}
		return fmt.Errorf("record end of run %s (kept to retry): %w", fin.ID, err)
	}
	n.finished(res)
	return nil
}

// finished logs a run end the store refused.
func (n *Node) finished(res store.FinishResult) {
	switch {
	case res.Err == nil:
	case errors.Is(res.Err, store.ErrConflict) && res.Run.Node == n.id && res.Run.Status.Terminal():
		// Written before: a write whose answer was lost (a cancelled wait),
		// written again from the pending ends.
	case errors.Is(res.Err, store.ErrConflict):
		n.log.Warn("run ended here, but the cluster had handed it elsewhere meanwhile (this node was declared dead)",
			"run", res.Run.ID, "status", res.Run.Status, "node", res.Run.Node, "err", res.Err)
	default:
		n.log.Warn("run end not recorded", "err", res.Err)
	}
}

// RecordSkipped implements scheduler.SkipRecorder: the fire times that did
// not run are recorded as skipped runs, in the background. Those of a
// persisted schedule are recorded once for the cluster
// ("<fireId>/skipped"), others per node ("<fireId>/<node>/skipped").
func (n *Node) RecordSkipped(rec scheduler.RunRecord) {
	id := rec.FireID + "/skipped"
	if !n.isPersisted(rec.ScheduleID) {
		id = rec.FireID + "/" + n.id + "/skipped"
	}
	msg := string(rec.Reason)
	if rec.Skipped > 1 {
		msg = fmt.Sprintf("%s: %d fire times from this one", rec.Reason, rec.Skipped)
	}
	if rec.Error != "" {
		msg += ": " + rec.Error
	}
	n.rec.add(record{start: &store.StartRunParams{
		ID: id, ScheduleID: rec.ScheduleID, ScheduledAt: rec.ScheduledFireTime, StartedAt: n.clock.Now(),
		Node: n.id, Status: store.RunSkipped, Error: msg,
	}})
}

func (n *Node) isPersisted(id string) bool {
	n.persistedMu.RLock()
	defer n.persistedMu.RUnlock()
	return n.persisted[id]
}
