package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"sundial/engine/store"
	"sundial/engine/store/internal/sqlcommon"
	"sundial/engine/store/internal/storeutil"
)

// The database clock of an embedded SQLite file is this host's clock.
func dbNow() time.Time { return store.Normalize(time.Now()) }

const nodeCols = sqlcommon.NodeCols

func scanNode(row sqlcommon.Scanner, now time.Time) (store.Node, error) {
	return codec.Node(row, func() time.Time { return now })
}

func (s *Store) queryNodes(ctx context.Context, now time.Time, query string, args ...any) ([]store.Node, error) {
	return queryAll(ctx, s.reader, func(row sqlcommon.Scanner) (store.Node, error) { return scanNode(row, now) }, query, args...)
}

// checkInSQL upserts a node row.
var checkInSQL = sqlcommon.CheckInSQL(`(?, 'active', ?, ?, ?, ?, ?, ?)`, nodeCols)

// CheckIn records a node's heartbeat.
func (s *Store) CheckIn(ctx context.Context, p store.CheckInParams) (store.Node, error) {
	if err := storeutil.ID("node id", p.Node); err != nil {
		return store.Node{}, fmt.Errorf("check in: %w", err)
	}
	info, err := storeutil.JSON("node info", p.Info)
	if err != nil {
		return store.Node{}, fmt.Errorf("check in %s: %w", p.Node, err)
	}
	reported := store.NowOr(p.Now)
	var n store.Node
	err = s.write(ctx, func(tx *sql.Tx) error {
		now := dbNow()
		var prev string
		err := tx.QueryRowContext(ctx, `SELECT state FROM nodes WHERE id = ?`, p.Node).Scan(&prev)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		n, err = scanNode(tx.QueryRowContext(ctx, checkInSQL,
			p.Node, nullMicros(store.Normalize(p.StartedAt)), micros(now), micros(now), micros(reported), p.ConfigHash, info), now)
		n.WasDeclaredDead = prev == string(store.NodeDead)
		return err
	})
	if err != nil {
		return store.Node{}, fmt.Errorf("check in %s: %w", p.Node, err)
	}
	return n, nil
}

// ListNodes returns every known node.
func (s *Store) ListNodes(ctx context.Context, _ store.ListNodesParams) ([]store.Node, error) {
	ns, err := s.queryNodes(ctx, dbNow(), `SELECT `+nodeCols+` FROM nodes ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	return ns, nil
}

// DeadNodes returns active nodes silent for at least Timeout.
func (s *Store) DeadNodes(ctx context.Context, p store.DeadNodesParams) ([]store.Node, error) {
	now := dbNow()
	ns, err := s.queryNodes(ctx, now, `SELECT `+nodeCols+` FROM nodes
		WHERE state = 'active' AND checked_in_at <= ? AND id <> ? ORDER BY id`,
		micros(now.Add(-p.Timeout)), p.Exclude)
	if err != nil {
		return nil, fmt.Errorf("find dead nodes: %w", err)
	}
	return ns, nil
}

// RecoverNode releases a dead node's triggers and hands out its runs.
func (s *Store) RecoverNode(ctx context.Context, p store.RecoverNodeParams) (store.Recovery, error) {
	if err := storeutil.CheckRecover(p); err != nil {
		return store.Recovery{}, err
	}
	at := micros(store.NowOr(p.Now))
	var rec store.Recovery
	err := s.write(ctx, func(tx *sql.Tx) error {
		rec = store.Recovery{}
		if p.StaleAfter > 0 && p.Dead != p.Recoverer {
			var checked int64
			err := tx.QueryRowContext(ctx, `SELECT checked_in_at FROM nodes WHERE id = ?`, p.Dead).Scan(&checked)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if err == nil {
				if since := dbNow().Sub(time.UnixMicro(checked)); since < p.StaleAfter {
					return fmt.Errorf("last check-in %s ago, under %s: %w", since.Round(time.Millisecond), p.StaleAfter, store.ErrNodeAlive)
				}
			}
		}
		released, err := queryTriggers(ctx, tx, `UPDATE triggers SET
			state = 'waiting', node_id = NULL, acquired_at = NULL, revision = revision + 1, updated_at = ?
			WHERE node_id = ? AND state = 'acquired'
			RETURNING `+triggerCols, at, p.Dead)
		if err != nil {
			return fmt.Errorf("release triggers: %w", err)
		}
		storeutil.SortTriggers(released)
		rec.Released = released
		recovered, err := queryRuns(ctx, tx, `UPDATE runs SET
			node_id = ?, recovery = 1, recovered_from = ?, attempt = attempt + 1, started_at = ?
			WHERE node_id = ? AND status = 'running' AND recoverable = 1
			RETURNING `+runCols, p.Recoverer, p.Dead, at, p.Dead)
		if err != nil {
			return fmt.Errorf("claim recoverable runs: %w", err)
		}
		storeutil.SortRuns(recovered)
		rec.Recovered = recovered
		rec.Abandoned, err = abandonLocked(ctx, tx, p.Dead, nil, true, at, storeutil.RecoverReason(p))
		if err != nil {
			return fmt.Errorf("abandon runs: %w", err)
		}
		if p.Dead != p.Recoverer {
			if _, err := tx.ExecContext(ctx, `UPDATE nodes SET state = 'dead', recovered_at = ?, recovered_by = ? WHERE id = ?`,
				at, p.Recoverer, p.Dead); err != nil {
				return fmt.Errorf("mark node dead: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return store.Recovery{}, fmt.Errorf("recover node %s: %w", p.Dead, err)
	}
	return rec, nil
}
