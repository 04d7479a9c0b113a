package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"sundial/engine/store"
	"sundial/engine/store/internal/sqlcommon"
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
var checkInSQL = sqlcommon.CheckInSQL(`(?, 'active', ?, ?, ?, ?, ?, ?, ?)`, nodeCols)

// CheckIn records a node's heartbeat.
func (s *Store) CheckIn(ctx context.Context, p store.CheckInParams) (store.Node, error) {
	if err := sqlcommon.ID("node id", p.Node); err != nil {
		return store.Node{}, fmt.Errorf("check in: %w", err)
	}
	info, err := sqlcommon.JSON("node info", p.Info)
	if err != nil {
		return store.Node{}, fmt.Errorf("check in %s: %w", p.Node, err)
	}
	reported := store.NowOr(p.Now)
	var n store.Node
	err = s.write(ctx, func(tx *sql.Tx) error {
		now := dbNow()
		var prev, instance string
		var checked int64
		err := tx.QueryRowContext(ctx, `SELECT state, instance, checked_in_at FROM nodes WHERE id = ?`, p.Node).
			Scan(&prev, &instance, &checked)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err == nil && sqlcommon.InUse(p, prev, instance, now.Sub(time.UnixMicro(checked))) {
			stored, err := scanNode(tx.QueryRowContext(ctx, `SELECT `+nodeCols+` FROM nodes WHERE id = ?`, p.Node), now)
			if err != nil {
				return err
			}
			return &store.NodeInUseError{Node: stored}
		}
		n, err = scanNode(tx.QueryRowContext(ctx, checkInSQL,
			p.Node, nullMicros(store.Normalize(p.StartedAt)), micros(now), micros(now), micros(reported), p.ConfigHash, info,
			p.Instance), now)
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

// RecoverNode hands out a dead node's runs.
func (s *Store) RecoverNode(ctx context.Context, p store.RecoverNodeParams) (store.Recovery, error) {
	if err := sqlcommon.CheckRecover(p); err != nil {
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
		var err error
		rec.Recovered, rec.Unclaimed, err = recoverRunsLocked(ctx, tx, p, at)
		if err != nil {
			return fmt.Errorf("claim recoverable runs: %w", err)
		}
		rec.Abandoned, err = abandonLocked(ctx, tx, p.Dead, nil, true, at, sqlcommon.RecoverReason(p))
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

// recoverRunsLocked hands Dead's running recoverable runs to the recoverer,
// or back unclaimed when the recoverer lacks their schedule (p.Has).
func recoverRunsLocked(ctx context.Context, tx *sql.Tx, p store.RecoverNodeParams, at int64) (recovered, unclaimed []store.Run, err error) {
	const claim = `UPDATE runs SET
			node_id = ?, recovery = 1, recovered_from = ?, attempt = attempt + 1, started_at = ?
			WHERE node_id = ? AND status = 'running' AND recoverable = 1`
	if p.Has == nil {
		recovered, err = queryRuns(ctx, tx, claim+` RETURNING `+runCols, p.Recoverer, p.Dead, at, p.Dead)
		sqlcommon.SortRuns(recovered)
		return recovered, nil, err
	}
	var mine, back []string
	err = eachRow(ctx, tx, func(id, schedule string) {
		if p.Has(schedule) {
			mine = append(mine, id)
		} else {
			back = append(back, id)
		}
	}, `SELECT id, schedule_id FROM runs WHERE node_id = ? AND status = 'running' AND recoverable = 1`, p.Dead)
	if err != nil {
		return nil, nil, err
	}
	for _, part := range chunk(mine, 500) {
		rs, err := queryRuns(ctx, tx, claim+` AND id IN (`+placeholders(len(part))+`) RETURNING `+runCols,
			append([]any{p.Recoverer, p.Dead, at, p.Dead}, anys(part)...)...)
		if err != nil {
			return nil, nil, err
		}
		recovered = append(recovered, rs...)
	}
	for _, part := range chunk(back, 500) {
		rs, err := queryRuns(ctx, tx, `UPDATE runs SET node_id = ?, recovered_from = ?, started_at = ?
			WHERE node_id = ? AND status = 'running' AND id IN (`+placeholders(len(part))+`) RETURNING `+runCols,
			append([]any{store.Unclaimed, p.Dead, at, p.Dead}, anys(part)...)...)
		if err != nil {
			return nil, nil, err
		}
		unclaimed = append(unclaimed, rs...)
	}
	sqlcommon.SortRuns(recovered)
	sqlcommon.SortRuns(unclaimed)
	return recovered, unclaimed, nil
}

// eachRow calls fn with the two text columns of each row.
func eachRow(ctx context.Context, tx *sql.Tx, fn func(a, b string), query string, args ...any) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var a, b string
		if err := rows.Scan(&a, &b); err != nil {
			return err
		}
		fn(a, b)
	}
	return rows.Err()
}

// ClaimUnclaimed claims or abandons the runs recoveries handed back.
func (s *Store) ClaimUnclaimed(ctx context.Context, p store.ClaimUnclaimedParams) (store.Recovery, error) {
	if err := sqlcommon.ID("node id", p.Node); err != nil {
		return store.Recovery{}, fmt.Errorf("claim unclaimed runs: %w", err)
	}
	var one int
	err := s.reader.QueryRowContext(ctx, `SELECT 1 FROM runs WHERE node_id = ? AND status = 'running' LIMIT 1`,
		store.Unclaimed).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Recovery{}, nil
	}
	if err != nil {
		return store.Recovery{}, fmt.Errorf("claim unclaimed runs: %w", err)
	}
	now := store.NowOr(p.Now)
	at := micros(now)
	var rec store.Recovery
	err = s.write(ctx, func(tx *sql.Tx) error {
		rec = store.Recovery{}
		type cand struct {
			id, schedule string
			started      int64
			known        bool
		}
		var cands []cand
		rows, err := tx.QueryContext(ctx, `SELECT r.id, r.schedule_id, r.started_at,
				EXISTS (SELECT 1 FROM triggers t WHERE t.schedule_id = r.schedule_id)
			FROM runs r WHERE r.node_id = ? AND r.status = 'running'`, store.Unclaimed)
		if err != nil {
			return err
		}
		for rows.Next() {
			var c cand
			if err := rows.Scan(&c.id, &c.schedule, &c.started, &c.known); err != nil {
				rows.Close()
				return err
			}
			cands = append(cands, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		var mine []string
		for _, c := range cands {
			claim, reason := sqlcommon.UnclaimedVerdict(p, c.schedule, c.known, now.Sub(time.UnixMicro(c.started)))
			switch {
			case claim:
				mine = append(mine, c.id)
			case reason != "":
				ab, err := abandonLocked(ctx, tx, store.Unclaimed, []string{c.id}, false, at, reason)
				if err != nil {
					return fmt.Errorf("abandon runs: %w", err)
				}
				rec.Abandoned = append(rec.Abandoned, ab...)
			}
		}
		for _, part := range chunk(mine, 500) {
			rs, err := queryRuns(ctx, tx, `UPDATE runs SET node_id = ?, recovery = 1, attempt = attempt + 1, started_at = ?
				WHERE node_id = ? AND status = 'running' AND id IN (`+placeholders(len(part))+`) RETURNING `+runCols,
				append([]any{p.Node, at, store.Unclaimed}, anys(part)...)...)
			if err != nil {
				return err
			}
			rec.Recovered = append(rec.Recovered, rs...)
		}
		sqlcommon.SortRuns(rec.Recovered)
		sqlcommon.SortRuns(rec.Abandoned)
		return nil
	})
	if err != nil {
		return store.Recovery{}, fmt.Errorf("claim unclaimed runs: %w", err)
	}
	return rec, nil
}
