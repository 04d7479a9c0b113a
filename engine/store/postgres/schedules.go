package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

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
	err = s.withConn(ctx, func(conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, `INSERT INTO schedules (`+scheduleCols+`) VALUES ($1, $2, 1, $3, $3)`, p.ID, cfg, now)
		return err
	})
	if isUniqueViolation(err) {
		return store.Schedule{}, fmt.Errorf("create schedule %s: %w", p.ID, store.ErrAlreadyExists)
	}
	if err != nil {
		return store.Schedule{}, fmt.Errorf("create schedule %s: %w", p.ID, err)
	}
	return store.Schedule{ID: p.ID, Config: []byte(cfg), Revision: 1, CreatedAt: now, UpdatedAt: now}, nil
}

// GetSchedule returns one schedule.
func (s *Store) GetSchedule(ctx context.Context, p store.GetScheduleParams) (store.Schedule, error) {
	var sc store.Schedule
	err := s.withConn(ctx, func(conn *pgx.Conn) error {
		var err error
		sc, err = scanSchedule(conn.QueryRow(ctx, `SELECT `+scheduleCols+` FROM schedules WHERE id = $1`, p.ID))
		return err
	})
	return sqlcommon.One(sc, err, pgx.ErrNoRows, "get schedule "+p.ID)
}

// ListSchedules returns schedules by id.
func (s *Store) ListSchedules(ctx context.Context, p store.ListSchedulesParams) ([]store.Schedule, error) {
	var limit *int
	if p.Limit > 0 {
		limit = &p.Limit
	}
	var out []store.Schedule
	err := s.withConn(ctx, func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, `SELECT `+scheduleCols+` FROM schedules WHERE id > $1 ORDER BY id LIMIT $2`, p.AfterID, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			sc, err := scanSchedule(rows)
			if err != nil {
				return err
			}
			out = append(out, sc)
		}
		return rows.Err()
	})
	if err != nil {
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
	now := store.NowOr(p.Now)
	var sc store.Schedule
	err = s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		sc, err = scanSchedule(tx.QueryRow(ctx, `UPDATE schedules
			SET config = $1, revision = revision + 1, updated_at = $2
			WHERE id = $3 AND ($4 = 0 OR revision = $4)
			RETURNING `+scheduleCols, cfg, now, p.ID, p.Revision))
		if errors.Is(err, pgx.ErrNoRows) {
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
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM schedules WHERE id = $1 AND ($2 = 0 OR revision = $2)`, p.ID, p.Revision)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return scheduleMissOrConflict(ctx, tx, p.ID, p.Revision)
		}
		_, err = tx.Exec(ctx, `DELETE FROM triggers WHERE schedule_id = $1`, p.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete schedule %s: %w", p.ID, err)
	}
	return nil
}

func scheduleMissOrConflict(ctx context.Context, tx pgx.Tx, id string, revision int64) error {
	var cur int64
	err := tx.QueryRow(ctx, `SELECT revision FROM schedules WHERE id = $1`, id).Scan(&cur)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	if err != nil {
		return err
	}
	return storeutil.RevisionConflict(cur, revision)
}
