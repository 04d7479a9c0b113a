package cluster

import (
	"context"
	"time"

	"sundial/engine/store"
)

// DefaultChangesInterval is how often a node reads the change log.
const DefaultChangesInterval = 250 * time.Millisecond

// maxChangesBackoff caps the pause between reads of the change log while
// the store fails.
const maxChangesBackoff = 5 * time.Second

// changesBatch is how many changes one read takes at most.
const changesBatch = 1000

// startSeq reads where the change log ends, so that the node reads only
// what changes after its start; zero without Options.OnChanges.
func (n *Node) startSeq(ctx context.Context) (int64, error) {
	if n.opts.OnChanges == nil {
		return 0, nil
	}
	c, err := n.st.Changes(ctx, store.ChangesParams{AfterSeq: -1})
	if err != nil {
		return 0, err
	}
	return c.LastSeq, nil
}

// watchChanges reads the change log after seq every ChangesInterval and
// hands each non-empty batch to Options.OnChanges, until ctx ends. A full
// batch is followed by the next read at once. A failed read keeps seq (no
// change is skipped) and waits longer, up to maxChangesBackoff, before the
// next.
func (n *Node) watchChanges(ctx context.Context, seq int64) {
	defer close(n.changesDone)
	interval := n.opts.ChangesInterval
	wait := interval
	timer := n.clock.NewTimer(interval)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C():
		}
		c, err := n.st.Changes(ctx, store.ChangesParams{AfterSeq: seq, Limit: changesBatch})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			wait = min(2*wait, max(maxChangesBackoff, interval))
			n.log.Warn("cannot read the change log; retrying", "node", n.id, "afterSeq", seq, "retryIn", wait, "err", err)
			timer.Reset(wait)
			continue
		}
		wait = interval
		if len(c.Items) > 0 {
			n.opts.OnChanges(ctx, c.Items)
		}
		seq = c.LastSeq
		if len(c.Items) == changesBatch {
			timer.Reset(0)
			continue
		}
		timer.Reset(interval)
	}
}
