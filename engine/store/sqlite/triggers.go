package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"sundial/engine/store"
	"sundial/engine/store/internal/sqlcommon"
	"sundial/engine/store/internal/storeutil"
)

const triggerCols = sqlcommon.TriggerCols

func scanTrigger(row sqlcommon.Scanner) (store.Trigger, error) { return codec.Trigger(row) }

func queryTriggers(ctx context.Context, q queryer, query string, args ...any) ([]store.Trigger, error) {
	return queryAll(ctx, q, scanTrigger, query, args...)
}

// UpsertTriggers inserts or updates config-defined triggers; see store.Store.
func (s *Store) UpsertTriggers(ctx context.Context, p store.UpsertTriggersParams) ([]store.UpsertTriggerResult, error) {
	order, defs, err := storeutil.UpsertOrder(p.Triggers)
	if err != nil {
		return nil, fmt.Errorf("upsert triggers: %w", err)
	}
	now := micros(store.NowOr(p.Now))
	var results []store.UpsertTriggerResult
	err = s.write(ctx, func(tx *sql.Tx) error {
		results = make([]store.UpsertTriggerResult, len(p.Triggers))
		upsert, err := tx.PrepareContext(ctx, upsertSQL)
		if err != nil {
			return fmt.Errorf("prepare upsert: %w", err)
		}
		defer upsert.Close()
		get, err := tx.PrepareContext(ctx, `SELECT `+triggerCols+` FROM triggers WHERE schedule_id = ?`)
		if err != nil {
			return fmt.Errorf("prepare get: %w", err)
		}
		defer get.Close()
		for _, i := range order {
			d := p.Triggers[i]
			next := store.Normalize(d.NextFireAt)
			data, err := storeutil.JSON("trigger "+d.ScheduleID+" data", d.Data)
			if err != nil {
				return err
			}
			t, err := scanTrigger(upsert.QueryRowContext(ctx, d.ScheduleID, defs[i], d.ConfigHash,
				string(storeutil.InitialState(next)), boolInt(d.Paused), nullMicros(next), now, now, data))
			res, ok, err := sqlcommon.Upserted(t, err, sql.ErrNoRows)
			if err != nil {
				return fmt.Errorf("upsert trigger %s: %w", d.ScheduleID, err)
			}
			if !ok {
				if res.Trigger, err = scanTrigger(get.QueryRowContext(ctx, d.ScheduleID)); err != nil {
					return fmt.Errorf("read trigger %s: %w", d.ScheduleID, err)
				}
			}
			results[i] = res
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("upsert triggers: %w", err)
	}
	return results, nil
}

// GetTrigger returns one trigger.
func (s *Store) GetTrigger(ctx context.Context, p store.GetTriggerParams) (store.Trigger, error) {
	t, err := scanTrigger(s.reader.QueryRowContext(ctx, `SELECT `+triggerCols+` FROM triggers WHERE schedule_id = ?`, p.ScheduleID))
	return sqlcommon.One(t, err, sql.ErrNoRows, "get trigger "+p.ScheduleID)
}

// ListTriggers returns triggers by schedule id.
func (s *Store) ListTriggers(ctx context.Context, p store.ListTriggersParams) ([]store.Trigger, error) {
	q := `SELECT ` + triggerCols + ` FROM triggers WHERE 1 = 1`
	var args []any
	if p.State != "" {
		q += ` AND state = ?`
		args = append(args, string(p.State))
	}
	if p.NodeID != "" {
		q += ` AND node_id = ?`
		args = append(args, p.NodeID)
	}
	ts, err := queryTriggers(ctx, s.reader, q+` ORDER BY schedule_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list triggers: %w", err)
	}
	return ts, nil
}

// DeleteTriggers removes triggers.
func (s *Store) DeleteTriggers(ctx context.Context, p store.DeleteTriggersParams) (int, error) {
	var n int
	err := s.write(ctx, func(tx *sql.Tx) error {
		n = 0
		for _, ids := range chunk(p.ScheduleIDs, 500) {
			res, err := tx.ExecContext(ctx, `DELETE FROM triggers WHERE schedule_id IN (`+placeholders(len(ids))+`)`, anys(ids)...)
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			n += int(k)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete triggers: %w", err)
	}
	return n, nil
}

// PauseTriggers pauses or resumes triggers.
func (s *Store) PauseTriggers(ctx context.Context, p store.PauseTriggersParams) ([]store.Trigger, error) {
	now := micros(store.NowOr(p.Now))
	const set = `UPDATE triggers SET paused = ?,
		state = CASE WHEN state = 'acquired' THEN 'waiting' ELSE state END,
		node_id = NULL, acquired_at = NULL,
		revision = revision + 1, updated_at = ?
		WHERE paused <> ?`
	var out []store.Trigger
	err := s.write(ctx, func(tx *sql.Tx) error {
		out = nil
		if p.All {
			ts, err := queryTriggers(ctx, tx, set+` RETURNING `+triggerCols, boolInt(p.Paused), now, boolInt(p.Paused))
			out = ts
			return err
		}
		for _, ids := range chunk(p.ScheduleIDs, 500) {
			args := append([]any{boolInt(p.Paused), now, boolInt(p.Paused)}, anys(ids)...)
			ts, err := queryTriggers(ctx, tx, set+` AND schedule_id IN (`+placeholders(len(ids))+`) RETURNING `+triggerCols, args...)
			if err != nil {
				return err
			}
			out = append(out, ts...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pause triggers: %w", err)
	}
	storeutil.SortTriggers(out)
	return out, nil
}

// AcquireDue claims due triggers for a node.
func (s *Store) AcquireDue(ctx context.Context, p store.AcquireParams) ([]store.Acquired, error) {
	now, horizon, err := storeutil.AcquireWindow(p)
	if err != nil {
		return nil, fmt.Errorf("acquire due triggers: %w", err)
	}
	var ts []store.Trigger
	err = s.write(ctx, func(tx *sql.Tx) error {
		var err error
		ts, err = queryTriggers(ctx, tx, acquireSQL, p.Node, micros(now), micros(now), micros(horizon), storeutil.Limit(p.Limit))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("acquire due triggers for %s: %w", p.Node, err)
	}
	return storeutil.Acquired(ts), nil
}

// CompleteFires records the fires of acquired triggers. The whole batch is
// two statements: advance every trigger still acquired at its revision, and
// insert their runs (ignoring fire ids already recorded); misses are
// explained after.
//
// The batch statements write "+column" in conditions that an index could
// serve: the unary plus keeps SQLite from walking, say, every trigger the
// node holds once per batch row, and makes it look each batch row up by
// primary key instead (plan_test.go checks the plans).
func (s *Store) CompleteFires(ctx context.Context, p store.CompleteFiresParams) ([]store.FireResult, error) {
	fires, err := storeutil.CheckFires(p)
	if err != nil {
		return nil, fmt.Errorf("complete fires: %w", err)
	}
	type fireJSON struct {
		ID      string `json:"id"`
		Rev     int64  `json:"rev"`
		Sched   *int64 `json:"sched"`
		Next    *int64 `json:"next"`
		State   string `json:"state"`
		Started int64  `json:"started"`
	}
	in := make([]fireJSON, len(fires))
	for i, f := range fires {
		in[i] = fireJSON{ID: f.ScheduleID, Rev: f.Revision, Sched: microsPtr(f.ScheduledAt), Next: microsPtr(f.NextFireAt),
			State: string(storeutil.FireState(f)), Started: micros(f.StartedAt)}
	}
	inJSON, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("complete fires: %w", err)
	}
	var results []store.FireResult
	err = s.write(ctx, func(tx *sql.Tx) error {
		results = make([]store.FireResult, len(fires))
		advanced, err := queryTriggers(ctx, tx, advanceSQL, p.Node, string(inJSON))
		if err != nil {
			return fmt.Errorf("advance triggers: %w", err)
		}
		byID := sqlcommon.Index(advanced, sqlcommon.TriggerID)
		runs := make([]runJSON, 0, len(advanced))
		for i, f := range fires {
			t, ok := byID[f.ScheduleID]
			if !ok {
				continue
			}
			results[i].Trigger = t
			results[i].Run = storeutil.FireRun(p.Node, f, t.PrevFireAt)
			runs = append(runs, toRunJSON(results[i].Run))
		}
		inserted, err := insertRuns(ctx, tx, runs)
		if err != nil {
			return err
		}
		for i, f := range fires {
			if _, ok := byID[f.ScheduleID]; !ok {
				results[i].Err, err = explainNotAcquired(ctx, tx, p.Node, f.ScheduleID, f.Revision)
				if err != nil {
					return err
				}
				continue
			}
			if inserted[results[i].Run.ID] {
				continue
			}
			// The fire id was recorded before: the trigger has moved on, but
			// nothing runs, so nothing may block it.
			results[i].Err = fmt.Errorf("fire %s: %w", results[i].Run.ID, store.ErrAlreadyFired)
			results[i].Run = store.Run{}
			if results[i].Trigger.State == store.TriggerBlocked {
				t, err := scanTrigger(tx.QueryRowContext(ctx, `UPDATE triggers SET state = 'waiting'
					WHERE schedule_id = ? RETURNING `+triggerCols, f.ScheduleID))
				if err != nil {
					return fmt.Errorf("unblock trigger %s: %w", f.ScheduleID, err)
				}
				results[i].Trigger = t
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("complete fires for %s: %w", p.Node, err)
	}
	return results, nil
}

// explainNotAcquired returns the per-item error for a trigger that a CAS on
// (node, revision, acquired) did not match.
func explainNotAcquired(ctx context.Context, tx *sql.Tx, node, id string, revision int64) (error, error) {
	var (
		t     = store.Trigger{ScheduleID: id}
		state string
		owner sql.NullString
	)
	err := tx.QueryRowContext(ctx, `SELECT state, node_id, revision FROM triggers WHERE schedule_id = ?`, id).Scan(&state, &owner, &t.Revision)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("trigger %s: %w", id, store.ErrNotFound), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read trigger %s: %w", id, err)
	}
	t.State, t.NodeID = store.TriggerState(state), owner.String
	if cerr := storeutil.CheckAcquired(t, node, revision); cerr != nil {
		return cerr, nil
	}
	return fmt.Errorf("trigger %s changed concurrently: %w", id, store.ErrConflict), nil
}

// ReleaseTriggers returns acquired triggers to waiting.
func (s *Store) ReleaseTriggers(ctx context.Context, p store.ReleaseTriggersParams) ([]store.ReleaseResult, error) {
	rels, err := storeutil.CheckReleases(p)
	if err != nil {
		return nil, fmt.Errorf("release triggers: %w", err)
	}
	now := micros(store.NowOr(p.Now))
	var results []store.ReleaseResult
	err = s.write(ctx, func(tx *sql.Tx) error {
		results = make([]store.ReleaseResult, len(rels))
		get, err := tx.PrepareContext(ctx, `SELECT `+triggerCols+` FROM triggers WHERE schedule_id = ?`)
		if err != nil {
			return fmt.Errorf("prepare get: %w", err)
		}
		defer get.Close()
		release, err := tx.PrepareContext(ctx, `UPDATE triggers SET
			state = ?, next_fire_at = ?, node_id = NULL, acquired_at = NULL,
			revision = revision + 1, updated_at = ?
			WHERE schedule_id = ? AND revision = ?
			RETURNING `+triggerCols)
		if err != nil {
			return fmt.Errorf("prepare release: %w", err)
		}
		defer release.Close()
		for i, r := range rels {
			t, err := scanTrigger(get.QueryRowContext(ctx, r.ScheduleID))
			if errors.Is(err, sql.ErrNoRows) {
				results[i].Err = fmt.Errorf("release %s: %w", r.ScheduleID, store.ErrNotFound)
				continue
			}
			if err != nil {
				return fmt.Errorf("read trigger %s: %w", r.ScheduleID, err)
			}
			if err := storeutil.CheckAcquired(t, p.Node, r.Revision); err != nil {
				results[i].Err = err
				continue
			}
			next := t.NextFireAt
			if r.Reschedule {
				next = store.Normalize(r.NextFireAt)
			}
			t, err = scanTrigger(release.QueryRowContext(ctx, string(storeutil.InitialState(next)), nullMicros(next), now, r.ScheduleID, r.Revision))
			if err != nil {
				return fmt.Errorf("release trigger %s: %w", r.ScheduleID, err)
			}
			results[i].Trigger = t
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("release triggers for %s: %w", p.Node, err)
	}
	return results, nil
}

// upsertSQL upserts one trigger.
var upsertSQL = sqlcommon.UpsertTriggerSQL(`(?, ?, ?, ?, ?, ?, 1, ?, ?, ?)`)

// acquireSQL claims a batch of due triggers ($1 node, $2 now, $3 now, $4 horizon, $5 limit).
const acquireSQL = `UPDATE triggers
			SET state = 'acquired', node_id = ?, acquired_at = ?, revision = revision + 1, updated_at = ?
			WHERE schedule_id IN (
				SELECT schedule_id FROM triggers
				WHERE state = 'waiting' AND paused = 0 AND next_fire_at <= ?
				ORDER BY next_fire_at, schedule_id
				LIMIT ?)
			RETURNING ` + triggerCols

// advanceSQL fires a batch of acquired triggers (?1 node, ?2 JSON array of fires).
const advanceSQL = `UPDATE triggers SET
				state = j.value->>'state',
				prev_fire_at = COALESCE(j.value->>'sched', triggers.next_fire_at),
				next_fire_at = j.value->>'next',
				times_triggered = triggers.times_triggered + 1,
				node_id = NULL, acquired_at = NULL, last_node_id = ?1,
				revision = triggers.revision + 1, updated_at = j.value->>'started'
			FROM json_each(?2) AS j
			WHERE triggers.schedule_id = j.value->>'id' AND triggers.revision = j.value->>'rev'
				AND +triggers.state = 'acquired' AND +triggers.node_id = ?1
			RETURNING ` + triggerCols
