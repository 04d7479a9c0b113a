package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"

	"sundial/engine/store"
	"sundial/engine/store/internal/sqlcommon"
)

func scanAPISchedule(row sqlcommon.Scanner) (store.APISchedule, error) { return codec.APISchedule(row) }

// getAPISchedule reads one REST schedule in tx; found false when absent.
func getAPISchedule(ctx context.Context, tx *sql.Tx, id string) (store.APISchedule, bool, error) {
	a, err := scanAPISchedule(tx.QueryRowContext(ctx, `SELECT `+sqlcommon.APIScheduleCols+` FROM api_schedules WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.APISchedule{}, false, nil
	}
	return a, err == nil, err
}

// logChange appends one change log entry in tx.
func logChange(ctx context.Context, tx *sql.Tx, kind store.ChangeKind, id string, at int64) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO changes (kind, schedule_id, at) VALUES (?, ?, ?)`, string(kind), id, at)
	if err != nil {
		return fmt.Errorf("log change: %w", err)
	}
	return nil
}

// PutAPISchedule creates or replaces a REST schedule; see store.Store.
func (s *Store) PutAPISchedule(ctx context.Context, p store.PutAPIScheduleParams) (store.APISchedule, error) {
	body, err := sqlcommon.CheckPutAPISchedule(p)
	if err != nil {
		return store.APISchedule{}, fmt.Errorf("put api schedule: %w", err)
	}
	now := micros(store.NowOr(p.Now))
	var out store.APISchedule
	err = s.write(ctx, func(tx *sql.Tx) error {
		cur, found, err := getAPISchedule(ctx, tx, p.ID)
		if err != nil {
			return err
		}
		if err := sqlcommon.RevConflict(p.ID, p.IfRev, cur, found); err != nil {
			return err
		}
		out, err = scanAPISchedule(tx.QueryRowContext(ctx, `INSERT INTO api_schedules (id, body, rev, created_at, updated_at)
			VALUES (?, ?, 1, ?, ?)
			ON CONFLICT (id) DO UPDATE SET body = excluded.body, rev = api_schedules.rev + 1, updated_at = excluded.updated_at
			RETURNING `+sqlcommon.APIScheduleCols, p.ID, body, now, now))
		if err != nil {
			return err
		}
		return logChange(ctx, tx, store.ChangeSchedule, p.ID, now)
	})
	if err != nil {
		return store.APISchedule{}, fmt.Errorf("put api schedule %s: %w", p.ID, err)
	}
	return out, nil
}

// DeleteAPISchedule deletes a REST schedule; see store.Store.
func (s *Store) DeleteAPISchedule(ctx context.Context, p store.DeleteAPIScheduleParams) (store.APISchedule, error) {
	if err := sqlcommon.CheckDeleteAPISchedule(p); err != nil {
		return store.APISchedule{}, fmt.Errorf("delete api schedule: %w", err)
	}
	now := micros(store.NowOr(p.Now))
	var out store.APISchedule
	err := s.write(ctx, func(tx *sql.Tx) error {
		cur, found, err := getAPISchedule(ctx, tx, p.ID)
		if err != nil {
			return err
		}
		if !found {
			return store.ErrNotFound
		}
		if err := sqlcommon.RevConflict(p.ID, p.IfRev, cur, found); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM api_schedules WHERE id = ?`, p.ID); err != nil {
			return err
		}
		out = cur
		return logChange(ctx, tx, store.ChangeSchedule, p.ID, now)
	})
	if err != nil {
		return store.APISchedule{}, fmt.Errorf("delete api schedule %s: %w", p.ID, err)
	}
	return out, nil
}

// ListAPISchedules returns REST schedules by id.
func (s *Store) ListAPISchedules(ctx context.Context, p store.ListAPISchedulesParams) ([]store.APISchedule, error) {
	const q = `SELECT ` + sqlcommon.APIScheduleCols + ` FROM api_schedules`
	var out []store.APISchedule
	if p.IDs == nil {
		as, err := queryAll(ctx, s.reader, scanAPISchedule, q+` ORDER BY id`)
		if err != nil {
			return nil, fmt.Errorf("list api schedules: %w", err)
		}
		return as, nil
	}
	for _, ids := range chunk(p.IDs, 500) {
		as, err := queryAll(ctx, s.reader, scanAPISchedule, q+` WHERE id IN (`+placeholders(len(ids))+`) ORDER BY id`, anys(ids)...)
		if err != nil {
			return nil, fmt.Errorf("list api schedules: %w", err)
		}
		out = append(out, as...)
	}
	sqlcommon.SortAPISchedules(out)
	return out, nil
}

// changesAfterSQL reads the change log after a seq (a search of the
// primary key).
const changesAfterSQL = `SELECT ` + sqlcommon.ChangeCols + ` FROM changes WHERE seq > ? ORDER BY seq LIMIT ?`

// Changes reads the change log after a seq; see store.Store.
func (s *Store) Changes(ctx context.Context, p store.ChangesParams) (store.Changes, error) {
	if p.AfterSeq < 0 {
		var last int64
		if err := s.reader.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM changes`).Scan(&last); err != nil {
			return store.Changes{}, fmt.Errorf("changes: %w", err)
		}
		return store.Changes{LastSeq: last}, nil
	}
	items, err := queryAll(ctx, s.reader, codec.Change, changesAfterSQL, p.AfterSeq, sqlcommon.ChangesLimit(p.Limit))
	if err != nil {
		return store.Changes{}, fmt.Errorf("changes after %d: %w", p.AfterSeq, err)
	}
	return sqlcommon.ChangesAfter(p.AfterSeq, items), nil
}

// PruneChanges deletes old change log entries; see store.Store.
func (s *Store) PruneChanges(ctx context.Context, p store.PruneChangesParams) (int, error) {
	var n int
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM changes WHERE seq IN (SELECT seq FROM changes WHERE at < ? ORDER BY at LIMIT ?)`,
			micros(p.Before), sqlcommon.PruneLimit(p.Limit))
		if err != nil {
			return err
		}
		k, _ := res.RowsAffected()
		n = int(k)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune changes: %w", err)
	}
	return n, nil
}

// SigningKey returns the cluster's token signing key, creating it once.
func (s *Store) SigningKey(ctx context.Context) ([]byte, error) {
	const get = `SELECT value FROM cluster_secrets WHERE name = ?`
	var key []byte
	err := s.reader.QueryRowContext(ctx, get, sqlcommon.SigningKeyName).Scan(&key)
	if err == nil {
		return key, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("read signing key: %w", err)
	}
	fresh := make([]byte, sqlcommon.SigningKeySize)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("create signing key: %w", err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO cluster_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`,
			sqlcommon.SigningKeyName, fresh); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, get, sqlcommon.SigningKeyName).Scan(&key)
	})
	if err != nil {
		return nil, fmt.Errorf("create signing key: %w", err)
	}
	return key, nil
}
