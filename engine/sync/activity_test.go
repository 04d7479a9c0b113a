package sync_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"sundial/engine/actor"
	"sundial/engine/store"
	"sundial/engine/sync"
)

// activityEntries are the stored audit/activity entries, in write order.
func activityEntries(t *testing.T, objs store.Objects) []map[string]any {
	t.Helper()
	page, err := objs.QueryObjects(t.Context(), store.QueryObjectsParams{Type: sync.AuditActivityType})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]map[string]any, len(page.Objects))
	for i, o := range page.Objects {
		out[i] = o.Content
	}
	return out
}

// TestActivityOfEveryWrite: each write method of SyncedObjects records one
// audit/activity entry per object it changed, with the operation, the
// changed fields, the revision written and ctx's actor; a write that
// fails, an internal type's and any write with Activity off record none.
func TestActivityOfEveryWrite(t *testing.T) {
	st := backends[0].open(t)
	raw, err := store.ObjectsOf(st)
	if err != nil {
		t.Fatal(err)
	}
	on := true
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	so := sync.SyncedObjects{Objects: raw, Activity: func() bool { return on }, Now: func() time.Time { return now }}
	ctx := actor.With(t.Context(), actor.Actor{UserID: "alice", TransactionID: "tx1"})
	set := func(field string, v any) func(map[string]any) (map[string]any, error) {
		return func(c map[string]any) (map[string]any, error) { c[field] = v; return c, nil }
	}
	type want struct {
		op, id, rev string
		changed     []any
	}
	for _, step := range []struct {
		name  string
		write func() error
		want  []want
	}{
		{"create two", func() error {
			_, err := so.CreateObjects(ctx, store.CreateObjectsParams{Type: "user", Objects: []store.NewObject{
				{ID: "a", Content: map[string]any{"mail": "a@x", "password": "p"}}, {ID: "b", Content: map[string]any{"mail": "b@x"}}}})
			return err
		}, []want{{"CREATE", "a", "1", []any{"/mail", "/password"}}, {"CREATE", "b", "1", []any{"/mail"}}}},
		{"update", func() error {
			_, err := so.UpdateObject(ctx, store.UpdateObjectParams{Type: "user", ID: "a", Content: map[string]any{"mail": "a2@x", "password": "p"}})
			return err
		}, []want{{"UPDATE", "a", "2", []any{"/mail"}}}},
		{"patch", func() error {
			_, err := so.ModifyObject(ctx, store.ModifyObjectParams{Type: "user", ID: "a", Modify: set("password", "q")})
			return err
		}, []want{{"PATCH", "a", "3", []any{"/password"}}}},
		{"patch many", func() error {
			_, err := so.ModifyObjects(ctx, store.ModifyObjectsParams{Type: "user", Items: []store.ModifyItem{
				{ID: "a", Modify: set("a/b", 1)}, {ID: "b", Modify: set("mail", "b@x")}}})
			return err
		}, []want{{"PATCH", "a", "4", []any{"/a~1b"}}, {"PATCH", "b", "2", []any{}}}},
		{"a write that fails", func() error {
			_, err := so.UpdateObject(ctx, store.UpdateObjectParams{Type: "user", ID: "a", IfRev: "1", Content: map[string]any{}})
			if err == nil {
				return fmt.Errorf("an update at a stale revision succeeded")
			}
			return nil
		}, nil},
		{"units", func() error {
			_, err := so.CommitObjectUnits(ctx, store.CommitObjectUnitsParams{Units: []store.ObjectUnit{
				{Writes: []store.ObjectWrite{{Type: "user", ID: "c", Content: map[string]any{"mail": "c@x"}}}},
				{Writes: []store.ObjectWrite{{Type: "user", ID: "b", Rev: "2", Content: map[string]any{"mail": "b2@x"}}}},
				{Writes: []store.ObjectWrite{{Type: "user", ID: "a", Rev: "9", Content: map[string]any{}}}},
				{Writes: []store.ObjectWrite{{Type: "internal:thing", ID: "i", Content: map[string]any{"x": 1}}}},
			}})
			return err
		}, []want{{"CREATE", "c", "1", []any{"/mail"}}, {"UPDATE", "b", "3", []any{"/mail"}}}},
		{"delete", func() error {
			_, err := so.DeleteObject(ctx, store.DeleteObjectParams{Type: "user", ID: "c"})
			return err
		}, []want{{"DELETE", "c", "1", []any{"/mail"}}}},
		{"off", func() error {
			on = false
			defer func() { on = true }()
			_, err := so.DeleteObject(ctx, store.DeleteObjectParams{Type: "user", ID: "b"})
			return err
		}, nil},
	} {
		before := len(activityEntries(t, raw))
		if err := step.write(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		got := activityEntries(t, raw)[before:]
		if len(got) != len(step.want) {
			t.Fatalf("%s: entries %v, want %v", step.name, got, step.want)
		}
		for i, w := range step.want {
			e := got[i]
			changed, _ := e["changedFields"].([]any)
			if changed == nil {
				changed = []any{}
			}
			if e["operation"] != w.op || e["objectId"] != "managed/user/"+w.id || e["revision"] != w.rev || !slices.Equal(changed, w.changed) ||
				e["userId"] != "alice" || e["runAs"] != "alice" || e["transactionId"] != "tx1" || e["timestamp"] != "2026-03-01T11:00:00Z" ||
				e["passwordChanged"] != slices.Contains(w.changed, "/password") {
				t.Errorf("%s: entry %d: %v, want %+v", step.name, i, e, w)
			}
		}
	}
}

// TestActivityActor: a write whose context names no actor is
// InitiatedBy's, else the system's, each call in a transaction of its
// own.
func TestActivityActor(t *testing.T) {
	raw, err := store.ObjectsOf(backends[0].open(t))
	if err != nil {
		t.Fatal(err)
	}
	always := func() bool { return true }
	for i, tc := range []struct {
		initiatedBy, want string
	}{{"import", "import"}, {"", actor.System}} {
		so := sync.SyncedObjects{Objects: raw, Activity: always, InitiatedBy: tc.initiatedBy}
		if _, err := so.CreateObjects(context.Background(), store.CreateObjectsParams{Type: "user",
			Objects: []store.NewObject{{ID: fmt.Sprint(i), Content: map[string]any{}}}}); err != nil {
			t.Fatal(err)
		}
	}
	got := activityEntries(t, raw)
	if len(got) != 2 || got[0]["userId"] != "import" || got[1]["userId"] != actor.System ||
		got[0]["transactionId"] == "" || got[0]["transactionId"] == got[1]["transactionId"] {
		t.Errorf("entries %v", got)
	}
}

func TestActivityEnabled(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  bool
	}{{"", false}, {"true", true}, {" TRUE ", true}, {"1", true}, {"false", false}, {"0", false}, {"maybe", false}} {
		props := map[string]string{}
		if tc.value != "" {
			props[sync.ActivityEnabledProperty] = tc.value
		}
		if got := sync.ActivityEnabled(props); got != tc.want {
			t.Errorf("%s=%q: %v, want %v", sync.ActivityEnabledProperty, tc.value, got, tc.want)
		}
	}
}
