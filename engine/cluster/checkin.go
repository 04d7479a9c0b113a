package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"sundial/engine/clock"
	"sundial/engine/scheduler"
	"sundial/engine/store"
)

// loop checks in every CheckInInterval (sooner, with a growing pause, while
// the store fails) and looks for dead nodes twice per interval. It is the
// only goroutine that checks in, recovers nodes and resyncs.
func (n *Node) loop(ctx context.Context) {
	defer close(n.loopDone)
	interval := n.opts.CheckInInterval
	scanEvery := max(interval/2, 50*time.Millisecond)
	nextCheckIn := n.clock.Now().Add(interval)
	nextScan := n.clock.Now()
	retry := 250 * time.Millisecond
	timer := n.clock.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C():
		}
		now := n.clock.Now()
		if !now.Before(nextCheckIn) {
			if _, err := n.checkIn(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				nextCheckIn = n.clock.Now().Add(min(retry, interval))
				retry = min(2*retry, interval)
			} else {
				retry = 250 * time.Millisecond
				nextCheckIn = now.Add(interval)
				n.afterCheckIn(ctx)
			}
		}
		if !now.Before(nextScan) {
			n.recoverDead(ctx)
			nextScan = n.clock.Now().Add(scanEvery)
		}
		clock.ResetAt(n.clock, timer, minTime(nextCheckIn, nextScan))
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// checkIn records the heartbeat and updates the node's health from it.
func (n *Node) checkIn(ctx context.Context) (store.Node, error) { return n.checkInAs(ctx, "") }

// checkInAs is checkIn, taking over from the instance replace (proved gone).
// The store refuses the check-in while another instance checks in under the
// node id; a started node then counts as down (it stops firing persisted
// schedules) until that other process goes silent.
func (n *Node) checkInAs(ctx context.Context, replace string) (store.Node, error) {
	began := n.clock.Now()
	hash := ""
	if n.opts.ConfigHash != nil {
		hash = n.opts.ConfigHash()
	}
	cctx, cancel := context.WithTimeout(ctx, n.opts.CheckInInterval+n.opts.RetryBudget)
	node, err := n.st.CheckIn(cctx, store.CheckInParams{Node: n.id, Now: began, StartedAt: processStart, ConfigHash: hash,
		Info: n.opts.Info, Instance: n.instance, LiveFor: n.opts.NodeTimeout, Replace: replace})
	cancel()
	if err != nil && errors.Is(err, store.ErrNodeInUse) && !n.isStarted() {
		return node, err // join reports it
	}
	n.mu.Lock()
	h := &n.health
	if err != nil {
		h.failures++
		failures := h.failures
		wasDown := h.down
		h.down, h.lastErr, h.resync = true, err.Error(), true
		n.mu.Unlock()
		n.metrics.up.Set(0)
		n.metrics.storeErrors.WithLabelValues("check-in").Inc()
		if !wasDown || failures%10 == 0 {
			n.log.Error("check-in failed: persisted schedules stop firing on this node until it checks in again",
				"node", n.id, "failures", failures, "err", err)
		}
		return node, err
	}
	wasDown, skewedBefore := h.down, h.skewed
	h.down, h.lastErr, h.failures = false, "", 0
	h.lastOK, h.lastCheckIn, h.configHash = began, node.CheckedInAt, hash
	h.skew = node.Skew
	h.skewed = node.Skew > n.opts.MaxSkew || node.Skew < -n.opts.MaxSkew
	if node.WasDeclaredDead {
		h.resync = true
	}
	skewed := h.skewed
	n.mu.Unlock()
	n.metrics.up.Set(1)
	n.metrics.skew.Set(node.Skew.Seconds())
	if wasDown {
		n.log.Info("store reachable again: persisted schedules fire again", "node", n.id)
		select {
		case n.storeBack <- struct{}{}:
		default: // one is pending
		}
	}
	switch {
	case skewed && !skewedBefore:
		n.log.Warn("clock skew against the database is beyond the limit: keep node clocks in sync (NTP)",
			"node", n.id, "skew", node.Skew.Round(time.Millisecond), "limit", n.opts.MaxSkew)
	case !skewed && skewedBefore:
		n.log.Info("clock skew back within the limit", "node", n.id, "skew", node.Skew.Round(time.Millisecond))
	}
	if node.WasDeclaredDead && n.isStarted() {
		n.log.Warn("the cluster declared this node dead (it did not check in in time): its runs were recovered or abandoned elsewhere",
			"node", n.id, "recoveredBy", node.RecoveredBy)
	}
	return node, nil
}

