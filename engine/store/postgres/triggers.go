package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"sundial/engine/store"
	"sundial/engine/store/internal/sqlcommon"
)

const triggerCols = sqlcommon.TriggerCols

func scanTrigger(row sqlcommon.Scanner) (store.Trigger, error) { return codec.Trigger(row) }

func queryTriggers(ctx context.Context, q querier, sql string, args ...any) ([]store.Trigger, error) {
	return query(ctx, q, scanTrigger, sql, args...)
}

// UpsertTriggers inserts or updates config-defined triggers; see store.Store.
// Rows are written in schedule id order, so that nodes upserting the same set
// at once cannot deadlock.
func (s *Store) UpsertTriggers(ctx context.Context, p store.UpsertTriggersParams) ([]store.UpsertTriggerResult, error) {
	order, defs, datas, err := sqlcommon.UpsertOrder(p.Triggers)
	if err != nil {
		return nil, fmt.Errorf("upsert triggers: %w", err)
	}
	now := store.NowOr(p.Now)
	var results []store.UpsertTriggerResult
	err = s.tx(ctx, func(tx pgx.Tx) error {
		results = make([]store.UpsertTriggerResult, len(p.Triggers))
		batch := &pgx.Batch{}
		for _, i := range order {
			d := p.Triggers[i]
			next := store.Normalize(d.NextFireAt)
			batch.Queue(upsertSQL,
				d.ScheduleID, defs[i], d.ConfigHash, string(sqlcommon.InitialState(next)), d.Paused, ts(next), now, datas[i])
		}
		br := tx.SendBatch(ctx, batch)
		var unchanged []string
		for _, i := range order {
			t, err := scanTrigger(br.QueryRow())
			res, ok, err := sqlcommon.Upserted(t, err, pgx.ErrNoRows)
			if err != nil {
				_ = br.Close()
				return fmt.Errorf("upsert trigger %s: %w", p.Triggers[i].ScheduleID, err)
			}
			results[i] = res
			if !ok {
				unchanged = append(unchanged, p.Triggers[i].ScheduleID)
			}
		}
		if err := br.Close(); err != nil {
			return err
		}
		if len(unchanged) == 0 {
			return nil
		}
		stored, err := queryTriggers(ctx, tx, `SELECT `+triggerCols+` FROM triggers WHERE schedule_id = ANY($1)`, unchanged)
		if err != nil {
			return fmt.Errorf("read unchanged triggers: %w", err)
		}
		byID := sqlcommon.Index(stored, sqlcommon.TriggerID)
		for i, d := range p.Triggers {
			if results[i].Action == store.UpsertUnchanged {
				results[i].Trigger = byID[d.ScheduleID]
			}
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
	all := p.ScheduleIDs == nil
	if all {
		p.ScheduleIDs = []string{}
	}
	out, err := queryTriggers(ctx, s.pool, `SELECT `+triggerCols+` FROM triggers WHERE $1 OR schedule_id = ANY($2) ORDER BY schedule_id`,
		all, p.ScheduleIDs)
	if err != nil {
		return nil, fmt.Errorf("list triggers: %w", err)
	}
	return out, nil
}

// DeleteTriggers removes triggers.
func (s *Store) DeleteTriggers(ctx context.Context, p store.DeleteTriggersParams) (int, error) {
	if len(p.ScheduleIDs) == 0 {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM triggers WHERE schedule_id = ANY($1)`, p.ScheduleIDs)
	if err != nil {
		return 0, fmt.Errorf("delete triggers: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// PauseTriggers pauses or resumes triggers.
func (s *Store) PauseTriggers(ctx context.Context, p store.PauseTriggersParams) ([]store.Trigger, error) {
	now := store.NowOr(p.Now)
	if p.ScheduleIDs == nil {
		p.ScheduleIDs = []string{}
	}
	var out []store.Trigger
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockChanges(ctx, tx); err != nil {
			return err
		}
		ts, err := queryTriggers(ctx, tx, `UPDATE triggers SET paused = $1, revision = revision + 1, updated_at = $2
			WHERE paused <> $1 AND ($3 OR schedule_id = ANY($4))
			RETURNING `+triggerCols, p.Paused, now, p.All, p.ScheduleIDs)
		if err != nil {
			return err
		}
		sqlcommon.SortTriggers(ts)
		out = ts
		return logChanges(ctx, tx, store.ChangePause, ids(ts), now)
	})
	if err != nil {
		return nil, fmt.Errorf("pause triggers: %w", err)
	}
	sqlcommon.SortTriggers(out)
	return out, nil
}

// ids returns the triggers' schedule ids.
func ids(ts []store.Trigger) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.ScheduleID
	}
	return out
}

// upsertSQL upserts one trigger ($7 created and updated time).
var upsertSQL = sqlcommon.UpsertTriggerSQL(`($1, $2, $3, $4, $5, $6, 1, $7, $7, $8)`)
