package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"sundial/engine/store"
	"sundial/engine/store/internal/sqlcommon"
)

// Node times are the database's: now() is the transaction's start, the same
// clock for every node, which is what makes skew and silence comparable.

const nodeCols = sqlcommon.NodeCols

// scanNode scans nodeCols followed by the database's now().
func scanNode(row sqlcommon.Scanner) (store.Node, error) {
	var now pgtype.Timestamptz
	return codec.Node(row, func() time.Time { return fromTS(now) }, &now)
}

func queryNodes(ctx context.Context, q querier, sql string, args ...any) ([]store.Node, error) {
	return query(ctx, q, scanNode, sql, args...)
}

// checkInSQL upserts a node row at the database's now().
var checkInSQL = sqlcommon.CheckInSQL(`($1, 'active', $2, now(), now(), $3, $4, $5, $6)`, nodeCols+`, now()`)

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
	err = s.tx(ctx, func(tx pgx.Tx) error {
		// Lock the row first, so that a recovery running concurrently is
		// either seen (WasDeclaredDead) or waits for this check-in.
		var prev, instance string
		var checked, now time.Time
		err := tx.QueryRow(ctx, `SELECT state, instance, checked_in_at, now() FROM nodes WHERE id = $1 FOR UPDATE`, p.Node).
			Scan(&prev, &instance, &checked, &now)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if err == nil && sqlcommon.InUse(p, prev, instance, now.Sub(checked)) {
			stored, err := scanNode(tx.QueryRow(ctx, `SELECT `+nodeCols+`, now() FROM nodes WHERE id = $1`, p.Node))
			if err != nil {
				return err
			}
			return &store.NodeInUseError{Node: stored}
		}
		n, err = scanNode(tx.QueryRow(ctx, checkInSQL,
			p.Node, ts(p.StartedAt), reported, p.ConfigHash, info, p.Instance))
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
	out, err := queryNodes(ctx, s.pool, `SELECT `+nodeCols+`, now() FROM nodes ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	return out, nil
}

// DeadNodes returns active nodes silent for at least Timeout.
func (s *Store) DeadNodes(ctx context.Context, p store.DeadNodesParams) ([]store.Node, error) {
	out, err := queryNodes(ctx, s.pool, `SELECT `+nodeCols+`, now() FROM nodes
		WHERE state = 'active' AND checked_in_at <= now() - $1::bigint * interval '1 microsecond' AND id <> $2
		ORDER BY id`, p.Timeout.Microseconds(), p.Exclude)
	if err != nil {
		return nil, fmt.Errorf("find dead nodes: %w", err)
	}
	return out, nil
}

// RecoverNode hands out a dead node's runs. The node's row lock serializes concurrent recoverers; the conditional updates
// hand each run out once even without it.
func (s *Store) RecoverNode(ctx context.Context, p store.RecoverNodeParams) (store.Recovery, error) {
	if err := sqlcommon.CheckRecover(p); err != nil {
		return store.Recovery{}, err
	}
	at := store.NowOr(p.Now)
	var rec store.Recovery
	err := s.tx(ctx, func(tx pgx.Tx) error {
		rec = store.Recovery{}
		var checked, now time.Time
		err := tx.QueryRow(ctx, `SELECT checked_in_at, now() FROM nodes WHERE id = $1 FOR UPDATE`, p.Dead).Scan(&checked, &now)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if err == nil && p.StaleAfter > 0 && p.Dead != p.Recoverer {
			if since := now.Sub(checked); since < p.StaleAfter {
				return fmt.Errorf("last check-in %s ago, under %s: %w", since.Round(time.Millisecond), p.StaleAfter, store.ErrNodeAlive)
			}
		}
		rec.Recovered, rec.Unclaimed, err = recoverRunsLocked(ctx, tx, p, at)
		if err != nil {
			return fmt.Errorf("claim recoverable runs: %w", err)
		}
		rec.Abandoned, err = abandonLocked(ctx, tx, p.Dead, nil, true, at, sqlcommon.RecoverReason(p))
		if err != nil {
			return err
		}
		if p.Dead != p.Recoverer {
			if _, err := tx.Exec(ctx, `UPDATE nodes SET state = 'dead', recovered_at = $2, recovered_by = $3 WHERE id = $1`,
				p.Dead, at, p.Recoverer); err != nil {
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
func recoverRunsLocked(ctx context.Context, tx pgx.Tx, p store.RecoverNodeParams, at time.Time) (recovered, unclaimed []store.Run, err error) {
	const claim = `UPDATE runs SET
				node_id = $1, recovery = true, recovered_from = $2, attempt = attempt + 1, started_at = $3
			WHERE node_id = $2 AND status = 'running' AND recoverable AND ($4::text[] IS NULL OR id = ANY($4))
			RETURNING `
	if p.Has == nil {
		recovered, err = queryRuns(ctx, tx, claim+runCols, p.Recoverer, p.Dead, at, []string(nil))
		sqlcommon.SortRuns(recovered)
		return recovered, nil, err
	}
	var mine, back []string
	rows, err := tx.Query(ctx, `SELECT id, schedule_id FROM runs WHERE node_id = $1 AND status = 'running' AND recoverable`, p.Dead)
	if err != nil {
		return nil, nil, err
	}
	for rows.Next() {
		var id, schedule string
		if err := rows.Scan(&id, &schedule); err != nil {
			rows.Close()
			return nil, nil, err
		}
		if p.Has(schedule) {
			mine = append(mine, id)
		} else {
			back = append(back, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	if len(mine) > 0 {
		if recovered, err = queryRuns(ctx, tx, claim+runCols, p.Recoverer, p.Dead, at, mine); err != nil {
			return nil, nil, err
		}
	}
	if len(back) > 0 {
		unclaimed, err = queryRuns(ctx, tx, `UPDATE runs SET node_id = $1, recovered_from = $2, started_at = $3
			WHERE node_id = $2 AND status = 'running' AND id = ANY($4) RETURNING `+runCols,
			store.Unclaimed, p.Dead, at, back)
		if err != nil {
			return nil, nil, err
		}
	}
	sqlcommon.SortRuns(recovered)
	sqlcommon.SortRuns(unclaimed)
	return recovered, unclaimed, nil
}

// ClaimUnclaimed claims or abandons the runs recoveries handed back.
func (s *Store) ClaimUnclaimed(ctx context.Context, p store.ClaimUnclaimedParams) (store.Recovery, error) {
	if err := sqlcommon.ID("node id", p.Node); err != nil {
		return store.Recovery{}, fmt.Errorf("claim unclaimed runs: %w", err)
	}
	now := store.NowOr(p.Now)
	var rec store.Recovery
	err := s.tx(ctx, func(tx pgx.Tx) error {
		rec = store.Recovery{}
		type cand struct {
			id, schedule string
			started      time.Time
			known        bool
		}
		var cands []cand
		rows, err := tx.Query(ctx, `SELECT r.id, r.schedule_id, r.started_at,
				EXISTS (SELECT 1 FROM triggers t WHERE t.schedule_id = r.schedule_id)
			FROM runs r WHERE r.node_id = $1 AND r.status = 'running'`, store.Unclaimed)
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
			claim, reason := sqlcommon.UnclaimedVerdict(p, c.schedule, c.known, now.Sub(c.started))
			switch {
			case claim:
				mine = append(mine, c.id)
			case reason != "":
				ab, err := abandonLocked(ctx, tx, store.Unclaimed, []string{c.id}, false, now, reason)
				if err != nil {
					return err
				}
				rec.Abandoned = append(rec.Abandoned, ab...)
			}
		}
		if len(mine) > 0 {
			rec.Recovered, err = queryRuns(ctx, tx, `UPDATE runs SET node_id = $1, recovery = true, attempt = attempt + 1, started_at = $2
				WHERE node_id = $3 AND status = 'running' AND id = ANY($4) RETURNING `+runCols,
				p.Node, now, store.Unclaimed, mine)
			if err != nil {
				return err
			}
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