// newInstance returns a random id for this Node's check-ins.
func newInstance() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// join is the first check-in. While another process checked in under the
// node id less than NodeTimeout ago, the store refuses it: if
// Options.PreviousGone proves that process gone (kill -9, then a restart on
// the same host), this one takes over at once; otherwise join waits, and
// either that process checks in again (it is alive: join fails) or its
// check-in goes stale (it died: join takes over and Start recovers its
// runs).
func (n *Node) join(ctx context.Context) (store.Node, error) {
	replace := ""
	var seen store.Node // the other process's row when first refused
	for {
		node, err := n.checkInAs(ctx, replace)
		var inUse *store.NodeInUseError
		if !errors.As(err, &inUse) {
			return node, err
		}
		other := inUse.Node
		if n.opts.PreviousGone != nil && other.Instance != replace && n.opts.PreviousGone(other) {
			n.log.Warn("the previous process of this node id is gone: taking over its runs now", "node", n.id,
				"lastCheckIn", other.SinceCheckIn.Round(time.Millisecond), "info", string(other.Info))
			replace = other.Instance
			continue
		}
		if seen.Instance != "" && (other.Instance != seen.Instance || !other.CheckedInAt.Equal(seen.CheckedInAt)) {
			return node, fmt.Errorf("%w; give this one another --node-id", inUse)
		}
		if seen.Instance == "" {
			seen = other
			n.log.Warn("another process checked in under this node id recently: waiting for it to go silent (or to check in again, then this one refuses to start)",
				"node", n.id, "lastCheckIn", other.SinceCheckIn.Round(time.Millisecond), "timeout", n.opts.NodeTimeout,
				"info", string(other.Info))
		}
		wait := min(n.opts.CheckInInterval/4, n.opts.NodeTimeout-other.SinceCheckIn)
		t := n.clock.NewTimer(max(wait, 10*time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return node, ctx.Err()
		case <-t.C():
		}
	}
}

// leave clears this process's instance from the node row at Stop, so that
// the next process under the id joins at once.
func (n *Node) leave(ctx context.Context) {
	if !n.isStarted() {
		return
	}
	hash := ""
	if n.opts.ConfigHash != nil {
		hash = n.opts.ConfigHash()
	}
	_, err := n.st.CheckIn(ctx, store.CheckInParams{Node: n.id, StartedAt: processStart, ConfigHash: hash,
		Info: n.opts.Info, LiveFor: n.opts.NodeTimeout, Replace: n.instance})
	if err != nil && !errors.Is(err, store.ErrNodeInUse) {
		n.log.Warn("could not record this process's stop", "node", n.id, "err", err)
	}
}

// processStart is reported as the node's start time: the process's, on the
// wall clock.
var processStart = time.Now()

func (n *Node) isStarted() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.health.started
}

// afterCheckIn does what a successful check-in allows: write pending run
// ends, and read the stored triggers back after the node was fenced.
func (n *Node) afterCheckIn(ctx context.Context) {
	n.flushPending(ctx)
	n.mu.Lock()
	resync := n.health.resync
	n.health.resync = false
	n.mu.Unlock()
	if resync {
		if err := n.resync(ctx); err != nil {
			n.mu.Lock()
			n.health.resync = true
			n.mu.Unlock()
			n.log.Error("read stored triggers back", "node", n.id, "err", err)
		}
	}
}

