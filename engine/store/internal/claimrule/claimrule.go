// Package claimrule holds the rules that decide ClaimFires, so that every
// backend gives a fire to the same node for the same stored state: a claim
// wins only if the trigger has the claim's config hash, is waiting and not
// paused, has a next fire time not after the fire's scheduled time, and no
// run has the fire id. Backends lock and read the triggers and runs, call
// Decide, and write what it returns.
package claimrule

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"sundial/engine/store"
)

// Check validates ClaimFiresParams and returns the fires with their
// defaults filled in and their times normalized.
func Check(p store.ClaimFiresParams) ([]store.ClaimFire, error) {
	if p.Node == "" {
		return nil, store.Invalidf("firing node is required")
	}
	fires := make([]store.ClaimFire, len(p.Fires))
	seen := make(map[string]bool, len(p.Fires))
	for i, f := range p.Fires {
		if f.ScheduleID == "" {
			return nil, store.Invalidf("fire schedule id is required")
		}
		if f.ScheduledAt.IsZero() {
			return nil, store.Invalidf("fire of %s: scheduled time is required", f.ScheduleID)
		}
		f.ScheduledAt = store.Normalize(f.ScheduledAt)
		f.StartedAt = store.NowOr(f.StartedAt)
		f.NextFireAt = store.Normalize(f.NextFireAt)
		if f.FireID == "" {
			f.FireID = store.FireID(f.ScheduleID, f.ScheduledAt)
		}
		if seen[f.FireID] {
			return nil, store.Invalidf("fire %q given twice", f.FireID)
		}
		seen[f.FireID] = true
		if len(f.Data) > 0 && !json.Valid(f.Data) {
			return nil, store.Invalidf("fire %s: data is not valid JSON", f.FireID)
		}
		fires[i] = f
	}
	return fires, nil
}

// Keys returns the distinct schedule ids of fires, sorted (the order rows
// are locked in, so that concurrent claims cannot deadlock), and their fire
// ids.
func Keys(fires []store.ClaimFire) (scheduleIDs, fireIDs []string) {
	seen := make(map[string]bool, len(fires))
	fireIDs = make([]string, len(fires))
	for i, f := range fires {
		fireIDs[i] = f.FireID
		if !seen[f.ScheduleID] {
			seen[f.ScheduleID] = true
			scheduleIDs = append(scheduleIDs, f.ScheduleID)
		}
	}
	sort.Strings(scheduleIDs)
	return scheduleIDs, fireIDs
}

// Decide decides the fires, in order, given the locked triggers by schedule
// id and the runs already recorded under their fire ids. It advances the
// triggers in place (a later fire of the same schedule sees the earlier
// one) and returns the results and the runs to insert; changed lists the
// schedule ids of the triggers to write, in order of first change.
func Decide(node string, fires []store.ClaimFire, triggers map[string]*store.Trigger,
	existing map[string]store.Run) (results []store.ClaimResult, runs []store.Run, changed []string) {
	results = make([]store.ClaimResult, len(fires))
	touched := map[string]bool{}
	for i, f := range fires {
		t, ok := triggers[f.ScheduleID]
		if !ok {
			results[i].Err = fmt.Errorf("fire %s: trigger %s: %w", f.FireID, f.ScheduleID, store.ErrNotFound)
			continue
		}
		if r, dup := existing[f.FireID]; dup {
			results[i] = store.ClaimResult{Run: r, Trigger: *t, Err: fmt.Errorf("fire %s: %w", f.FireID, store.ErrAlreadyFired)}
			continue
		}
		if err := refusal(*t, f); err != nil {
			results[i] = store.ClaimResult{Trigger: *t, Err: err}
			continue
		}
		switch {
		case f.NextFireAt.IsZero():
			t.State = store.TriggerComplete
		case f.Block:
			t.State = store.TriggerBlocked
		default:
			t.State = store.TriggerWaiting
		}
		t.PrevFireAt, t.NextFireAt, t.TimesTriggered = f.ScheduledAt, f.NextFireAt, f.TimesTriggered
		if len(f.Data) > 0 {
			t.Data = f.Data
		}
		t.LastNodeID = node
		t.Revision++
		t.UpdatedAt = f.StartedAt
		SetBlockingRunID(t)
		r := store.Run{
			ID: f.FireID, ScheduleID: f.ScheduleID, ScheduledAt: f.ScheduledAt, StartedAt: f.StartedAt,
			Node: node, Status: store.RunRunning, Recoverable: f.Recoverable, Attempt: 1,
		}
		existing[f.FireID] = r
		runs = append(runs, r)
		results[i] = store.ClaimResult{Run: r, Trigger: *t}
		if !touched[t.ScheduleID] {
			touched[t.ScheduleID] = true
			changed = append(changed, t.ScheduleID)
		}
	}
	return results, runs, changed
}

// refusal says why t refuses the fire f, or nil.
func refusal(t store.Trigger, f store.ClaimFire) error {
	var why string
	switch {
	case t.ConfigHash != f.ConfigHash:
		why = fmt.Sprintf("has config hash %.12s, not %.12s", t.ConfigHash, f.ConfigHash)
	case t.Paused:
		why = "is paused"
	case t.State != store.TriggerWaiting:
		why = "is " + string(t.State)
	case t.NextFireAt.IsZero():
		why = "has no next fire time"
	case t.NextFireAt.After(f.ScheduledAt):
		why = "was fired past it: next fire " + t.NextFireAt.Format(time.RFC3339Nano)
	default:
		return nil
	}
	return fmt.Errorf("fire %s: trigger %s %s: %w", f.FireID, t.ScheduleID, why, store.ErrConflict)
}

// SetBlockingRunID fills t.BlockingRunID: a blocked trigger waits for the run
// of its previous fire.
func SetBlockingRunID(t *store.Trigger) {
	t.BlockingRunID = ""
	if t.State == store.TriggerBlocked && !t.PrevFireAt.IsZero() {
		t.BlockingRunID = store.FireID(t.ScheduleID, t.PrevFireAt)
	}
}
