// Package storeutil holds the parameter checks and defaults every backend
// applies the same way, so that they reject the same inputs with the same
// errors.
package storeutil

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"sundial/engine/store"
)

// DefaultLimit is the batch size or page size when a Limit is zero.
const DefaultLimit = 100

// Limit returns n, or DefaultLimit when n <= 0.
func Limit(n int) int {
	if n <= 0 {
		return DefaultLimit
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

// NullTime maps the zero time to nil and others to Normalize(t), for NULL
// columns.
func NullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	n := store.Normalize(t)
	return &n
}

// UpsertOrder returns the indexes of defs sorted by schedule id, so that
// concurrent upserts of the same set lock rows in the same order (no
// deadlocks), and rejects invalid or duplicate definitions.
func UpsertOrder(defs []store.TriggerDef) ([]int, []string, error) {
	order := make([]int, len(defs))
	defsJSON := make([]string, len(defs))
	seen := make(map[string]bool, len(defs))
	for i, d := range defs {
		if err := ID("trigger schedule id", d.ScheduleID); err != nil {
			return nil, nil, err
		}
		if seen[d.ScheduleID] {
			return nil, nil, store.Invalidf("trigger %q given twice", d.ScheduleID)
		}
		seen[d.ScheduleID] = true
		js, err := JSON("trigger "+d.ScheduleID+" definition", d.Definition)
		if err != nil {
			return nil, nil, err
		}
		defsJSON[i] = js
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return defs[order[a]].ScheduleID < defs[order[b]].ScheduleID })
	return order, defsJSON, nil
}

// InitialState is the state of a trigger with this next fire time.
func InitialState(next time.Time) store.TriggerState {
	if next.IsZero() {
		return store.TriggerComplete
	}
	return store.TriggerWaiting
}

// CheckFire validates one CompleteFire and fills its defaults.
func CheckFire(f *store.CompleteFire) error {
	if err := ID("fire schedule id", f.ScheduleID); err != nil {
		return err
	}
	if f.Status == "" {
		f.Status = store.RunRunning
	}
	if f.Status != store.RunRunning && !f.Status.Terminal() {
		return store.Invalidf("fire %s: unknown run status %q", f.ScheduleID, f.Status)
	}
	f.StartedAt = store.NowOr(f.StartedAt)
	f.ScheduledAt = store.Normalize(f.ScheduledAt)
	f.NextFireAt = store.Normalize(f.NextFireAt)
	if f.Status.Terminal() {
		f.Block = false
	}
	return nil
}

// FireState is the trigger state after a fire.
func FireState(f store.CompleteFire) store.TriggerState {
	switch {
	case f.NextFireAt.IsZero():
		return store.TriggerComplete
	case f.Block:
		return store.TriggerBlocked
	}
	return store.TriggerWaiting
}

// CheckStartRun validates StartRunParams and fills their defaults.
func CheckStartRun(p *store.StartRunParams) error {
	if err := ID("run schedule id", p.ScheduleID); err != nil {
		return err
	}
	if err := ID("run node", p.Node); err != nil {
		return err
	}
	if p.ScheduledAt.IsZero() {
		return store.Invalidf("run scheduled time is required")
	}
	p.ScheduledAt = store.Normalize(p.ScheduledAt)
	p.StartedAt = store.NowOr(p.StartedAt)
	if p.ID == "" {
		p.ID = store.FireID(p.ScheduleID, p.ScheduledAt)
	}
	if p.Status == "" {
		p.Status = store.RunRunning
	}
	if p.Status != store.RunRunning && !p.Status.Terminal() {
		return store.Invalidf("run %s: unknown status %q", p.ID, p.Status)
	}
	return nil
}

// CheckFinish validates one FinishRun and fills its defaults.
func CheckFinish(f *store.FinishRun) error {
	if err := ID("run id", f.ID); err != nil {
		return err
	}
	if !f.Status.Terminal() {
		return store.Invalidf("run %s: finish status %q is not terminal", f.ID, f.Status)
	}
	f.EndedAt = store.NowOr(f.EndedAt)
	return nil
}

// DefaultAbandonReason is recorded on runs abandoned without a reason.
const DefaultAbandonReason = "abandoned: its node stopped before the run ended"

// InUse reports whether a check-in must be refused because another live
// instance holds the node id: the stored row is in state, last checked in
// by instance, since ago.
func InUse(p store.CheckInParams, state, instance string, since time.Duration) bool {
	return p.LiveFor > 0 && instance != "" && instance != p.Instance &&
		instance != p.Replace && state == string(store.NodeActive) && since < p.LiveFor
}

