package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"sundial/engine/store"
	"sundial/engine/store/internal/claimrule"
)

// errRunRaced: a run id a claim had checked free was inserted meanwhile by a
// call that does not lock the trigger (StartRun); the claim is redone.
var errRunRaced = errors.New("run id recorded concurrently")

// ClaimFires records the fires that nodes' own schedulers found due; see
// store.Store. Each round locks the triggers with FOR UPDATE SKIP LOCKED, so
// nodes claiming the same fires at the same moment never wait for each
// other: each takes the triggers it locked first, decides on their latest
// committed state, and writes its winners with one UPDATE and one INSERT.
// The fires of triggers another transaction held go to the next round,
// which sees that transaction's outcome. A round is two round trips inside
// its transaction whatever the batch size.
func (s *Store) ClaimFires(ctx context.Context, p store.ClaimFiresParams) ([]store.ClaimResult, error) {
	fires, err := claimrule.Check(p)
	if err != nil {
		return nil, fmt.Errorf("claim fires: %w", err)
	}
	results := make([]store.ClaimResult, len(fires))
	pending := make([]int, len(fires)) // indexes of fires not decided yet
	for i := range pending {
		pending[i] = i
	}
	raced := 0
	for round := 0; len(pending) > 0; round++ {
		if round > 0 {
			pause := time.Duration(min(1<<min(round-1, 6), 50)) * time.Millisecond
			select {
			case <-time.After(pause):
			case <-ctx.Done():
				return nil, fmt.Errorf("claim fires for %s: %w", p.Node, ctx.Err())
			}
		}
		batch := make([]store.ClaimFire, len(pending))
		for i, j := range pending {
			batch[i] = fires[j]
		}
		var res []store.ClaimResult
		var busy []int
		err = s.tx(ctx, func(tx pgx.Tx) error {
			var err error
			res, busy, err = claimRound(ctx, tx, p.Node, batch)
			return err
		})
		if errors.Is(err, errRunRaced) && raced < 2 {
			raced++
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("claim fires for %s: %w", p.Node, err)
		}
		isBusy := make(map[int]bool, len(busy))
		for _, b := range busy {
			isBusy[b] = true
		}
		var next []int
		for i, j := range pending {
			if isBusy[i] {
				next = append(next, j)
			} else {
				results[j] = res[i]
			}
		}
		pending = next
	}
	return results, nil
}

// claimRound decides the fires whose triggers it can lock now, and returns
// the indexes of the others (busy: locked by another transaction).
func claimRound(ctx context.Context, tx pgx.Tx, node string, fires []store.ClaimFire) ([]store.ClaimResult, []int, error) {
	ids, fireIDs := claimrule.Keys(fires)
	// Round trip 1: lock what is free, read the runs already recorded under
	// the fire ids (a later statement, so a later snapshot), and which
	// triggers exist at all.
	b := &pgx.Batch{}
	b.Queue(`SELECT `+triggerCols+` FROM triggers WHERE schedule_id = ANY($1) FOR UPDATE SKIP LOCKED`, ids)
	b.Queue(`SELECT `+runCols+` FROM runs WHERE id = ANY($1)`, fireIDs)
	b.Queue(`SELECT schedule_id FROM triggers WHERE schedule_id = ANY($1)`, ids)
	br := tx.SendBatch(ctx, b)
	triggers := make(map[string]*store.Trigger, len(ids))
	if err := scanAll(br, func(row pgx.Rows) error {
		t, err := scanTrigger(row)
		triggers[t.ScheduleID] = &t
		return err
	}); err != nil {
		_ = br.Close()
		return nil, nil, fmt.Errorf("lock triggers: %w", err)
	}
	existing := map[string]store.Run{}
	if err := scanAll(br, func(row pgx.Rows) error {
		r, err := scanRun(row)
		existing[r.ID] = r
		return err
	}); err != nil {
		_ = br.Close()
		return nil, nil, fmt.Errorf("read runs: %w", err)
	}
	present := make(map[string]bool, len(ids))
	if err := scanAll(br, func(row pgx.Rows) error {
		var id string
		err := row.Scan(&id)
		present[id] = true
		return err
	}); err != nil {
		_ = br.Close()
		return nil, nil, fmt.Errorf("read triggers: %w", err)
	}
	if err := br.Close(); err != nil {
		return nil, nil, err
	}

	var busy []int
	decide := fires
	var index []int // index in fires of each decided fire
	if len(triggers) < len(present) {
		decide = nil
		for i, f := range fires {
			if present[f.ScheduleID] && triggers[f.ScheduleID] == nil {
				busy = append(busy, i)
				continue
			}
			decide = append(decide, f)
			index = append(index, i)
		}
	}
	decided, runs, changed := claimrule.Decide(node, decide, triggers, existing)
	results := decided
	if index != nil {
		results = make([]store.ClaimResult, len(fires))
		for k, i := range index {
			results[i] = decided[k]
		}
	}
	if len(runs) == 0 {
		return results, busy, nil
	}
	if err := writeClaims(ctx, tx, triggers, changed, runs); err != nil {
		return nil, nil, err
	}
	return results, busy, nil
}

