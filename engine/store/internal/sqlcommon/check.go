package sqlcommon

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"sundial/engine/store"
)

// DefaultListLimit is ListRuns' page size when Limit is zero.
const DefaultListLimit = 100

// ListLimit returns n, or DefaultListLimit when n <= 0.
func ListLimit(n int) int {
	if n <= 0 {
		return DefaultListLimit
	}
	return n
}

// JSON returns raw as it is stored: "null" for empty, an error for invalid
// JSON.
func JSON(what string, raw json.RawMessage) (string, error) {
	if len(raw) == 0 {
		return "null", nil
	}
	if !json.Valid(raw) {
		return "", store.Invalidf("%s is not valid JSON", what)
	}
	return string(raw), nil
}

// ID checks that a required id is set.
func ID(what, id string) error {
	if id == "" {
		return store.Invalidf("%s is required", what)
	}
	return nil
}

// UpsertOrder returns the indexes of defs sorted by schedule id, so that
// concurrent upserts of the same set lock rows in the same order (no
// deadlocks), with each definition and data as stored; it rejects invalid
// or duplicate definitions.
func UpsertOrder(defs []store.TriggerDef) (order []int, definitions, datas []string, _ error) {
	order = make([]int, len(defs))
	definitions, datas = make([]string, len(defs)), make([]string, len(defs))
	seen := make(map[string]bool, len(defs))
	for i, d := range defs {
		if err := ID("trigger schedule id", d.ScheduleID); err != nil {
			return nil, nil, nil, err
		}
		if seen[d.ScheduleID] {
			return nil, nil, nil, store.Invalidf("trigger %q given twice", d.ScheduleID)
		}
		seen[d.ScheduleID] = true
		var err error
		if definitions[i], err = JSON("trigger "+d.ScheduleID+" definition", d.Definition); err != nil {
			return nil, nil, nil, err
		}
		if datas[i], err = JSON("trigger "+d.ScheduleID+" data", d.Data); err != nil {
			return nil, nil, nil, err
		}
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return defs[order[a]].ScheduleID < defs[order[b]].ScheduleID })
	return order, definitions, datas, nil
}

// InitialState is the state of a trigger with this next fire time.
func InitialState(next time.Time) store.TriggerState {
	if next.IsZero() {
		return store.TriggerComplete
	}
	return store.TriggerWaiting
}

// StartedRun validates StartRunParams and returns the run StartRun records.
func StartedRun(p store.StartRunParams) (store.Run, error) {
	if err := ID("run schedule id", p.ScheduleID); err != nil {
		return store.Run{}, err
	}
	if err := ID("run node", p.Node); err != nil {
		return store.Run{}, err
	}
	if p.ScheduledAt.IsZero() {
		return store.Run{}, store.Invalidf("run scheduled time is required")
	}
	r := store.Run{
		ID:          p.ID,
		ScheduleID:  p.ScheduleID,
		ScheduledAt: store.Normalize(p.ScheduledAt),
		StartedAt:   store.NowOr(p.StartedAt),
		Node:        p.Node,
		Status:      p.Status,
		Error:       p.Error,
		Recoverable: p.Recoverable,
		Attempt:     1,
	}
	if r.ID == "" {
		r.ID = store.FireID(r.ScheduleID, r.ScheduledAt)
	}
	if r.Status == "" {
		r.Status = store.RunRunning
	}
	if r.Status != store.RunRunning && !r.Status.Terminal() {
		return store.Run{}, store.Invalidf("run %s: unknown status %q", r.ID, r.Status)
	}
	if r.Status.Terminal() {
		r.EndedAt = r.StartedAt
	}
	return r, nil
}

// CheckFinishes validates FinishRunsParams and returns the runs with their
// defaults filled in.
func CheckFinishes(p store.FinishRunsParams) ([]store.FinishRun, error) {
	if err := ID("finishing node", p.Node); err != nil {
		return nil, err
	}
	fins := make([]store.FinishRun, len(p.Runs))
	seen := make(map[string]bool, len(p.Runs))
	for i, f := range p.Runs {
		if err := ID("run id", f.ID); err != nil {
			return nil, err
		}
		if !f.Status.Terminal() {
			return nil, store.Invalidf("run %s: finish status %q is not terminal", f.ID, f.Status)
		}
		if seen[f.ID] {
			return nil, store.Invalidf("run %q given twice", f.ID)
		}
		seen[f.ID] = true
		f.EndedAt = store.NowOr(f.EndedAt)
		fins[i] = f
	}
	return fins, nil
}

