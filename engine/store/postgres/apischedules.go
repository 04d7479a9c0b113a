package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"sundial/engine/store"
	"sundial/engine/store/internal/sqlcommon"
)

// changeLockID keys the transaction-scoped advisory lock that every writer
// of the change log takes first in its transaction and holds to commit.
// Writers of the log are so serialized: a seq is taken only after the
// transaction holding the previous one committed or rolled back, so a
// reader that has seen seq N never later finds a seq below N appear (which
// a plain sequence allows: its values commit out of order). The writers
// are pauses, resumes and REST puts and deletes, a few per second at most.
const changeLockID = 0x53756e6469616d // "Sundiam"

// lockChanges takes the change log's lock in tx.
func lockChanges(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(changeLockID)); err != nil {
		return fmt.Errorf("lock change log: %w", err)
	}
	return nil
}

// logChanges appends one entry per schedule id in tx, which holds the
// change log's lock.
func logChanges(ctx context.Context, tx pgx.Tx, kind store.ChangeKind, ids []string, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO changes (kind, schedule_id, at) SELECT $1, id, $2 FROM unnest($3::text[]) WITH ORDINALITY AS u(id, n) ORDER BY n`,
		string(kind), at, ids)
	if err != nil {
		return fmt.Errorf("log change: %w", err)
	}
	return nil
}

func scanAPISchedule(row sqlcommon.Scanner) (store.APISchedule, error) { return codec.APISchedule(row) }

// getAPISchedule reads one REST schedule in tx; found false when absent.
func getAPISchedule(ctx context.Context, tx pgx.Tx, id string) (store.APISchedule, bool, error) {
	a, err := scanAPISchedule(tx.QueryRow(ctx, `SELECT `+sqlcommon.APIScheduleCols+` FROM api_schedules WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.APISchedule{}, false, nil
	}
	return a, err == nil, err
}

// PutAPISchedule creates or replaces a REST schedule; see store.Store. The
// change log's lock serializes puts and deletes, so the revision check and
// the write see the latest committed row.
func (s *Store) PutAPISchedule(ctx context.Context, p store.PutAPIScheduleParams) (store.APISchedule, error) {
	body, err := sqlcommon.CheckPutAPISchedule(p)
	if err != nil {
		return store.APISchedule{}, fmt.Errorf("put api schedule: %w", err)
	}
	now := store.NowOr(p.Now)
	var out store.APISchedule
	err = s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockChanges(ctx, tx); err != nil {
			return err
		}
		cur, found, err := getAPISchedule(ctx, tx, p.ID)
		if err != nil {
			return err
		}
		if err := sqlcommon.RevConflict(p.ID, p.IfRev, cur, found); err != nil {
			return err
		}
		out, err = scanAPISchedule(tx.QueryRow(ctx, `INSERT INTO api_schedules (id, body, rev, created_at, updated_at)
			VALUES ($1, $2, 1, $3, $3)
			ON CONFLICT (id) DO UPDATE SET body = excluded.body, rev = api_schedules.rev + 1, updated_at = excluded.updated_at
			RETURNING `+sqlcommon.APIScheduleCols, p.ID, body, now))
		if err != nil {
			return err
		}
		return logChanges(ctx, tx, store.ChangeSchedule, []string{p.ID}, now)
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
	now := store.NowOr(p.Now)
	var out store.APISchedule
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockChanges(ctx, tx); err != nil {
			return err
		}
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
		if _, err := tx.Exec(ctx, `DELETE FROM api_schedules WHERE id = $1`, p.ID); err != nil {
			return err
		}
		out = cur
		return logChanges(ctx, tx, store.ChangeSchedule, []string{p.ID}, now)
	})
	if err != nil {
		return store.APISchedule{}, fmt.Errorf("delete api schedule %s: %w", p.ID, err)
	}
	return out, nil
}

// ListAPISchedules returns REST schedules by id.
func (s *Store) ListAPISchedules(ctx context.Context, p store.ListAPISchedulesParams) ([]store.APISchedule, error) {
	all := p.IDs == nil
	if all {
		p.IDs = []string{}
	}
	out, err := query(ctx, s.pool, scanAPISchedule, `SELECT `+sqlcommon.APIScheduleCols+` FROM api_schedules
		WHERE $1 OR id = ANY($2) ORDER BY id`, all, p.IDs)
	if err != nil {
		return nil, fmt.Errorf("list api schedules: %w", err)
	}
	return out, nil
}

// Changes reads the change log after a seq; see store.Store.
func (s *Store) Changes(ctx context.Context, p store.ChangesParams) (store.Changes, error) {
	if p.AfterSeq < 0 {
		var last int64
		if err := s.pool.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM changes`).Scan(&last); err != nil {
			return store.Changes{}, fmt.Errorf("changes: %w", err)
		}
		return store.Changes{LastSeq: last}, nil
	}
	items, err := query(ctx, s.pool, codec.Change, `SELECT `+sqlcommon.ChangeCols+` FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2`,
		p.AfterSeq, sqlcommon.ChangesLimit(p.Limit))
	if err != nil {
		return store.Changes{}, fmt.Errorf("changes after %d: %w", p.AfterSeq, err)
	}
	return sqlcommon.ChangesAfter(p.AfterSeq, items), nil
}

// PruneChanges deletes old change log entries; see store.Store.
func (s *Store) PruneChanges(ctx context.Context, p store.PruneChangesParams) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM changes WHERE seq IN (SELECT seq FROM changes WHERE at < $1 ORDER BY at LIMIT $2)`,
		store.Normalize(p.Before), sqlcommon.PruneLimit(p.Limit))
	if err != nil {
		return 0, fmt.Errorf("prune changes: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// SigningKey returns the cluster's token signing key, creating it once.
func (s *Store) SigningKey(ctx context.Context) ([]byte, error) {
	fresh := make([]byte, sqlcommon.SigningKeySize)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("create signing key: %w", err)
	}
	var key []byte
	// The insert of the first caller wins; the others read its key. A
	// caller whose insert meets a row committed after its statement's
	// snapshot began reads nothing (the conflict is seen, the row is not):
	// a second statement, with a new snapshot, sees it.
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		err = s.pool.QueryRow(ctx, `WITH ins AS (
			INSERT INTO cluster_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING value)
		SELECT value FROM ins UNION ALL SELECT value FROM cluster_secrets WHERE name = $1 LIMIT 1`,
			sqlcommon.SigningKeyName, fresh).Scan(&key)
		if !errors.Is(err, pgx.ErrNoRows) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return key, nil
}
