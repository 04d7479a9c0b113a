package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"sundial/engine/store"
	"sundial/engine/store/internal/sqlcommon"
)

const runCols = sqlcommon.RunCols

var runColsR = prefixed("r", runCols)

func scanRun(row sqlcommon.Scanner) (store.Run, error) { return codec.Run(row) }

func queryRuns(ctx context.Context, q querier, sql string, args ...any) ([]store.Run, error) {
	return query(ctx, q, scanRun, sql, args...)
}

// StartRun records a run that does not come from a claimed fire.
func (s *Store) StartRun(ctx context.Context, p store.StartRunParams) (store.Run, error) {
	r, err := sqlcommon.StartedRun(p)
	if err != nil {
		return store.Run{}, fmt.Errorf("start run: %w", err)
	}
	_, err = s.pool.Exec(ctx, sqlcommon.InsertRun+` VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		r.ID, r.ScheduleID, r.ScheduledAt, r.StartedAt, ts(r.EndedAt), r.Node, string(r.Status), r.Error, r.Recoverable)
	if isUniqueViolation(err) {
		return store.Run{}, fmt.Errorf("start run %s: %w", r.ID, store.ErrAlreadyFired)
	}
	if err != nil {
		return store.Run{}, fmt.Errorf("start run %s: %w", r.ID, err)
	}
	return r, nil
}

// FinishRuns records run outcomes: one statement finishes the batch and
// unblocks the triggers its runs blocked.
func (s *Store) FinishRuns(ctx context.Context, p store.FinishRunsParams) ([]store.FinishResult, error) {
	fins, err := sqlcommon.CheckFinishes(p)
	if err != nil {
		return nil, fmt.Errorf("finish runs: %w", err)
	}
	n := len(fins)
	var (
		ids, statuses, errs = make([]string, n), make([]string, n), make([]string, n)
		ended               = make([]time.Time, n)
		results             []store.FinishResult
	)
	for i, f := range fins {
		ids[i], statuses[i], errs[i], ended[i] = f.ID, string(f.Status), f.Error, f.EndedAt
	}
	err = s.tx(ctx, func(tx pgx.Tx) error {
		results = make([]store.FinishResult, n)
		finished, err := queryRuns(ctx, tx, finishSQL, p.Node, ids, statuses, ended, errs)
		if err != nil {
			return fmt.Errorf("finish: %w", err)
		}
		byID := sqlcommon.Index(finished, sqlcommon.RunID)
		var missing []string
		for i, f := range fins {
			if r, ok := byID[f.ID]; ok {
				results[i].Run = r
			} else {
				missing = append(missing, f.ID)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		cur, err := queryRuns(ctx, tx, `SELECT `+runCols+` FROM runs WHERE id = ANY($1)`, missing)
		if err != nil {
			return fmt.Errorf("read runs: %w", err)
		}
		curByID := sqlcommon.Index(cur, sqlcommon.RunID)
		for i, f := range fins {
			if _, ok := byID[f.ID]; ok {
				continue
			}
			if r, ok := curByID[f.ID]; ok {
				results[i] = store.FinishResult{Run: r, Err: sqlcommon.FinishConflict(r, p.Node)}
			} else {
				results[i].Err = fmt.Errorf("finish run %s: %w", f.ID, store.ErrNotFound)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("finish runs for %s: %w", p.Node, err)
	}
	return results, nil
}

// ListRuns returns runs, newest scheduled time first.
func (s *Store) ListRuns(ctx context.Context, p store.ListRunsParams) ([]store.Run, error) {
	out, err := queryRuns(ctx, s.pool, `SELECT `+runCols+` FROM runs WHERE ($1 = '' OR schedule_id = $1)
		ORDER BY scheduled_at DESC, id DESC LIMIT $2`, p.ScheduleID, sqlcommon.ListLimit(p.Limit))
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return out, nil
}

// AbandonRuns marks running runs of a node abandoned.
func (s *Store) AbandonRuns(ctx context.Context, p store.AbandonRunsParams) ([]store.Run, error) {
	if err := sqlcommon.ID("node", p.Node); err != nil {
		return nil, fmt.Errorf("abandon runs: %w", err)
	}
	at := store.NowOr(p.At)
	reason := sqlcommon.AbandonReason(p.Reason)
	var out []store.Run
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = abandonLocked(ctx, tx, p.Node, nil, false, at, reason)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("abandon runs of %s: %w", p.Node, err)
	}
	return out, nil
}

// abandonLocked marks running runs of node abandoned (only the
// non-recoverable ones when onlyUnrecoverable; only ids when given) and
// unblocks their triggers, inside tx.
func abandonLocked(ctx context.Context, tx pgx.Tx, node string, ids []string, onlyUnrecoverable bool, at time.Time, reason string) ([]store.Run, error) {
	out, err := queryRuns(ctx, tx, `WITH a AS (
			UPDATE runs r SET status = 'abandoned', ended_at = $2, error = $3
			WHERE r.node_id = $1 AND r.status = 'running'
				AND (NOT $4 OR NOT r.recoverable)
				AND ($5::text[] IS NULL OR r.id = ANY($5))
			RETURNING `+runColsR+`),
		u AS (
			UPDATE triggers t SET state = 'waiting', revision = t.revision + 1, updated_at = $2
			FROM a
			WHERE t.schedule_id = a.schedule_id AND t.prev_fire_at = a.scheduled_at AND t.state = 'blocked')
		SELECT `+runCols+` FROM a`, node, at, reason, onlyUnrecoverable, nilIfEmpty(ids))
	if err != nil {
		return nil, fmt.Errorf("abandon runs: %w", err)
	}
	sqlcommon.SortRuns(out)
	return out, nil
}

func nilIfEmpty(ids []string) []string {
	if len(ids) == 0 {
		return nil
	}
	return ids
}

// PruneRuns applies the run history's retention; see store.Store. Each
// step deletes by primary key the ids a bounded query picked: first the
// runs past the maximum age (a range of runs_ended), then, with what is
// left of the limit, those past the newest KeepPerSchedule finished runs of
// their schedule (a walk of runs_finished, which stops at the limit).
func (s *Store) PruneRuns(ctx context.Context, p store.PruneRunsParams) (int, error) {
	pr := sqlcommon.CheckPrune(p)
	var n int
	err := s.tx(ctx, func(tx pgx.Tx) error {
		n = 0
		if !pr.Before.IsZero() {
			tag, err := tx.Exec(ctx, pruneAgedSQL, pr.Before, pr.Limit)
			if err != nil {
				return fmt.Errorf("by age: %w", err)
			}
			n += int(tag.RowsAffected())
		}
		if pr.Keep > 0 && n < pr.Limit {
			tag, err := tx.Exec(ctx, pruneBeyondSQL, pr.Keep, pr.Limit-n)
			if err != nil {
				return fmt.Errorf("by count: %w", err)
			}
			n += int(tag.RowsAffected())
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune runs: %w", err)
	}
	return n, nil
}

// pruneAgedSQL deletes up to $2 finished runs that ended before $1 (only
// finished runs have an end).
const pruneAgedSQL = `DELETE FROM runs WHERE id = ANY(ARRAY(
		SELECT id FROM runs WHERE ended_at < $1 ORDER BY ended_at LIMIT $2))`

// pruneBeyondSQL deletes up to $2 finished runs past the $1 newest finished
// runs of their schedule.
const pruneBeyondSQL = `DELETE FROM runs WHERE id = ANY(ARRAY(
		SELECT id FROM (
			SELECT id, row_number() OVER (PARTITION BY schedule_id ORDER BY scheduled_at DESC, id DESC) AS n
			FROM runs WHERE status <> 'running') f
		WHERE n > $1 LIMIT $2))`

// finishSQL finishes a batch of runs and unblocks their triggers ($1 node, $2.. arrays).
var finishSQL = `WITH f AS (
				UPDATE runs r SET status = i.status, ended_at = i.ended, error = i.error
				FROM unnest($2::text[], $3::text[], $4::timestamptz[], $5::text[]) AS i(id, status, ended, error)
				WHERE r.id = i.id AND r.node_id IS NOT DISTINCT FROM $1 AND r.status = 'running'
				RETURNING ` + runColsR + `),
			u AS (
				UPDATE triggers t SET state = 'waiting', revision = t.revision + 1, updated_at = f.ended_at
				FROM f
				WHERE t.schedule_id = f.schedule_id AND t.prev_fire_at = f.scheduled_at AND t.state = 'blocked')
			SELECT ` + runCols + ` FROM f`
