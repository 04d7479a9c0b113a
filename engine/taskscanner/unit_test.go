package taskscanner_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"sundial/engine/store"
)

// commitFails is a real store whose first CommitObjectUnits call fails as
// a crash before the completion batch commits would: nothing of it is
// written.
type commitFails struct {
	store.Objects
	once sync.Once
}

func (c *commitFails) CommitObjectUnits(ctx context.Context, p store.CommitObjectUnitsParams) ([]error, error) {
	failed := false
	c.once.Do(func() { failed = true })
	if failed {
		return nil, errors.New("the node died before the commit")
	}
	return c.Objects.CommitObjectUnits(ctx, p)
}

// TestTaskWritesCommitWithCompletion: a task's openidm writes and its
// completion commit together, so a completion batch that does not commit
// leaves its objects as they were (claimed, uncompleted, still active),
// not patched without a completion for the next scan to patch again.
func TestTaskWritesCommitWithCompletion(t *testing.T) {
	objs, matching := newUsers(t, 50, 1)
	s := newScanner(&commitFails{Objects: objs})
	defer s.Close()
	st := execute(t, s, sunsetContext(`openidm.patch(objectID, null, [{"operation": "increment", "field": "/runs", "value": 1}]);
openidm.patch(objectID, null, [{"operation": "replace", "field": "/accountStatus", "value": "inactive"}]);
true;`))
	lost := st.Progress.Failures
	if lost == 0 || st.Progress.Successes+lost != int64(len(matching)) {
		t.Fatalf("progress %+v, want some failures (the first batch) and the rest successes", st.Progress)
	}
	if got := query1(t, objs, `accountStatus eq "inactive" and !(sunset/task-completed pr)`); len(got) != 0 {
		t.Errorf("%d objects patched without their completion", len(got))
	}
	if got := query1(t, objs, `accountStatus eq "active" and !(sunset/task-completed pr)`); int64(len(got)) != lost {
		t.Errorf("%d objects left as they were, want %d", len(got), lost)
	}
	if got := query1(t, objs, `runs eq 1 and accountStatus eq "inactive" and sunset/task-completed pr`); int64(len(got)) != st.Progress.Successes {
		t.Errorf("%d objects completed with both patches, want %d", len(got), st.Progress.Successes)
	}
}

// TestTaskUnitSeesItsWrites: a script reads its own pending writes (its
// unit's), revision checks included; a script that fails writes nothing.
func TestTaskUnitSeesItsWrites(t *testing.T) {
	objs, matching := newUsers(t, 10, 1)
	s := newScanner(objs)
	defer s.Close()
	st := execute(t, s, sunsetContext(`var p = openidm.patch(objectID, null, [{"operation": "increment", "field": "/runs", "value": 1}]);
var again = openidm.read(objectID);
if (again.runs != 1 || again._rev != p._rev) { throw new Error("unit read " + JSON.stringify(again)); }
openidm.update(objectID, again._rev, Object.assign(again, {"accountStatus": "inactive"}));
var stale = false;
try { openidm.update(objectID, input._rev, again); } catch (e) { stale = true; }
if (!stale) { throw new Error("a stale revision was accepted"); }
if (input.userName == "u000003") { throw new Error("fails after writing"); }
true;`))
	if st.Progress.Successes != int64(len(matching)-1) || st.Progress.Failures != 1 {
		t.Fatalf("progress %+v, want %d successes and 1 failure", st.Progress, len(matching)-1)
	}
	if got := query1(t, objs, `runs eq 1 and accountStatus eq "inactive" and sunset/task-completed pr`); len(got) != len(matching)-1 {
		t.Errorf("%d objects completed with the unit's writes, want %d", len(got), len(matching)-1)
	}
	got, err := objs.ReadObject(context.Background(), store.ReadObjectParams{Type: "user", ID: "u000003"})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got.Content["runs"]) != "0" || got.Content["accountStatus"] != "active" {
		t.Errorf("the failed task's writes were committed: %v", got.Content)
	}
}
