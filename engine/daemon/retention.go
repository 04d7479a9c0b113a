package daemon

import (
	"context"
	"log/slog"
	"time"

	"sundial/engine/store"
)

// Retention bounds the run history kept in the store.
type Retention struct {
	// KeepPerSchedule is how many of each schedule's newest finished runs
	// are kept whatever their age; zero takes DefaultKeepRuns, negative
	// keeps any number (only MaxAge applies).
	KeepPerSchedule int
	// MaxAge deletes finished runs that ended longer ago than this, even
	// among a schedule's newest; zero takes DefaultRunMaxAge, negative
	// keeps runs of any age.
	MaxAge time.Duration
	// Interval is the pause between two pruning passes; zero takes
	// DefaultPruneInterval.
	Interval time.Duration
}

// Retention defaults: IDM keeps the last 100 completed task scans; a month
// of history covers an operator's "what happened last time" questions.
const (
	DefaultKeepRuns      = 100
	DefaultRunMaxAge     = 30 * 24 * time.Hour
	DefaultPruneInterval = time.Minute
)

// pruneBatch is how many rows one PruneRuns call deletes at most: one short
// transaction beside the fires.
const pruneBatch = 1000

func (r Retention) withDefaults() Retention {
	if r.KeepPerSchedule == 0 {
		r.KeepPerSchedule = DefaultKeepRuns
	}
	if r.MaxAge == 0 {
		r.MaxAge = DefaultRunMaxAge
	}
	if r.Interval <= 0 {
		r.Interval = DefaultPruneInterval
	}
	return r
}

// startPruning starts the retention loop over Options.DB and returns the
// function that stops it and waits for it.
func (d *Daemon) startPruning(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.pruneRuns(ctx, d.opts.DB, d.opts.Retention.withDefaults())
	}()
	return func() {
		cancel()
		<-done
	}
}

// pruneRuns applies the run history's retention to db until ctx ends: a
// pass at start, then one every Interval. A pass deletes in batches of
// pruneBatch until a batch comes back short, so its cost is bounded per
// call and spread over the pass; a store error ends the pass (logged) and
// the next one retries.
func (d *Daemon) pruneRuns(ctx context.Context, db store.Store, r Retention) {
	t := d.opts.Clock.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		d.prunePass(ctx, db, r)
		if d.opts.OnPruned != nil {
			d.opts.OnPruned()
		}
		t.Reset(r.Interval)
	}
}

// prunePass runs one pruning pass and logs what it deleted.
func (d *Daemon) prunePass(ctx context.Context, db store.Store, r Retention) {
	params := store.PruneRunsParams{KeepPerSchedule: r.KeepPerSchedule, Limit: pruneBatch}
	if r.MaxAge > 0 {
		params.EndedBefore = d.opts.Clock.Now().Add(-r.MaxAge)
	}
	total := 0
	for ctx.Err() == nil {
		n, err := db.PruneRuns(ctx, params)
		total += n
		if err != nil {
			if ctx.Err() == nil {
				d.log.LogAttrs(ctx, slog.LevelWarn, "prune run history", slog.Any("error", err))
			}
			break
		}
		if n < pruneBatch {
			break
		}
	}
	d.pruneChanges(ctx, db)
	d.pruneAudits(ctx, db)
	if total > 0 {
		d.log.LogAttrs(ctx, slog.LevelDebug, "pruned run history", slog.Int("runs", total),
			slog.Int("keepPerSchedule", r.KeepPerSchedule), slog.Duration("maxAge", r.MaxAge))
	}
}

// changeLogMaxAge is how long the store's change log keeps an entry: far
// longer than any node takes between two reads of it.
const changeLogMaxAge = time.Hour

// pruneChanges deletes the change log's entries older than changeLogMaxAge,
// in batches of pruneBatch.
func (d *Daemon) pruneChanges(ctx context.Context, db store.Store) {
	params := store.PruneChangesParams{Before: d.opts.Clock.Now().Add(-changeLogMaxAge), Limit: pruneBatch}
	for ctx.Err() == nil {
		n, err := db.PruneChanges(ctx, params)
		if err != nil {
			if ctx.Err() == nil {
				d.log.LogAttrs(ctx, slog.LevelWarn, "prune change log", slog.Any("error", err))
			}
			return
		}
		if n < pruneBatch {
			return
		}
	}
}