// resync reads every stored trigger and hands them to the scheduler, so
// that the fires missed while the node was fenced follow the misfire policy.
func (n *Node) resync(ctx context.Context) error {
	if n.opts.Adopt == nil {
		return nil
	}
	ts, err := n.st.ListTriggers(ctx, store.ListTriggersParams{})
	if err != nil {
		return fmt.Errorf("list triggers: %w", err)
	}
	states := make([]scheduler.TriggerState, 0, len(ts))
	for _, t := range ts {
		if t.State == store.TriggerBlocked && !t.Paused {
			continue
		}
		states = append(states, stateOf(t))
	}
	adopted := n.opts.Adopt(states)
	n.log.Info("stored triggers read back", "node", n.id, "triggers", len(ts), "changed", adopted)
	return nil
}

// flushPending writes the run ends the store did not take.
func (n *Node) flushPending(ctx context.Context) {
	n.mu.Lock()
	pending := n.pending
	n.pending = nil
	n.mu.Unlock()
	if len(pending) == 0 {
		return
	}
	res, err := n.st.FinishRuns(ctx, store.FinishRunsParams{Node: n.id, Runs: pending})
	if err != nil {
		n.mu.Lock()
		n.pending = append(pending, n.pending...)
		n.mu.Unlock()
		n.storeFailed("finish run", err)
		return
	}
	for _, r := range res {
		if !errors.Is(r.Err, store.ErrNotFound) {
			n.finished(r)
		}
	}
	n.log.Info("pending run ends recorded", "node", n.id, "runs", len(pending))
}

// executesPersisted reports executePersistentSchedules.
func (n *Node) executesPersisted() bool {
	return n.opts.ExecutePersisted == nil || n.opts.ExecutePersisted()
}

// recoverSelf handles the runs this node's previous process left running:
// recoverable ones run again here, the others are recorded abandoned.
func (n *Node) recoverSelf(ctx context.Context) error {
	if !n.executesPersisted() {
		abandoned, err := n.st.AbandonRuns(ctx, store.AbandonRunsParams{Node: n.id,
			Reason: "abandoned: its node restarted, with executePersistentSchedules false"})
		if err != nil {
			return err
		}
		n.metrics.abandoned.Add(float64(len(abandoned)))
		if len(abandoned) > 0 {
			n.log.Warn("runs interrupted by this node's previous process recorded abandoned", "node", n.id, "runs", len(abandoned))
		}
		return nil
	}
	rec, err := n.st.RecoverNode(ctx, store.RecoverNodeParams{Dead: n.id, Recoverer: n.id,
		Reason: "abandoned: its node stopped during the run (not recoverable)", Has: n.opts.Has})
	if err != nil {
		return err
	}
	if len(rec.Recovered)+len(rec.Abandoned)+len(rec.Unclaimed) > 0 {
		n.log.Warn("runs interrupted by this node's previous process", "node", n.id,
			"recovered", ids(rec.Recovered), "abandoned", ids(rec.Abandoned), "handedBack", ids(rec.Unclaimed))
	}
	n.metrics.abandoned.Add(float64(len(rec.Abandoned)))
	n.runRecovered(rec.Recovered)
	return nil
}

