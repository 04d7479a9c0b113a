package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"sundial/engine/store"
	"sundial/engine/store/internal/sqlcommon"
	"sundial/engine/store/internal/storeutil"
)

const triggerCols = sqlcommon.TriggerCols

var triggerColsT = prefixed("t", triggerCols)

func scanTrigger(row sqlcommon.Scanner) (store.Trigger, error) { return codec.Trigger(row) }

func queryTriggers(ctx context.Context, q querier, sql string, args ...any) ([]store.Trigger, error) {
	return query(ctx, q, scanTrigger, sql, args...)
}

// UpsertTriggers inserts or updates config-defined triggers; see store.Store.
// Rows are written in schedule id order, so that nodes upserting the same set
// at once cannot deadlock.
func (s *Store) UpsertTriggers(ctx context.Context, p store.UpsertTriggersParams) ([]store.UpsertTriggerResult, error) {
	order, defs, err := storeutil.UpsertOrder(p.Triggers)
	if err != nil {
		return nil, fmt.Errorf("upsert triggers: %w", err)
	}
	datas := make([]string, len(p.Triggers))
	for i, d := range p.Triggers {
		if datas[i], err = storeutil.JSON("trigger "+d.ScheduleID+" data", d.Data); err != nil {
			return nil, fmt.Errorf("upsert triggers: %w", err)
		}
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
				d.ScheduleID, defs[i], d.ConfigHash, string(storeutil.InitialState(next)), d.Paused, ts(next), now, datas[i])
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

// GetTrigger returns one trigger.
func (s *Store) GetTrigger(ctx context.Context, p store.GetTriggerParams) (store.Trigger, error) {
	var t store.Trigger
	err := s.withConn(ctx, func(conn *pgx.Conn) error {
		var err error
		t, err = scanTrigger(conn.QueryRow(ctx, `SELECT `+triggerCols+` FROM triggers WHERE schedule_id = $1`, p.ScheduleID))
		return err
	})
	return sqlcommon.One(t, err, pgx.ErrNoRows, "get trigger "+p.ScheduleID)
}

// ListTriggers returns triggers by schedule id.
func (s *Store) ListTriggers(ctx context.Context, p store.ListTriggersParams) ([]store.Trigger, error) {
	var out []store.Trigger
	err := s.withConn(ctx, func(conn *pgx.Conn) error {
		var err error
		out, err = queryTriggers(ctx, conn, `SELECT `+triggerCols+` FROM triggers
			WHERE ($1 = '' OR state = $1) AND ($2 = '' OR node_id = $2)
			ORDER BY schedule_id`, string(p.State), p.NodeID)
		return err
	})
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
	var n int64
	err := s.withConn(ctx, func(conn *pgx.Conn) error {
		tag, err := conn.Exec(ctx, `DELETE FROM triggers WHERE schedule_id = ANY($1)`, p.ScheduleIDs)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete triggers: %w", err)
	}
	return int(n), nil
}

// PauseTriggers pauses or resumes triggers.
func (s *Store) PauseTriggers(ctx context.Context, p store.PauseTriggersParams) ([]store.Trigger, error) {
	now := store.NowOr(p.Now)
	if p.ScheduleIDs == nil {
		p.ScheduleIDs = []string{}
	}
	var out []store.Trigger
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = queryTriggers(ctx, tx, `UPDATE triggers SET paused = $1,
				state = CASE WHEN state = 'acquired' THEN 'waiting' ELSE state END,
				node_id = NULL, acquired_at = NULL,
				revision = revision + 1, updated_at = $2
			WHERE paused <> $1 AND ($3 OR schedule_id = ANY($4))
			RETURNING `+triggerCols, p.Paused, now, p.All, p.ScheduleIDs)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pause triggers: %w", err)
	}
	storeutil.SortTriggers(out)
	return out, nil
}

// AcquireDue claims due triggers for a node. SKIP LOCKED lets concurrent
// acquirers take disjoint batches; the row lock plus the state re-check make
// each trigger acquired once.
func (s *Store) AcquireDue(ctx context.Context, p store.AcquireParams) ([]store.Acquired, error) {
	now, horizon, err := storeutil.AcquireWindow(p)
	if err != nil {
		return nil, fmt.Errorf("acquire due triggers: %w", err)
	}
	var out []store.Trigger
	err = s.withConn(ctx, func(conn *pgx.Conn) error {
		var err error
		out, err = queryTriggers(ctx, conn, acquireSQL, p.Node, now, horizon, storeutil.Limit(p.Limit))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("acquire due triggers for %s: %w", p.Node, err)
	}
	return storeutil.Acquired(out), nil
}

// CompleteFires records the fires of acquired triggers: one statement
// advances every trigger still acquired at its revision, one inserts their
// runs (ignoring fire ids already recorded); misses are explained after.
//
// The batch statements compare node ids with IS NOT DISTINCT FROM, which no
// index serves: otherwise the planner may walk the node's index (all the
// triggers or runs the node holds) once per batch row instead of looking each
// batch row up by primary key.
func (s *Store) CompleteFires(ctx context.Context, p store.CompleteFiresParams) ([]store.FireResult, error) {
	fires, err := storeutil.CheckFires(p)
	if err != nil {
		return nil, fmt.Errorf("complete fires: %w", err)
	}
	n := len(fires)
	var (
		ids     = make([]string, n)
		revs    = make([]int64, n)
		scheds  = make([]pgtype.Timestamptz, n)
		nexts   = make([]pgtype.Timestamptz, n)
		states  = make([]string, n)
		starts  = make([]time.Time, n)
		results []store.FireResult
	)
	for i, f := range fires {
		ids[i], revs[i], scheds[i], nexts[i] = f.ScheduleID, f.Revision, ts(f.ScheduledAt), ts(f.NextFireAt)
		states[i], starts[i] = string(storeutil.FireState(f)), f.StartedAt
	}
	err = s.tx(ctx, func(tx pgx.Tx) error {
		results = make([]store.FireResult, n)
		advanced, err := queryTriggers(ctx, tx, advanceSQL, p.Node, ids, revs, scheds, nexts, states, starts)
		if err != nil {
			return fmt.Errorf("advance triggers: %w", err)
		}
		byID := sqlcommon.Index(advanced, sqlcommon.TriggerID)
		var runs []store.Run
		for i, f := range fires {
			if t, ok := byID[f.ScheduleID]; ok {
				results[i].Trigger = t
				results[i].Run = storeutil.FireRun(p.Node, f, t.PrevFireAt)
				runs = append(runs, results[i].Run)
			}
		}
		inserted, err := insertRuns(ctx, tx, runs)
		if err != nil {
			return err
		}
		var missing, dupBlocked []string
		for i, f := range fires {
			switch _, ok := byID[f.ScheduleID]; {
			case !ok:
				missing = append(missing, f.ScheduleID)
			case !inserted[results[i].Run.ID]:
				results[i].Err = fmt.Errorf("fire %s: %w", results[i].Run.ID, store.ErrAlreadyFired)
				results[i].Run = store.Run{}
				if results[i].Trigger.State == store.TriggerBlocked {
					dupBlocked = append(dupBlocked, f.ScheduleID)
				}
			}
		}
		if len(dupBlocked) > 0 {
			// Nothing runs for a fire recorded before, so nothing may block.
			fixed, err := queryTriggers(ctx, tx, `UPDATE triggers SET state = 'waiting'
				WHERE schedule_id = ANY($1) RETURNING `+triggerCols, dupBlocked)
			if err != nil {
				return fmt.Errorf("unblock triggers: %w", err)
			}
			for _, t := range fixed {
				byID[t.ScheduleID] = t
			}
			for i, f := range fires {
				if results[i].Err != nil {
					results[i].Trigger = byID[f.ScheduleID]
				}
			}
		}
		if len(missing) == 0 {
			return nil
		}
		why, err := explainNotAcquired(ctx, tx, p.Node, missing)
		if err != nil {
			return err
		}
		for i, f := range fires {
			if e, ok := why[f.ScheduleID]; ok {
				results[i].Err = conflictFor(e, f.ScheduleID, f.Revision, p.Node)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("complete fires for %s: %w", p.Node, err)
	}
	return results, nil
}

// insertRuns inserts new runs in one statement, skipping ids already
// recorded, and returns the ids it inserted.
func insertRuns(ctx context.Context, q querier, runs []store.Run) (map[string]bool, error) {
	inserted := make(map[string]bool, len(runs))
	if len(runs) == 0 {
		return inserted, nil
	}
	n := len(runs)
	var (
		ids, scheds, nodes, statuses, errs = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		scheduled, started                 = make([]time.Time, n), make([]time.Time, n)
		ended                              = make([]pgtype.Timestamptz, n)
		recoverable                        = make([]bool, n)
	)
	for i, r := range runs {
		ids[i], scheds[i], nodes[i], statuses[i], errs[i] = r.ID, r.ScheduleID, r.Node, string(r.Status), r.Error
		scheduled[i], started[i], ended[i], recoverable[i] = r.ScheduledAt, r.StartedAt, ts(r.EndedAt), r.Recoverable
	}
	rows, err := q.Query(ctx, insertRunsSQL, ids, scheds, scheduled, started, ended, nodes, statuses, errs, recoverable)
	if err != nil {
		return nil, fmt.Errorf("record runs: %w", err)
	}
	defer rows.Close()
	if err := sqlcommon.AddIDs(rows, inserted); err != nil {
		return nil, fmt.Errorf("record runs: %w", err)
	}
	return inserted, nil
}

// explainNotAcquired reads the state of triggers a CAS missed; absent ids
// are missing from the map.
func explainNotAcquired(ctx context.Context, q querier, node string, ids []string) (map[string]store.Trigger, error) {
	rows, err := q.Query(ctx, `SELECT schedule_id, state, node_id, revision FROM triggers WHERE schedule_id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("read triggers: %w", err)
	}
	defer rows.Close()
	out := make(map[string]store.Trigger, len(ids))
	for rows.Next() {
		var (
			t     store.Trigger
			state string
			owner pgtype.Text
		)
		if err := rows.Scan(&t.ScheduleID, &state, &owner, &t.Revision); err != nil {
			return nil, fmt.Errorf("read triggers: %w", err)
		}
		t.State, t.NodeID = store.TriggerState(state), owner.String
		out[t.ScheduleID] = t
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read triggers: %w", err)
	}
	// Absent ids get a zero Trigger with an empty id, which conflictFor
	// reports as not found.
	for _, id := range ids {
		if _, ok := out[id]; !ok {
			out[id] = store.Trigger{}
		}
	}
	return out, nil
}

// conflictFor is the per-item error for a trigger a CAS missed.
func conflictFor(t store.Trigger, id string, revision int64, node string) error {
	if t.ScheduleID == "" {
		return fmt.Errorf("trigger %s: %w", id, store.ErrNotFound)
	}
	if err := storeutil.CheckAcquired(t, node, revision); err != nil {
		return err
	}
	return fmt.Errorf("trigger %s changed concurrently: %w", id, store.ErrConflict)
}

// ReleaseTriggers returns acquired triggers to waiting.
func (s *Store) ReleaseTriggers(ctx context.Context, p store.ReleaseTriggersParams) ([]store.ReleaseResult, error) {
	rels, err := storeutil.CheckReleases(p)
	if err != nil {
		return nil, fmt.Errorf("release triggers: %w", err)
	}
	now := store.NowOr(p.Now)
	n := len(rels)
	var (
		ids     = make([]string, n)
		revs    = make([]int64, n)
		resched = make([]bool, n)
		nexts   = make([]pgtype.Timestamptz, n)
		results []store.ReleaseResult
	)
	for i, r := range rels {
		ids[i], revs[i], resched[i], nexts[i] = r.ScheduleID, r.Revision, r.Reschedule, ts(r.NextFireAt)
	}
	err = s.tx(ctx, func(tx pgx.Tx) error {
		results = make([]store.ReleaseResult, n)
		released, err := queryTriggers(ctx, tx, releaseSQL, p.Node, now, ids, revs, resched, nexts)
		if err != nil {
			return fmt.Errorf("release: %w", err)
		}
		byID := sqlcommon.Index(released, sqlcommon.TriggerID)
		var missing []string
		for i, r := range rels {
			if t, ok := byID[r.ScheduleID]; ok {
				results[i].Trigger = t
			} else {
				missing = append(missing, r.ScheduleID)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		why, err := explainNotAcquired(ctx, tx, p.Node, missing)
		if err != nil {
			return err
		}
		for i, r := range rels {
			if e, ok := why[r.ScheduleID]; ok {
				results[i].Err = conflictFor(e, r.ScheduleID, r.Revision, p.Node)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("release triggers for %s: %w", p.Node, err)
	}
	return results, nil
}

// upsertSQL upserts one trigger ($7 created and updated time).
var upsertSQL = sqlcommon.UpsertTriggerSQL(`($1, $2, $3, $4, $5, $6, 1, $7, $7, $8)`)

// acquireSQL claims a batch of due triggers ($1 node, $2 now, $3 horizon, $4
// limit). "= ANY(ARRAY(subquery))" makes the batch an array the primary key
// is probed with, rather than a join the planner may answer by scanning the
// table.
var acquireSQL = `UPDATE triggers t
	SET state = 'acquired', node_id = $1, acquired_at = $2, revision = t.revision + 1, updated_at = $2
	WHERE t.schedule_id = ANY(ARRAY(
			SELECT schedule_id FROM triggers
			WHERE state = 'waiting' AND NOT paused AND next_fire_at <= $3
			ORDER BY next_fire_at, schedule_id
			LIMIT $4
			FOR UPDATE SKIP LOCKED))
		AND t.state = 'waiting'
	RETURNING ` + triggerColsT

// advanceSQL fires a batch of acquired triggers ($1 node, $2.. arrays).
var advanceSQL = `UPDATE triggers t SET
				state = i.state,
				prev_fire_at = COALESCE(i.sched, t.next_fire_at),
				next_fire_at = i.next,
				times_triggered = t.times_triggered + 1,
				node_id = NULL, acquired_at = NULL, last_node_id = $1,
				revision = t.revision + 1, updated_at = i.started
			FROM unnest($2::text[], $3::bigint[], $4::timestamptz[], $5::timestamptz[], $6::text[], $7::timestamptz[])
				AS i(id, rev, sched, next, state, started)
			WHERE t.schedule_id = i.id AND t.revision = i.rev AND t.state = 'acquired'
				AND t.node_id IS NOT DISTINCT FROM $1 -- not indexable: keeps the plan on the primary key
			RETURNING ` + triggerColsT

// insertRunsSQL inserts a batch of runs, skipping recorded ids.
const insertRunsSQL = sqlcommon.InsertRun + `
		SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::timestamptz[],
			$6::text[], $7::text[], $8::text[], $9::bool[])
		ON CONFLICT (id) DO NOTHING
		RETURNING id`

// releaseSQL releases a batch of acquired triggers ($1 node, $2 now, $3.. arrays).
var releaseSQL = `UPDATE triggers t SET
				state = CASE WHEN i.resched AND i.next IS NULL THEN 'complete' ELSE 'waiting' END,
				next_fire_at = CASE WHEN i.resched THEN i.next ELSE t.next_fire_at END,
				node_id = NULL, acquired_at = NULL, revision = t.revision + 1, updated_at = $2
			FROM unnest($3::text[], $4::bigint[], $5::bool[], $6::timestamptz[]) AS i(id, rev, resched, next)
			WHERE t.schedule_id = i.id AND t.revision = i.rev AND t.state = 'acquired'
				AND t.node_id IS NOT DISTINCT FROM $1 -- not indexable: keeps the plan on the primary key
			RETURNING ` + triggerColsT
