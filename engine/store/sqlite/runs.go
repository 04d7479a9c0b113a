package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"sundial/engine/store"
	"sundial/engine/store/internal/sqlcommon"
)

const runCols = sqlcommon.RunCols

func scanRun(row sqlcommon.Scanner) (store.Run, error) { return codec.Run(row) }

func queryRuns(ctx context.Context, q queryer, query string, args ...any) ([]store.Run, error) {
	return queryAll(ctx, q, scanRun, query, args...)
}

// StartRun records a run that does not come from a claimed fire.
func (s *Store) StartRun(ctx context.Context, p store.StartRunParams) (store.Run, error) {
	r, err := sqlcommon.StartedRun(p)
	if err != nil {
		return store.Run{}, fmt.Errorf("start run: %w", err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, sqlcommon.InsertRun+` VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.ScheduleID, micros(r.ScheduledAt), micros(r.StartedAt), nullMicros(r.EndedAt),
			r.Node, string(r.Status), r.Error, boolInt(r.Recoverable))
		return err
	})
	if isUniqueViolation(err) {
		return store.Run{}, fmt.Errorf("start run %s: %w", r.ID, store.ErrAlreadyFired)
	}
	if err != nil {
		return store.Run{}, fmt.Errorf("start run %s: %w", r.ID, err)
	}
	return r, nil
}

// FinishRuns records run outcomes, in one statement for the batch.
func (s *Store) FinishRuns(ctx context.Context, p store.FinishRunsParams) ([]store.FinishResult, error) {
	fins, err := sqlcommon.CheckFinishes(p)
	if err != nil {
		return nil, fmt.Errorf("finish runs: %w", err)
	}
	type finishJSON struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Ended  int64  `json:"ended"`
		Error  string `json:"error"`
	}
	in := make([]finishJSON, len(fins))
	for i, f := range fins {
		in[i] = finishJSON{ID: f.ID, Status: string(f.Status), Ended: micros(f.EndedAt), Error: f.Error}
	}
	inJSON, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("finish runs: %w", err)
	}
	var results []store.FinishResult
	err = s.write(ctx, func(tx *sql.Tx) error {
		results = make([]store.FinishResult, len(fins))
		finished, err := queryRuns(ctx, tx, finishSQL, p.Node, string(inJSON))
		if err != nil {
			return fmt.Errorf("finish runs: %w", err)
		}
		byID := sqlcommon.Index(finished, sqlcommon.RunID)
		for i, f := range fins {
			if r, ok := byID[f.ID]; ok {
				results[i].Run = r
				continue
			}
			cur, err := scanRun(tx.QueryRowContext(ctx, `SELECT `+runCols+` FROM runs WHERE id = ?`, f.ID))
			if errors.Is(err, sql.ErrNoRows) {
				results[i].Err = fmt.Errorf("finish run %s: %w", f.ID, store.ErrNotFound)
				continue
			}
			if err != nil {
				return fmt.Errorf("read run %s: %w", f.ID, err)
			}
			results[i] = store.FinishResult{Run: cur, Err: sqlcommon.FinishConflict(cur, p.Node)}
		}
		return unblockLocked(ctx, tx, finished)
	})
	if err != nil {
		return nil, fmt.Errorf("finish runs for %s: %w", p.Node, err)
	}
	return results, nil
}

// ListRuns returns runs, newest scheduled time first.
func (s *Store) ListRuns(ctx context.Context, p store.ListRunsParams) ([]store.Run, error) {
	q := `SELECT ` + runCols + ` FROM runs`
	var args []any
	if p.ScheduleID != "" {
		q += ` WHERE schedule_id = ?`
		args = append(args, p.ScheduleID)
	}
	q += ` ORDER BY scheduled_at DESC, id DESC LIMIT ?`
	args = append(args, sqlcommon.ListLimit(p.Limit))
	rs, err := queryRuns(ctx, s.reader, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return rs, nil
}

// AbandonRuns marks running runs of a node abandoned.
func (s *Store) AbandonRuns(ctx context.Context, p store.AbandonRunsParams) ([]store.Run, error) {
	if err := sqlcommon.ID("node", p.Node); err != nil {
		return nil, fmt.Errorf("abandon runs: %w", err)
	}
	at := micros(store.NowOr(p.At))
	reason := sqlcommon.AbandonReason(p.Reason)
	var out []store.Run
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = abandonLocked(ctx, tx, p.Node, nil, false, at, reason)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("abandon runs of %s: %w", p.Node, err)
	}
	return out, nil
}

// abandonLocked marks running runs of node abandoned (only the non-recoverable
// ones when onlyUnrecoverable; only ids when given) and unblocks their
// triggers, inside tx.
func abandonLocked(ctx context.Context, tx *sql.Tx, node string, ids []string, onlyUnrecoverable bool, at int64, reason string) ([]store.Run, error) {
	q := `UPDATE runs SET status = 'abandoned', ended_at = ?, error = ?
		WHERE node_id = ? AND status = 'running'`
	if onlyUnrecoverable {
		q += ` AND recoverable = 0`
	}
	var out []store.Run
	if len(ids) == 0 {
		rs, err := queryRuns(ctx, tx, q+` RETURNING `+runCols, at, reason, node)
		if err != nil {
			return nil, err
		}
		out = rs
	}
	for _, part := range chunk(ids, 500) {
		args := append([]any{at, reason, node}, anys(part)...)
		rs, err := queryRuns(ctx, tx, q+` AND id IN (`+placeholders(len(part))+`) RETURNING `+runCols, args...)
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	if err := unblockLocked(ctx, tx, out); err != nil {
		return nil, err
	}
	sqlcommon.SortRuns(out)
	return out, nil
}

// PruneRuns applies the run history's retention; see store.Store. Each
// step deletes by primary key the ids a bounded query picked: first the
// runs past the maximum age (a range of runs_ended), then, with what is
// left of the limit, those past the newest KeepPerSchedule finished runs of
// their schedule (a walk of runs_finished, which stops at the limit).
func (s *Store) PruneRuns(ctx context.Context, p store.PruneRunsParams) (int, error) {
	pr := sqlcommon.CheckPrune(p)
	var n int
	err := s.write(ctx, func(tx *sql.Tx) error {
		n = 0
		if !pr.Before.IsZero() {
			res, err := tx.ExecContext(ctx, pruneAgedSQL, micros(pr.Before), pr.Limit)
			if err != nil {
				return fmt.Errorf("by age: %w", err)
			}
			k, _ := res.RowsAffected()
			n += int(k)
		}
		if pr.Keep > 0 && n < pr.Limit {
			res, err := tx.ExecContext(ctx, pruneBeyondSQL, pr.Keep, pr.Limit-n)
			if err != nil {
				return fmt.Errorf("by count: %w", err)
			}
			k, _ := res.RowsAffected()
			n += int(k)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune runs: %w", err)
	}
	return n, nil
}

// pruneAgedSQL deletes up to ?2 finished runs that ended before ?1 (only
// finished runs have an end).
const pruneAgedSQL = `DELETE FROM runs WHERE id IN (
		SELECT id FROM runs WHERE ended_at < ? ORDER BY ended_at LIMIT ?)`

// pruneBeyondSQL deletes up to ?2 finished runs past the ?1 newest finished
// runs of their schedule.
const pruneBeyondSQL = `DELETE FROM runs WHERE id IN (
		SELECT id FROM (
			SELECT id, row_number() OVER (PARTITION BY schedule_id ORDER BY scheduled_at DESC, id DESC) AS n
			FROM runs WHERE status <> 'running')
		WHERE n > ? LIMIT ?)`

// unblockLocked returns to waiting the triggers blocked by runs that just
// ended, inside tx. A blocked trigger is blocked by the run of its previous
// fire.
func unblockLocked(ctx context.Context, tx *sql.Tx, ended []store.Run) error {
	if len(ended) == 0 {
		return nil
	}
	type key struct {
		S string `json:"s"`
		T int64  `json:"t"`
		E int64  `json:"e"`
	}
	keys := make([]key, len(ended))
	for i, r := range ended {
		keys[i] = key{S: r.ScheduleID, T: micros(r.ScheduledAt), E: micros(r.EndedAt)}
	}
	b, err := json.Marshal(keys)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, unblockSQL, string(b)); err != nil {
		return fmt.Errorf("unblock triggers: %w", err)
	}
	return nil
}

// runJSON is a run as insertRuns takes it.
type runJSON struct {
	ID          string `json:"id"`
	Schedule    string `json:"schedule"`
	Scheduled   int64  `json:"scheduled"`
	Started     int64  `json:"started"`
	Ended       *int64 `json:"ended"`
	Node        string `json:"node"`
	Status      string `json:"status"`
	Error       string `json:"error"`
	Recoverable int    `json:"recoverable"`
}

func toRunJSON(r store.Run) runJSON {
	return runJSON{ID: r.ID, Schedule: r.ScheduleID, Scheduled: micros(r.ScheduledAt), Started: micros(r.StartedAt),
		Ended: microsPtr(r.EndedAt), Node: r.Node, Status: string(r.Status), Error: r.Error, Recoverable: boolInt(r.Recoverable)}
}

// insertRuns inserts new runs in one statement, skipping ids already
// recorded, and returns the ids it inserted.
func insertRuns(ctx context.Context, tx *sql.Tx, runs []runJSON) (map[string]bool, error) {
	inserted := make(map[string]bool, len(runs))
	if len(runs) == 0 {
		return inserted, nil
	}
	b, err := json.Marshal(runs)
	if err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, insertRunsSQL, string(b))
	if err != nil {
		return nil, fmt.Errorf("record runs: %w", err)
	}
	defer rows.Close()
	if err := sqlcommon.AddIDs(rows, inserted); err != nil {
		return nil, fmt.Errorf("record runs: %w", err)
	}
	return inserted, nil
}

// finishSQL finishes a batch of runs (?1 node, ?2 JSON array of outcomes).
const finishSQL = `UPDATE runs SET
				status = j.value->>'status', ended_at = j.value->>'ended', error = j.value->>'error'
			FROM json_each(?2) AS j
			WHERE runs.id = j.value->>'id' AND +runs.node_id = ?1 AND +runs.status = 'running'
			RETURNING ` + runCols

// unblockSQL unblocks the triggers of a batch of ended runs (JSON array).
const unblockSQL = `UPDATE triggers SET
			state = 'waiting', revision = triggers.revision + 1, updated_at = j.value->>'e'
		FROM json_each(?) AS j
		WHERE triggers.schedule_id = j.value->>'s' AND +triggers.prev_fire_at = j.value->>'t'
			AND +triggers.state = 'blocked'`

// insertRunsSQL inserts a batch of runs (JSON array), skipping recorded ids.
const insertRunsSQL = sqlcommon.InsertRun + `
		SELECT value->>'id', value->>'schedule', value->>'scheduled', value->>'started', value->>'ended',
			value->>'node', value->>'status', value->>'error', value->>'recoverable'
		FROM json_each(?) WHERE true
		ON CONFLICT (id) DO NOTHING
		RETURNING id`
