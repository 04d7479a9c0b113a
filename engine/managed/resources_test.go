package managed_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"sundial/engine/managed"
	"sundial/engine/script"
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
