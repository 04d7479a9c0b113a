package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"

	"sundial/engine/store"
	"sundial/engine/store/internal/sqlcommon"
)

var _ store.ScanRuns = (*Store)(nil)

func scanRunSQL(states int) sqlcommon.ScanRunSQL {
	return sqlcommon.NewScanRunSQL(func(n int) string { return "?" + strconv.Itoa(n) }, states)
}

// PutScanRun upserts a run.
func (s *Store) PutScanRun(ctx context.Context, r store.ScanRun) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, scanRunSQL(0).Put, sqlcommon.ScanRunArgs(r)...); err != nil {
			return fmt.Errorf("put task scan run %s: %w", r.ID, err)
		}
		return nil
	})
}

// ListScanRuns lists the runs, oldest first.
func (s *Store) ListScanRuns(ctx context.Context) ([]store.ScanRun, error) {
	rows, err := s.reader.QueryContext(ctx, scanRunSQL(0).List)
	if err != nil {
		return nil, fmt.Errorf("list task scan runs: %w", err)
	}
	defer rows.Close()
	return sqlcommon.Collect(rows, sqlcommon.ScanRun)
}

// ReadScanRun reads one run.
func (s *Store) ReadScanRun(ctx context.Context, id string) (store.ScanRun, error) {
	r, err := sqlcommon.ScanRun(s.reader.QueryRowContext(ctx, scanRunSQL(0).Read, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, sqlcommon.ScanRunMissing(id)
	}
	if err != nil {
		return r, fmt.Errorf("read task scan run %s: %w", id, err)
	}
	return r, nil
}

// PruneScanRuns keeps the newest Keep runs in State.
func (s *Store) PruneScanRuns(ctx context.Context, p store.PruneScanRunsParams) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, scanRunSQL(0).Prune, p.State, p.Keep); err != nil {
			return fmt.Errorf("prune task scan runs: %w", err)
		}
		return nil
	})
}

// InterruptScanRuns ends a node's unfinished runs.
func (s *Store) InterruptScanRuns(ctx context.Context, p store.InterruptScanRunsParams) (int, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, scanRunSQL(len(p.States)).Interrupt, sqlcommon.InterruptArgs(p)...)
		if err != nil {
			return fmt.Errorf("interrupt task scan runs of %s: %w", p.Node, err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}
