package cluster

import (
	"context"
	"errors"
	"sync"
	"time"

	"sundial/engine/store"
)

// recorderQueue bounds the records waiting for the store; beyond it they are
// dropped (and counted).
const recorderQueue = 10000

// record is one background write: a run start (or a skipped fire, a start
// with a terminal status) or a run end.
type record struct {
	start  *store.StartRunParams
	finish *store.FinishRun
}

// recorder writes the records that must never hold a fire up, in order, in
// one goroutine: runs of non-persisted schedules and skipped fires. While the
// store fails it waits, keeping up to recorderQueue records.
type recorder struct {
	n     *Node
	ch    chan record
	once  sync.Once
	drain chan struct{} // closed by stop: write what is queued, then stop
	quit  chan struct{} // closed by stop at its deadline: stop now
	done  chan struct{}
}

func newRecorder(n *Node) *recorder {
	return &recorder{n: n, ch: make(chan record, recorderQueue), drain: make(chan struct{}), quit: make(chan struct{}),
		done: make(chan struct{})}
}

// add queues r without blocking.
func (r *recorder) add(rec record) {
	r.once.Do(func() { go r.loop() })
	select {
	case r.ch <- rec:
	default:
		r.n.metrics.dropped.Inc()
	}
}

func (r *recorder) loop() {
	defer close(r.done)
	for {
		select {
		case rec := <-r.ch:
			r.write(rec)
		case <-r.quit:
			return
		case <-r.drain:
			for {
				select {
				case rec := <-r.ch:
					r.write(rec)
				case <-r.quit:
					return
				default:
					return
				}
			}
		}
	}
}

// write writes one record, waiting while the store fails (until quit).
func (r *recorder) write(rec record) {
	for pause := 100 * time.Millisecond; ; pause = min(2*pause, 5*time.Second) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var err error
		switch {
		case rec.start != nil:
			_, err = r.n.st.StartRun(ctx, *rec.start)
			if errors.Is(err, store.ErrAlreadyFired) {
				err = nil // recorded before (a skip another node recorded first)
			}
		case rec.finish != nil:
			var res []store.FinishResult
			res, err = r.n.st.FinishRuns(ctx, store.FinishRunsParams{Node: r.n.id, Runs: []store.FinishRun{*rec.finish}})
			if err == nil && !errors.Is(res[0].Err, store.ErrNotFound) {
				r.n.finished(res[0])
			}
		}
		cancel()
		if err == nil || errors.Is(err, store.ErrInvalid) {
			return
		}
		r.n.storeFailed("record", err)
		t := r.n.clock.NewTimer(pause)
		select {
		case <-t.C():
		case <-r.quit:
			t.Stop()
			return
		}
	}
}

// stop writes what is queued for up to wait, then stops.
func (r *recorder) stop(wait time.Duration) {
	r.once.Do(func() { close(r.done) }) // never started
	close(r.drain)
	t := r.n.clock.NewTimer(wait)
	defer t.Stop()
	select {
	case <-r.done:
	case <-t.C():
		close(r.quit)
		<-r.done
	}
}