// UnclaimedVerdict decides what ClaimUnclaimed does with one unclaimed run:
// claim it, or abandon it with a reason ("" and false: leave it).
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

// RecoverReason is the error recorded on runs RecoverNode abandons.
func RecoverReason(p store.RecoverNodeParams) string {
	if p.Reason != "" {
		return p.Reason
	}
	return "abandoned: node " + p.Dead + " stopped checking in during the run (not recoverable)"
}

// Acquired turns triggers just acquired into AcquireDue's result, earliest
// first.
func Acquired(ts []store.Trigger) []store.Acquired {
	sort.Slice(ts, func(i, j int) bool {
		if !ts[i].NextFireAt.Equal(ts[j].NextFireAt) {
			return ts[i].NextFireAt.Before(ts[j].NextFireAt)
		}
		return ts[i].ScheduleID < ts[j].ScheduleID
	})
	out := make([]store.Acquired, len(ts))
	for i, t := range ts {
		out[i] = store.Acquired{Trigger: t, ScheduledAt: t.NextFireAt, FireID: store.FireID(t.ScheduleID, t.NextFireAt)}
	}
	return out
}

// CheckAcquired returns an ErrConflict unless t is acquired by node at
// revision.
func CheckAcquired(t store.Trigger, node string, revision int64) error {
	if t.State == store.TriggerAcquired && t.NodeID == node && t.Revision == revision {
		return nil
	}
	holder := t.NodeID
	if holder == "" {
		holder = "no node"
	}
	return fmt.Errorf("trigger %s is %s by %s at revision %d, not acquired by %s at revision %d: %w",
		t.ScheduleID, t.State, holder, t.Revision, node, revision, store.ErrConflict)
}

// FireRun is the run CompleteFires records for f.
func FireRun(node string, f store.CompleteFire, scheduled time.Time) store.Run {
	r := store.Run{
		ID:          store.FireID(f.ScheduleID, scheduled),
		ScheduleID:  f.ScheduleID,
		ScheduledAt: store.Normalize(scheduled),
		StartedAt:   f.StartedAt,
		Node:        node,
		Status:      f.Status,
		Error:       f.Error,
		Recoverable: f.Recoverable,
		Attempt:     1,
	}
	if f.Status.Terminal() {
		r.EndedAt = f.StartedAt
	}
	return r
}

// StartedRun is the run StartRun records for p (after CheckStartRun).
func StartedRun(p store.StartRunParams) store.Run {
	r := store.Run{
		ID:          p.ID,
		ScheduleID:  p.ScheduleID,
		ScheduledAt: p.ScheduledAt,
		StartedAt:   p.StartedAt,
		Node:        p.Node,
		Status:      p.Status,
		Error:       p.Error,
		Recoverable: p.Recoverable,
		Attempt:     1,
	}
	if p.Status.Terminal() {
		r.EndedAt = p.StartedAt
	}
	return r
}

// FinishConflict explains why FinishRuns could not finish cur for node.
func FinishConflict(cur store.Run, node string) error {
	if cur.Status != store.RunRunning {
		return fmt.Errorf("finish run %s: already %s: %w", cur.ID, cur.Status, store.ErrConflict)
	}
	return fmt.Errorf("finish run %s: running on %s, not %s: %w", cur.ID, cur.Node, node, store.ErrConflict)
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

// CheckFires validates CompleteFiresParams and returns the fires with their
// defaults filled in.
func CheckFires(p store.CompleteFiresParams) ([]store.CompleteFire, error) {
	if err := ID("firing node", p.Node); err != nil {
		return nil, err
	}
	fires := make([]store.CompleteFire, len(p.Fires))
	seen := make(map[string]bool, len(p.Fires))
	for i, f := range p.Fires {
		if err := CheckFire(&f); err != nil {
			return nil, err
		}
		if seen[f.ScheduleID] {
			return nil, store.Invalidf("fire of trigger %q given twice", f.ScheduleID)
		}
		seen[f.ScheduleID] = true
		fires[i] = f
	}
	return fires, nil
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
		if err := CheckFinish(&f); err != nil {
			return nil, err
		}
		if seen[f.ID] {
			return nil, store.Invalidf("run %q given twice", f.ID)
		}
		seen[f.ID] = true
		fins[i] = f
	}
	return fins, nil
}