// writeClaims writes the final states of the claimed triggers (locked by
// the transaction) and the runs of the claimed fires: round trip 2.
func writeClaims(ctx context.Context, tx pgx.Tx, triggers map[string]*store.Trigger, changed []string, runs []store.Run) error {
	n := len(changed)
	var (
		tids, states, datas, lastNodes = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		nexts, prevs                   = make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n)
		times, revs                    = make([]int64, n), make([]int64, n)
		updated                        = make([]time.Time, n)
	)
	for i, id := range changed {
		t := triggers[id]
		tids[i], states[i], lastNodes[i] = id, string(t.State), t.LastNodeID
		datas[i] = string(t.Data)
		if len(t.Data) == 0 {
			datas[i] = "null"
		}
		nexts[i], prevs[i], times[i], revs[i], updated[i] = ts(t.NextFireAt), ts(t.PrevFireAt), t.TimesTriggered, t.Revision, t.UpdatedAt
	}
	m := len(runs)
	var (
		rids, rscheds, rnodes = make([]string, m), make([]string, m), make([]string, m)
		rscheduled, rstarted  = make([]time.Time, m), make([]time.Time, m)
		rrecoverable          = make([]bool, m)
	)
	for i, r := range runs {
		rids[i], rscheds[i], rnodes[i] = r.ID, r.ScheduleID, r.Node
		rscheduled[i], rstarted[i], rrecoverable[i] = r.ScheduledAt, r.StartedAt, r.Recoverable
	}
	b := &pgx.Batch{}
	b.Queue(claimUpdateSQL, tids, states, nexts, prevs, times, datas, lastNodes, revs, updated)
	b.Queue(claimInsertSQL, rids, rscheds, rscheduled, rstarted, rnodes, rrecoverable)
	br := tx.SendBatch(ctx, b)
	tag, err := br.Exec()
	if err != nil {
		_ = br.Close()
		return fmt.Errorf("advance triggers: %w", err)
	}
	if tag.RowsAffected() != int64(n) {
		_ = br.Close()
		return fmt.Errorf("advance triggers: %d of %d locked rows updated", tag.RowsAffected(), n)
	}
	tag, err = br.Exec()
	if err != nil {
		_ = br.Close()
		return fmt.Errorf("record runs: %w", err)
	}
	if err := br.Close(); err != nil {
		return err
	}
	if tag.RowsAffected() != int64(m) {
		return errRunRaced
	}
	return nil
}

// scanAll reads the next result of a batch row by row.
func scanAll(br pgx.BatchResults, fn func(pgx.Rows) error) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// claimUpdateSQL writes the final states of claimed triggers (locked by the
// transaction).
const claimUpdateSQL = `UPDATE triggers t SET
		state = i.state, next_fire_at = i.next, prev_fire_at = i.prev, times_triggered = i.times,
		data = i.data, last_node_id = i.last_node,
		revision = i.rev, updated_at = i.updated
	FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::bigint[], $6::text[],
		$7::text[], $8::bigint[], $9::timestamptz[])
		AS i(id, state, next, prev, times, data, last_node, rev, updated)
	WHERE t.schedule_id = i.id`

// claimInsertSQL records the runs of claimed fires; an id taken meanwhile is
// skipped, and the caller redoes the claim.
const claimInsertSQL = `INSERT INTO runs (id, schedule_id, scheduled_at, started_at, node_id, status, recoverable)
	SELECT id, sched, scheduled, started, node, 'running', recoverable
	FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::text[], $6::bool[])
		AS i(id, sched, scheduled, started, node, recoverable)
	ON CONFLICT (id) DO NOTHING`