// FinishConflict explains why FinishRuns could not finish cur for node.
func FinishConflict(cur store.Run, node string) error {
	if cur.Status != store.RunRunning {
		return fmt.Errorf("finish run %s: already %s: %w", cur.ID, cur.Status, store.ErrConflict)
	}
	return fmt.Errorf("finish run %s: running on %s, not %s: %w", cur.ID, cur.Node, node, store.ErrConflict)
}

// AbandonReason is the error recorded on runs AbandonRuns abandons.
func AbandonReason(reason string) string {
	if reason == "" {
		return "abandoned: its node stopped before the run ended"
	}
	return reason
}

// Prune is PruneRunsParams with the defaults applied: keep < 0 means no
// limit by count, a zero before no limit by age.
type Prune struct {
	Keep   int
	Before time.Time
	Limit  int
}

// CheckPrune applies PruneRunsParams' defaults.
func CheckPrune(p store.PruneRunsParams) Prune {
	out := Prune{Keep: p.KeepPerSchedule, Before: store.Normalize(p.EndedBefore), Limit: p.Limit}
	if out.Keep == 0 {
		out.Keep = store.DefaultKeepPerSchedule
	}
	if out.Limit <= 0 {
		out.Limit = store.DefaultPruneLimit
	}
	return out
}

// InUse reports whether a check-in must be refused because another live
// instance holds the node id: the stored row is in state, last checked in
// by instance, since ago.
func InUse(p store.CheckInParams, state, instance string, since time.Duration) bool {
	return p.LiveFor > 0 && instance != "" && instance != p.Instance &&
		instance != p.Replace && state == string(store.NodeActive) && since < p.LiveFor
}

// CheckRecover validates RecoverNodeParams.
func CheckRecover(p store.RecoverNodeParams) error {
	if err := ID("dead node", p.Dead); err != nil {
		return fmt.Errorf("recover node: %w", err)
	}
	if err := ID("recovering node", p.Recoverer); err != nil {
		return fmt.Errorf("recover node %s: %w", p.Dead, err)
	}
	return nil
}

// RecoverReason is the error recorded on runs RecoverNode abandons.
func RecoverReason(p store.RecoverNodeParams) string {
	if p.Reason != "" {
		return p.Reason
	}
	return "abandoned: node " + p.Dead + " stopped checking in during the run (not recoverable)"
}

// UnclaimedVerdict decides what ClaimUnclaimed does with one unclaimed run:
// claim it, or abandon it with a reason ("" and false: leave it). known
// tells whether a trigger is stored under the schedule id.
func UnclaimedVerdict(p store.ClaimUnclaimedParams, schedule string, known bool, waited time.Duration) (claim bool, abandon string) {
	switch {
	case p.Has == nil || p.Has(schedule):
		return true, ""
	case !known:
		return false, "abandoned: schedule " + schedule + " is in no node's configuration (it was removed); the interrupted run was not recovered"
	case p.AbandonAfter > 0 && waited >= p.AbandonAfter:
		return false, "abandoned: no node with schedule " + schedule + " in its configuration recovered the interrupted run within " + p.AbandonAfter.String()
	}
	return false, ""
}

// SortRuns orders runs as ListRuns does: newest scheduled time first.
func SortRuns(rs []store.Run) {
	sort.Slice(rs, func(i, j int) bool {
		if !rs[i].ScheduledAt.Equal(rs[j].ScheduledAt) {
			return rs[i].ScheduledAt.After(rs[j].ScheduledAt)
		}
		return rs[i].ID > rs[j].ID
	})
}

// SortTriggers orders triggers by schedule id.
func SortTriggers(ts []store.Trigger) {
	sort.Slice(ts, func(i, j int) bool { return ts[i].ScheduleID < ts[j].ScheduleID })
}