// recoverDead recovers the nodes that stopped checking in: their
// recoverable runs run again here (each on one node only), the others are
// recorded abandoned. A fenced node, or one that
// does not execute persisted schedules, recovers nobody.
func (n *Node) recoverDead(ctx context.Context) {
	n.mu.Lock()
	fenced := n.firingLocked(n.clock.Now()) != nil
	n.mu.Unlock()
	if fenced || !n.executesPersisted() {
		return
	}
	dead, err := n.st.DeadNodes(ctx, store.DeadNodesParams{Timeout: n.opts.NodeTimeout, Exclude: n.id})
	if err != nil {
		if ctx.Err() == nil {
			n.storeFailed("dead nodes", err)
		}
		return
	}
	for _, d := range dead {
		rec, err := n.st.RecoverNode(ctx, store.RecoverNodeParams{Dead: d.ID, Recoverer: n.id, StaleAfter: n.opts.NodeTimeout,
			Has: n.opts.Has})
		if errors.Is(err, store.ErrNodeAlive) {
			continue // it checked in meanwhile
		}
		if err != nil {
			if ctx.Err() == nil {
				n.log.Error("recover dead node", "node", n.id, "dead", d.ID, "err", err)
			}
			continue
		}
		n.metrics.deadNodes.Inc()
		n.metrics.abandoned.Add(float64(len(rec.Abandoned)))
		n.log.Warn("node stopped checking in: recovered its runs", "node", n.id, "dead", d.ID,
			"silentFor", d.SinceCheckIn.Round(time.Millisecond), "recovered", ids(rec.Recovered),
			"abandoned", ids(rec.Abandoned), "handedBack", ids(rec.Unclaimed))
		n.runRecovered(rec.Recovered)
	}
	n.claimUnclaimed(ctx)
}

// claimUnclaimed runs here the recoverable runs that a recovery handed back
// because its recoverer lacked their schedule, if this node has it, and
// records abandoned those no node can run.
func (n *Node) claimUnclaimed(ctx context.Context) {
	rec, err := n.st.ClaimUnclaimed(ctx, store.ClaimUnclaimedParams{Node: n.id, Has: n.opts.Has,
		AbandonAfter: n.opts.UnclaimedTimeout})
	if err != nil {
		if ctx.Err() == nil {
			n.storeFailed("claim unclaimed runs", err)
		}
		return
	}
	if len(rec.Recovered)+len(rec.Abandoned) == 0 {
		return
	}
	n.metrics.abandoned.Add(float64(len(rec.Abandoned)))
	for _, r := range rec.Abandoned {
		n.log.Warn("interrupted run not recovered", "node", n.id, "run", r.ID, "err", r.Error)
	}
	if len(rec.Recovered) > 0 {
		n.log.Warn("recovering runs that other nodes handed back (they lack the schedule)", "node", n.id,
			"recovered", ids(rec.Recovered))
	}
	n.runRecovered(rec.Recovered)
}

func ids(runs []store.Run) []string {
	out := make([]string, len(runs))
	for i, r := range runs {
		out[i] = r.ID
	}
	return out
}

// runRecovered runs recovered runs through Options.Recover, at most
// DefaultRecoveryConcurrency at once, and records their outcomes. Without a
// Recover hook they are recorded failed.
func (n *Node) runRecovered(runs []store.Run) {
	for _, r := range runs {
		n.metrics.recovered.Inc()
		n.recovering.Add(1)
		go func() {
			defer n.recovering.Done()
			select {
			case n.recoverSem <- struct{}{}:
				defer func() { <-n.recoverSem }()
			case <-n.recoverCtx.Done():
			}
			var err error
			switch {
			case n.recoverCtx.Err() != nil:
				err = fmt.Errorf("not re-run: the node stopped first: %w", n.recoverCtx.Err())
			case n.opts.Recover == nil:
				err = errors.New("not re-run: this node cannot run recovered runs")
			default:
				n.log.Info("recovery run started", "node", n.id, "run", r.ID, "recoveredFrom", r.RecoveredFrom, "attempt", r.Attempt)
				err = n.opts.Recover(n.recoverCtx, r)
			}
			o, msg := scheduler.OutcomeSuccess, ""
			if err != nil {
				o, msg = scheduler.OutcomeError, err.Error()
				if n.recoverCtx.Err() != nil {
					o = scheduler.OutcomeCancelled
				}
			}
			ferr := n.finishRun(context.Background(), finishOf(r.ID, n.clock.Now(), o, msg))
			n.log.Info("recovery run ended", "node", n.id, "run", r.ID, "outcome", o, "err", msg, "recordErr", ferr)
		}()
	}
}
