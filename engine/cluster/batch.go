package cluster

import (
	"context"
	"errors"
	"sync"
)

// errStopped: the node was stopped; nothing reaches the store any more.
var errStopped = errors.New("persistence stopped")

// batcher turns concurrent single calls into batch calls (group commit):
// each of its loops takes every call waiting when it is free and runs them as
// one batch. The loops start on the first call.
type batcher[In, Out any] struct {
	max   int
	loops int
	run   func(ctx context.Context, in []In) ([]Out, error)

	once    sync.Once
	ch      chan *call[In, Out]
	stop    chan struct{} // closed by shutdown
	dead    chan struct{} // closed once the loops are gone
	stopped sync.WaitGroup
	ctx     context.Context
	cancel  context.CancelFunc
	close   sync.Once
}

type call[In, Out any] struct {
	in   In
	out  Out
	err  error
	done chan struct{}
}

func newBatcher[In, Out any](max, loops int, run func(ctx context.Context, in []In) ([]Out, error)) *batcher[In, Out] {
	b := &batcher[In, Out]{max: max, loops: loops, run: run, ch: make(chan *call[In, Out], max*loops),
		stop: make(chan struct{}), dead: make(chan struct{})}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	return b
}

// do runs one item in the next batch and returns its result. When ctx ends
// first it returns ctx's error: an item not yet taken is dropped; one in a
// running batch may still be written, and its outcome is then unknown to the
// caller (a claim so taken is recovered as this node's, like a crash's).
func (b *batcher[In, Out]) do(ctx context.Context, in In) (Out, error) {
	out, err := b.doAll(ctx, []In{in})
	if err != nil {
		var zero Out
		return zero, err
	}
	return out[0], nil
}

// doAll runs the items in the next batches and returns their results, in
// order, or the first error; ctx's ending is as for do.
func (b *batcher[In, Out]) doAll(ctx context.Context, in []In) ([]Out, error) {
	b.once.Do(func() {
		for range b.loops {
			b.stopped.Add(1)
			go b.loop()
		}
	})
	calls := make([]call[In, Out], len(in))
	for i := range in {
		c := &calls[i]
		c.in, c.done = in[i], make(chan struct{})
		select {
		case b.ch <- c:
		case <-b.stop:
			return nil, errStopped
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	out := make([]Out, len(in))
	for i := range calls {
		c := &calls[i]
		select {
		case <-c.done:
		case <-ctx.Done():
			select {
			case <-c.done:
			default:
				return nil, ctx.Err()
			}
		case <-b.dead:
			select {
			case <-c.done:
			default: // queued after the loops were gone
				return nil, errStopped
			}
		}
		if c.err != nil {
			return nil, c.err
		}
		out[i] = c.out
	}
	return out, nil
}

func (b *batcher[In, Out]) loop() {
	defer b.stopped.Done()
	batch := make([]*call[In, Out], 0, b.max)
	in := make([]In, 0, b.max)
	for {
		select {
		case c := <-b.ch:
			batch = append(batch, c)
		case <-b.stop:
			b.fail()
			return
		}
	drain:
		for len(batch) < b.max {
			select {
			case c := <-b.ch:
				batch = append(batch, c)
			default:
				break drain
			}
		}
		for _, c := range batch {
			in = append(in, c.in)
		}
		out, err := b.run(b.ctx, in)
		for i, c := range batch {
			if err != nil {
				c.err = err
			} else {
				c.out = out[i]
			}
			close(c.done)
		}
		clear(batch)
		clear(in)
		batch, in = batch[:0], in[:0]
	}
}

// fail answers the calls still queued at stop.
func (b *batcher[In, Out]) fail() {
	for {
		select {
		case c := <-b.ch:
			c.err = errStopped
			close(c.done)
		default:
			return
		}
	}
}

// shutdown stops the loops, cancelling the context of their current batch
// (a stalled store must not hold shutdown up); later calls fail with
// errStopped. It is idempotent.
func (b *batcher[In, Out]) shutdown() {
	b.close.Do(func() {
		close(b.stop)
		b.cancel()
		b.stopped.Wait()
		b.fail()
		close(b.dead)
	})
}