// SetBlockingRunID fills t.BlockingRunID: a blocked trigger waits for the run
// of its previous fire.
func SetBlockingRunID(t *store.Trigger) {
	t.BlockingRunID = ""
	if t.State == store.TriggerBlocked && !t.PrevFireAt.IsZero() {
		t.BlockingRunID = store.FireID(t.ScheduleID, t.PrevFireAt)
	}
}

// CheckReleases validates ReleaseTriggersParams and returns the items with
// their times normalized.
func CheckReleases(p store.ReleaseTriggersParams) ([]store.ReleaseTrigger, error) {
	if err := ID("releasing node", p.Node); err != nil {
		return nil, err
	}
	rels := make([]store.ReleaseTrigger, len(p.Triggers))
	seen := make(map[string]bool, len(p.Triggers))
	for i, r := range p.Triggers {
		if err := ID("released trigger schedule id", r.ScheduleID); err != nil {
			return nil, err
		}
		if seen[r.ScheduleID] {
			return nil, store.Invalidf("release of trigger %q given twice", r.ScheduleID)
		}
		seen[r.ScheduleID] = true
		r.NextFireAt = store.Normalize(r.NextFireAt)
		rels[i] = r
	}
	return rels, nil
}

// CheckClaims validates ClaimFiresParams and returns the fires with their
// defaults filled in and their times normalized.
func CheckClaims(p store.ClaimFiresParams) ([]store.ClaimFire, error) {
	if err := ID("firing node", p.Node); err != nil {
		return nil, err
	}
	fires := make([]store.ClaimFire, len(p.Fires))
	seen := make(map[string]bool, len(p.Fires))
	for i, f := range p.Fires {
		if err := ID("fire schedule id", f.ScheduleID); err != nil {
			return nil, err
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

// ClaimScheduleIDs returns the distinct schedule ids of fires, sorted (the
// order rows are locked in, so that concurrent claims cannot deadlock), and
// their fire ids.
func ClaimScheduleIDs(fires []store.ClaimFire) (ids, fireIDs []string) {
	seen := make(map[string]bool, len(fires))
	fireIDs = make([]string, len(fires))
	for i, f := range fires {
		fireIDs[i] = f.FireID
		if !seen[f.ScheduleID] {
			seen[f.ScheduleID] = true
			ids = append(ids, f.ScheduleID)
		}
	}
	sort.Strings(ids)
	return ids, fireIDs
}

// DecideClaims decides ClaimFires for fires, in order, given the locked
// triggers by schedule id and the runs already recorded under their fire
// ids. It advances the triggers in place (a later fire of the same schedule
// sees the earlier one) and returns the results and the runs to insert.
// Triggers changed are listed in changed, in order of first change.
func DecideClaims(node string, fires []store.ClaimFire, triggers map[string]*store.Trigger,
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
		if err := claimConflict(*t, f); err != nil {
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
		t.NodeID, t.AcquiredAt, t.LastNodeID = "", time.Time{}, node
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

// claimConflict says why t refuses the fire f, or nil.
func claimConflict(t store.Trigger, f store.ClaimFire) error {
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

// AbandonReason is the error recorded on runs AbandonRuns abandons.
func AbandonReason(reason string) string {
	if reason == "" {
		return DefaultAbandonReason
	}
	return reason
}

// AcquireWindow validates AcquireParams and returns the acquisition time and
// the latest next fire time it takes.
func AcquireWindow(p store.AcquireParams) (now, horizon time.Time, err error) {
	if err := ID("acquiring node", p.Node); err != nil {
		return now, horizon, err
	}
	now = store.NowOr(p.Now)
	horizon = now
	if !p.NoLaterThan.IsZero() {
		horizon = store.Normalize(p.NoLaterThan)
	}
	return now, horizon, nil
}

// CheckCreateSchedule validates CreateScheduleParams and returns the config
// as stored.
func CheckCreateSchedule(p store.CreateScheduleParams) (string, error) {
	if err := ID("schedule id", p.ID); err != nil {
		return "", fmt.Errorf("create schedule: %w", err)
	}
	cfg, err := JSON("schedule config", p.Config)
	if err != nil {
		return "", fmt.Errorf("create schedule %s: %w", p.ID, err)
	}
	return cfg, nil
}

// RevisionConflict is the error of a schedule change that expected revision
// but found cur.
func RevisionConflict(cur, revision int64) error {
	return fmt.Errorf("revision is %d, not %d: %w", cur, revision, store.ErrConflict)
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
