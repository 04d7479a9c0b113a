package taskscanner_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"sundial/engine/store"
)

// writesBeforeFirstBatch is a real store that, on its first
// CommitObjectUnits call (the first batch claim), first runs before: other writers' changes landing
// between the scan's query and its batch claim.
type writesBeforeFirstBatch struct {
	store.Objects
	once   sync.Once
	before func()
}

func (w *writesBeforeFirstBatch) CommitObjectUnits(ctx context.Context, p store.CommitObjectUnitsParams) ([]error, error) {
	w.once.Do(w.before)
	return w.Objects.CommitObjectUnits(ctx, p)
}

// TestBatchClaimRevisionChecks: the batch claim checks each object's
// revision against the one the query read. An object changed since is
// read again: claimed if it still matches and nobody owns it, left alone
// if another scan completed it or owns it now.
func TestBatchClaimRevisionChecks(t *testing.T) {
	objs, matching := newUsers(t, 20, 1)
	// A minute ago: within the recovery timeout, and never the scan's own
	// stamp (which the same millisecond would give).
	other := time.Now().Add(-time.Minute).UTC().Format("2006-01-02T15:04:05.000Z")
	w := &writesBeforeFirstBatch{Objects: objs, before: func() {
		setField(t, objs, "u000000", func(c map[string]any) { c["mail"] = "changed@example.com" })
		setField(t, objs, "u000001", func(c map[string]any) {
			c["sunset"].(map[string]any)["task-started"] = other
			c["sunset"].(map[string]any)["task-completed"] = other
		})
		setField(t, objs, "u000002", func(c map[string]any) {
			c["sunset"].(map[string]any)["task-started"] = other
			c["sunset"].(map[string]any)["task-completed"] = nil
		})
	}}
	s := newScanner(w)
	defer s.Close()
	st := execute(t, s, sunsetContext(sunsetScript))
	if want := int64(len(matching) - 2); st.Progress.Successes != want || st.Progress.Failures != 0 {
		t.Fatalf("progress %+v, want %d successes", st.Progress, want)
	}
	for id, want := range map[string]string{"u000000": "inactive", "u000001": "active", "u000002": "active", "u000003": "inactive"} {
		got, err := objs.ReadObject(context.Background(), store.ReadObjectParams{Type: "user", ID: id})
		if err != nil {
			t.Fatal(err)
		}
		if got.Content["accountStatus"] != want {
			t.Errorf("%s: accountStatus %v, want %s", id, got.Content["accountStatus"], want)
		}
	}
	if got := query1(t, objs, `/sunset/task-started eq "`+other+`"`); len(got) != 2 {
		t.Errorf("%d objects keep the other scan's claim, want 2", len(got))
	}
}
