package managed_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"sundial/engine/managed"
	"sundial/engine/script"
	"sundial/engine/store"
)

// TestScriptResources runs openidm.create, read, update, patch, query and
// delete from a real script on a real store, with the revision checks.
func TestScriptResources(t *testing.T) {
	objs := openObjects(t)
	res := managed.Resources{Objects: objs, Declared: func(typ string) bool { return typ == "user" }}
	engine := script.New(script.Config{})
	run := func(src string) (any, error) {
		spec, err := script.ParseSpec(map[string]any{"type": "text/javascript", "source": src})
		if err != nil {
			t.Fatal(err)
		}
		return engine.Run(context.Background(), spec, script.Request{Resources: res})
	}
	got, err := run(`
		var c = openidm.create("managed/user", "bjensen", {userName: "bjensen", n: 1});
		var r = openidm.read("managed/user/bjensen");
		var u = openidm.update("managed/user/bjensen", r._rev, {userName: "bjensen", n: 2});
		var p = openidm.patch("managed/user/bjensen", null, [{operation: "increment", field: "/n", value: 3}]);
		openidm.create("managed/user", null, {userName: "other"});
		var q = openidm.query("managed/user", {_queryFilter: 'userName eq "BJENSEN"'});
		var stale;
		try { openidm.update("managed/user/bjensen", r._rev, {}); } catch (e) { stale = String(e); }
		var d = openidm.delete("managed/user/bjensen", null);
		[c._rev, u._rev, p.n, q.resultCount, q.result[0]._id, stale.indexOf("conflict") >= 0,
		 d.n, openidm.read("managed/user/bjensen") === null].join(",")`)
	if err != nil {
		t.Fatal(err)
	}
	if want := "1,2,5,1,bjensen,true,5,true"; got != want {
		t.Fatalf("got %v, want %s", got, want)
	}
	_, err = run(`openidm.read("managed/device/1")`)
	if !errors.Is(err, managed.ErrUnknownType) || !strings.Contains(err.Error(), "managed/device") {
		t.Fatalf("undeclared type: %v", err)
	}
	_, err = run(`openidm.patch("managed/user/x", null, {operation: "replace"})`)
	if err == nil || !strings.Contains(err.Error(), "patch") {
		t.Fatalf("bad patch: %v", err)
	}
}

// TestScriptActions runs openidm.action on managed objects, directly and
// in a unit of work: create, patch by query, and an unsupported action.
func TestScriptActions(t *testing.T) {
	objs := openObjects(t)
	res := managed.Resources{Objects: objs, Declared: func(typ string) bool { return typ == "user" }}
	engine := script.New(script.Config{})
	for _, tc := range []struct {
		name string
		res  script.Resources
		unit *managed.Unit
	}{
		{"direct", res, nil},
		{"unit", nil, managed.NewUnit(res)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.res
			if tc.unit != nil {
				r = tc.unit
			}
			spec, err := script.ParseSpec(map[string]any{"type": "text/javascript", "source": `
				openidm.action("managed/user", "create", {userName: "a-` + tc.name + `", group: "` + tc.name + `"}, {_id: "a-` + tc.name + `"});
				openidm.action("managed/user", "create", {userName: "b-` + tc.name + `", group: "` + tc.name + `"}, {});
				var p = openidm.action("managed/user", "patch", {operations: [{operation: "replace", field: "/active", value: false}]},
					{_queryFilter: 'group eq "` + tc.name + `"'});
				var unsupported;
				try { openidm.action("managed/user", "triggerSyncCheck", {}, {}); } catch (e) { unsupported = String(e); }
				[p.resultCount, p.result.length ? p.result[0].active : "", unsupported.indexOf("support create and patch") >= 0].join(",")`})
			if err != nil {
				t.Fatal(err)
			}
			got, err := engine.Run(context.Background(), spec, script.Request{Resources: r})
			if err != nil {
				t.Fatal(err)
			}
			// In a unit, the patch by query sees the store, not the unit's
			// creates: nothing is patched until the unit commits.
			want := "2,false,true"
			if tc.unit != nil {
				want = "0,,true"
				if _, err := objs.CommitObjectUnits(context.Background(), store.CommitObjectUnitsParams{
					Units: []store.ObjectUnit{{Writes: tc.unit.Writes()}}}); err != nil {
					t.Fatal(err)
				}
			}
			if got != want {
				t.Errorf("got %v, want %s", got, want)
			}
			if o, err := objs.ReadObject(context.Background(), store.ReadObjectParams{Type: "user", ID: "a-" + tc.name}); err != nil || o.Content["group"] != tc.name {
				t.Errorf("created object: %+v %v", o, err)
			}
		})
	}
}

// TestScheduleScriptsHaveOpenidm: the script service's scripts get
// openidm on the managed objects when the engine is given them; without,
// they have no openidm.
func TestScheduleScriptsHaveOpenidm(t *testing.T) {
	objs := openObjects(t)
	res := managed.Resources{Objects: objs, Declared: func(typ string) bool { return typ == "user" }}
	ic := map[string]any{"script": map[string]any{"type": "text/javascript",
		"source": `openidm.create("managed/user", "from-schedule", {userName: "s"});`}}
	if err := script.New(script.Config{}).InvokeSchedule(context.Background(), "s", "", ic, nil); err == nil || !strings.Contains(err.Error(), "openidm") {
		t.Errorf("without resources: %v, want openidm undefined", err)
	}
	if err := script.New(script.Config{ScheduleResources: res}).InvokeSchedule(context.Background(), "s", "", ic, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := objs.ReadObject(context.Background(), store.ReadObjectParams{Type: "user", ID: "from-schedule"}); err != nil {
		t.Errorf("the schedule's script created nothing: %v", err)
	}
}
