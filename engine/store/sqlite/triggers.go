package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"sundial/engine/store"
	"sundial/engine/store/internal/sqlcommon"
)

const triggerCols = sqlcommon.TriggerCols

func scanTrigger(row sqlcommon.Scanner) (store.Trigger, error) { return codec.Trigger(row) }

func queryTriggers(ctx context.Context, q queryer, query string, args ...any) ([]store.Trigger, error) {
	return queryAll(ctx, q, scanTrigger, query, args...)
}

// UpsertTriggers inserts or updates config-defined triggers; see store.Store.
func (s *Store) UpsertTriggers(ctx context.Context, p store.UpsertTriggersParams) ([]store.UpsertTriggerResult, error) {
	order, defs, datas, err := sqlcommon.UpsertOrder(p.Triggers)
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
			t, err := scanTrigger(upsert.QueryRowContext(ctx, d.ScheduleID, defs[i], d.ConfigHash,
				string(sqlcommon.InitialState(next)), boolInt(d.Paused), nullMicros(next), now, now, datas[i]))
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

// ListTriggers returns triggers by schedule id.
func (s *Store) ListTriggers(ctx context.Context, p store.ListTriggersParams) ([]store.Trigger, error) {
	if p.ScheduleIDs == nil {
		ts, err := queryTriggers(ctx, s.reader, `SELECT `+triggerCols+` FROM triggers ORDER BY schedule_id`)
		if err != nil {
			return nil, fmt.Errorf("list triggers: %w", err)
		}
		return ts, nil
	}
	var out []store.Trigger
	for _, ids := range chunk(p.ScheduleIDs, 500) {
		ts, err := queryTriggers(ctx, s.reader, `SELECT `+triggerCols+` FROM triggers WHERE schedule_id IN (`+placeholders(len(ids))+`)`, anys(ids)...)
		if err != nil {
			return nil, fmt.Errorf("list triggers: %w", err)
		}
		out = append(out, ts...)
	}
	sqlcommon.SortTriggers(out)
	return out, nil
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
	const set = `UPDATE triggers SET paused = ?, revision = revision + 1, updated_at = ? WHERE paused <> ?`
	var out []store.Trigger
	err := s.write(ctx, func(tx *sql.Tx) error {
		out = nil
		if p.All {
			ts, err := queryTriggers(ctx, tx, set+` RETURNING `+triggerCols, boolInt(p.Paused), now, boolInt(p.Paused))
			if err != nil {
				return err
			}
			out = ts
			return logPauses(ctx, tx, ts, now)
		}
		for _, ids := range chunk(p.ScheduleIDs, 500) {
			args := append([]any{boolInt(p.Paused), now, boolInt(p.Paused)}, anys(ids)...)
			ts, err := queryTriggers(ctx, tx, set+` AND schedule_id IN (`+placeholders(len(ids))+`) RETURNING `+triggerCols, args...)
			if err != nil {
				return err
			}
			out = append(out, ts...)
		}
		return logPauses(ctx, tx, out, now)
	})
	if err != nil {
		return nil, fmt.Errorf("pause triggers: %w", err)
	}
	sqlcommon.SortTriggers(out)
	return out, nil
}

// logPauses appends a ChangePause entry for each trigger in tx.
func logPauses(ctx context.Context, tx *sql.Tx, ts []store.Trigger, now int64) error {
	for _, t := range ts {
		if err := logChange(ctx, tx, store.ChangePause, t.ScheduleID, now); err != nil {
			return err
		}
	}
	return nil
}

// upsertSQL upserts one trigger.
var upsertSQL = sqlcommon.UpsertTriggerSQL(`(?, ?, ?, ?, ?, ?, 1, ?, ?, ?)`)
