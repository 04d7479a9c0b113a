package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"sundial/engine/scheduler"
	"sundial/engine/store"
	"sundial/engine/trigger"
)

// The Node is the scheduler's store: here its persisted triggers, kept in
// sync with its running set, paused and resumed, and read back; its fires
// and runs are in fires.go.
var (
	_ scheduler.StateStore   = (*Node)(nil)
	_ scheduler.SkipRecorder = (*Node)(nil)
)

// stateData is the part of a trigger.State the store has no column for.
type stateData struct {
	Start       time.Time `json:"start,omitzero"`
	RepeatCount int       `json:"repeatCount"`
}

// encodeData encodes the state's Start at the store's precision, the
// precision of its NextFireAt and PrevFireAt.
func encodeData(st trigger.State) json.RawMessage {
	b, err := json.Marshal(stateData{Start: store.Normalize(st.Start), RepeatCount: st.RepeatCount})
	if err != nil { // cannot happen: a struct of a time and an int
		return nil
	}
	return b
}

// stateOf converts a stored trigger back to the scheduler's state. Every
// time in it is at the store's precision (microseconds): a Start finer than
// its Next would put a simple trigger's next fire time after Next at Start
// itself, the same fire id again.
func stateOf(t store.Trigger) scheduler.TriggerState {
	var d stateData
	if len(t.Data) > 0 {
		_ = json.Unmarshal(t.Data, &d) // written by encodeData; unknown shapes leave zeros
	}
	return scheduler.TriggerState{
		ScheduleID: t.ScheduleID,
		Hash:       t.ConfigHash,
		Paused:     t.Paused,
		State: trigger.State{
			Next:           store.Normalize(t.NextFireAt),
			Previous:       store.Normalize(t.PrevFireAt),
			TimesTriggered: int(t.TimesTriggered),
			Start:          store.Normalize(d.Start),
			RepeatCount:    d.RepeatCount,
		},
	}
}

// SyncTriggers implements scheduler.StateStore: store.UpsertTriggers.
func (n *Node) SyncTriggers(ctx context.Context, p scheduler.SyncTriggersParams) ([]scheduler.TriggerState, error) {
	defs := make([]store.TriggerDef, len(p.Triggers))
	ids := make(map[string]bool, len(p.Triggers))
	for i, t := range p.Triggers {
		defs[i] = store.TriggerDef{
			ScheduleID: t.ScheduleID,
			ConfigHash: t.Hash,
			NextFireAt: t.State.Next,
			Paused:     t.Paused,
			Data:       encodeData(t.State),
		}
		ids[t.ScheduleID] = true
	}
	var res []store.UpsertTriggerResult
	err := n.retry(ctx, func() (err error) {
		res, err = n.st.UpsertTriggers(ctx, store.UpsertTriggersParams{Triggers: defs, Now: p.Now})
		return err
	})
	if err != nil {
		n.storeFailed("sync", err)
		return nil, fmt.Errorf("store persisted triggers: %w", err)
	}
	out := make([]scheduler.TriggerState, len(res))
	for i, r := range res {
		out[i] = stateOf(r.Trigger)
	}
	n.persistedMu.Lock()
	n.persisted = ids
	n.persistedMu.Unlock()
	return out, nil
}

// DeleteTriggers implements scheduler.StateStore: store.DeleteTriggers.
func (n *Node) DeleteTriggers(ctx context.Context, p scheduler.DeleteTriggersParams) error {
	err := n.retry(ctx, func() error {
		_, err := n.st.DeleteTriggers(ctx, store.DeleteTriggersParams{ScheduleIDs: p.ScheduleIDs})
		return err
	})
	if err != nil {
		n.storeFailed("delete", err)
		return fmt.Errorf("delete stored triggers: %w", err)
	}
	n.persistedMu.Lock()
	for _, id := range p.ScheduleIDs {
		delete(n.persisted, id)
	}
	n.persistedMu.Unlock()
	return nil
}

// SetPaused implements scheduler.StateStore: store.PauseTriggers.
func (n *Node) SetPaused(ctx context.Context, p scheduler.SetPausedParams) error {
	err := n.retry(ctx, func() error {
		_, err := n.st.PauseTriggers(ctx, store.PauseTriggersParams{ScheduleIDs: p.ScheduleIDs, All: p.All, Paused: p.Paused, Now: p.Now})
		return err
	})
	if err != nil {
		n.storeFailed("pause", err)
		return fmt.Errorf("store paused flag: %w", err)
	}
	return nil
}

// adopt hands a stored trigger that refused a fire to the scheduler, unless
// another node's run holds it blocked: the scheduler then goes on with its
// own next fire, which the store takes once the run ends.
func (n *Node) adopt(t store.Trigger) {
	if n.opts.Adopt == nil || t.ScheduleID == "" || (t.State == store.TriggerBlocked && !t.Paused) {
		return
	}
	n.opts.Adopt([]scheduler.TriggerState{stateOf(t)})
}
