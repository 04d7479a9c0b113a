package cluster

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestBatcherHonoursContexts: a caller whose context ends stops waiting for
// a stalled batch, and shutdown cancels the running batch instead of
// waiting for it.
func TestBatcherHonoursContexts(t *testing.T) {
	running := make(chan struct{}, 1)
	b := newBatcher(8, 1, func(ctx context.Context, in []int) ([]int, error) {
		running <- struct{}{}
		<-ctx.Done() // a store that stalls until cancelled
		return nil, ctx.Err()
	})
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 1)
	go func() {
		_, err := b.do(ctx, 1)
		errs <- err
	}()
	<-running
	cancel()
	select {
	case err := <-errs:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("do = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("do still waiting after its context ended")
	}

	done := make(chan struct{})
	go func() {
		b.shutdown()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("shutdown waits for a stalled batch")
	}
	if _, err := b.do(context.Background(), 2); !errors.Is(err, errStopped) {
		t.Fatalf("do after shutdown = %v", err)
	}
}
