package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"sundial/engine/store"
	"sundial/engine/store/internal/claimrule"
)

// ClaimFires records the fires that nodes' own schedulers found due; see
// store.Store. The write transaction holds SQLite's write lock from its
// start, so the decision is taken on the latest state and concurrent claims
// (other handles, other processes) run one after the other. The winners are
// written with one UPDATE and one INSERT over JSON arrays.
func (s *Store) ClaimFires(ctx context.Context, p store.ClaimFiresParams) ([]store.ClaimResult, error) {
	fires, err := claimrule.Check(p)
	if err != nil {
		return nil, fmt.Errorf("claim fires: %w", err)
	}
	if len(fires) == 0 {
		return []store.ClaimResult{}, nil
	}
	ids, fireIDs := claimrule.Keys(fires)
	var results []store.ClaimResult
	err = s.write(ctx, func(tx *sql.Tx) error {
		triggers := make(map[string]*store.Trigger, len(ids))
		for _, part := range chunk(ids, 500) {
			ts, err := queryTriggers(ctx, tx, `SELECT `+triggerCols+` FROM triggers WHERE schedule_id IN (`+placeholders(len(part))+`)`, anys(part)...)
			if err != nil {
				return fmt.Errorf("read triggers: %w", err)
			}
			for i := range ts {
				triggers[ts[i].ScheduleID] = &ts[i]
			}
		}
		existing := map[string]store.Run{}
		for _, part := range chunk(fireIDs, 500) {
			rs, err := queryRuns(ctx, tx, `SELECT `+runCols+` FROM runs WHERE id IN (`+placeholders(len(part))+`)`, anys(part)...)
			if err != nil {
				return fmt.Errorf("read runs: %w", err)
			}
			for _, r := range rs {
				existing[r.ID] = r
			}
		}
		var runs []store.Run
		var changed []string
		results, runs, changed = claimrule.Decide(p.Node, fires, triggers, existing)
		if len(runs) == 0 {
			return nil
		}
		type triggerJSON struct {
			ID       string `json:"id"`
			State    string `json:"state"`
			Next     *int64 `json:"next"`
			Prev     *int64 `json:"prev"`
			Times    int64  `json:"times"`
			Data     string `json:"data"`
			LastNode string `json:"lastNode"`
			Rev      int64  `json:"rev"`
			Updated  int64  `json:"updated"`
		}
		upd := make([]triggerJSON, len(changed))
		for i, id := range changed {
			t := triggers[id]
			data := string(t.Data)
			if data == "" {
				data = "null"
			}
			upd[i] = triggerJSON{ID: id, State: string(t.State), Next: microsPtr(t.NextFireAt), Prev: microsPtr(t.PrevFireAt),
				Times: t.TimesTriggered, Data: data, LastNode: t.LastNodeID, Rev: t.Revision, Updated: micros(t.UpdatedAt)}
		}
		b, err := json.Marshal(upd)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, claimUpdateSQL, string(b))
		if err != nil {
			return fmt.Errorf("advance triggers: %w", err)
		}
		if n, _ := res.RowsAffected(); n != int64(len(changed)) {
			return fmt.Errorf("advance triggers: %d of %d rows updated", n, len(changed))
		}
		rj := make([]runJSON, len(runs))
		for i, r := range runs {
			rj[i] = toRunJSON(r)
		}
		inserted, err := insertRuns(ctx, tx, rj)
		if err != nil {
			return err
		}
		if len(inserted) != len(runs) {
			// Impossible under the write lock: the runs were read in this
			// transaction.
			return fmt.Errorf("record runs: %d of %d inserted", len(inserted), len(runs))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim fires for %s: %w", p.Node, err)
	}
	return results, nil
}

// claimUpdateSQL writes the final states of claimed triggers (JSON array).
const claimUpdateSQL = `UPDATE triggers SET
		state = j.value->>'state', next_fire_at = j.value->>'next', prev_fire_at = j.value->>'prev',
		times_triggered = j.value->>'times', data = j.value->>'data', last_node_id = j.value->>'lastNode', revision = j.value->>'rev', updated_at = j.value->>'updated'
	FROM json_each(?) AS j
	WHERE triggers.schedule_id = j.value->>'id'`
