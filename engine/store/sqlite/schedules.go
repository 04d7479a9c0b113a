package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"sundial/engine/store"
	"sundial/engine/store/internal/sqlcommon"
	"sundial/engine/store/internal/storeutil"
)

const scheduleCols = sqlcommon.ScheduleCols

func scanSchedule(row sqlcommon.Scanner) (store.Schedule, error) { return codec.Schedule(row) }

// CreateSchedule stores a schedule created over the API.
func (s *Store) CreateSchedule(ctx context.Context, p store.CreateScheduleParams) (store.Schedule, error) {
	cfg, err := storeutil.CheckCreateSchedule(p)
	if err != nil {
		return store.Schedule{}, err
	}
	now := store.NowOr(p.Now)
	sc := store.Schedule{ID: p.ID, Config: []byte(cfg), Revision: 1, CreatedAt: now, UpdatedAt: now}
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO schedules (`+scheduleCols+`) VALUES (?, ?, 1, ?, ?)`,
			p.ID, cfg, micros(now), micros(now))
		return err
	})
	if isUniqueViolation(err) {
		return store.Schedule{}, fmt.Errorf("create schedule %s: %w", p.ID, store.ErrAlreadyExists)
	}
	if err != nil {
		return store.Schedule{}, fmt.Errorf("create schedule %s: %w", p.ID, err)
	}
	return sc, nil
}

// GetSchedule returns one schedule.
func (s *Store) GetSchedule(ctx context.Context, p store.GetScheduleParams) (store.Schedule, error) {
	sc, err := scanSchedule(s.reader.QueryRowContext(ctx, `SELECT `+scheduleCols+` FROM schedules WHERE id = ?`, p.ID))
	return sqlcommon.One(sc, err, sql.ErrNoRows, "get schedule "+p.ID)
}

// ListSchedules returns schedules by id.
func (s *Store) ListSchedules(ctx context.Context, p store.ListSchedulesParams) ([]store.Schedule, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := s.reader.QueryContext(ctx, `SELECT `+scheduleCols+` FROM schedules WHERE id > ? ORDER BY id LIMIT ?`, p.AfterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	defer rows.Close()
	var out []store.Schedule
	for rows.Next() {
		sc, err := scanSchedule(rows)
		if err != nil {
			return nil, fmt.Errorf("list schedules: %w", err)
		}
		out = append(out, sc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	return out, nil
}

// UpdateSchedule replaces a schedule's config.
func (s *Store) UpdateSchedule(ctx context.Context, p store.UpdateScheduleParams) (store.Schedule, error) {
	cfg, err := storeutil.JSON("schedule config", p.Config)
	if err != nil {
		return store.Schedule{}, fmt.Errorf("update schedule %s: %w", p.ID, err)
	}
	now := micros(store.NowOr(p.Now))
	var sc store.Schedule
	err = s.write(ctx, func(tx *sql.Tx) error {
		var err error
		sc, err = scanSchedule(tx.QueryRowContext(ctx, `UPDATE schedules
			SET config = ?, revision = revision + 1, updated_at = ?
			WHERE id = ? AND (? = 0 OR revision = ?)
			RETURNING `+scheduleCols, cfg, now, p.ID, p.Revision, p.Revision))
		if errors.Is(err, sql.ErrNoRows) {
			return scheduleMissOrConflict(ctx, tx, p.ID, p.Revision)
		}
		return err
	})
	if err != nil {
		return store.Schedule{}, fmt.Errorf("update schedule %s: %w", p.ID, err)
	}
	return sc, nil
}

// DeleteSchedule removes a schedule and its trigger.
func (s *Store) DeleteSchedule(ctx context.Context, p store.DeleteScheduleParams) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM schedules WHERE id = ? AND (? = 0 OR revision = ?)`, p.ID, p.Revision, p.Revision)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return scheduleMissOrConflict(ctx, tx, p.ID, p.Revision)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM triggers WHERE schedule_id = ?`, p.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete schedule %s: %w", p.ID, err)
	}
	return nil
}

func scheduleMissOrConflict(ctx context.Context, tx *sql.Tx, id string, revision int64) error {
	var cur int64
	err := tx.QueryRowContext(ctx, `SELECT revision FROM schedules WHERE id = ?`, id).Scan(&cur)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	if err != nil {
		return err
	}
	return storeutil.RevisionConflict(cur, revision)
}
