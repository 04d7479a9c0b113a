package taskscanner_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sundial/engine/config"
	"sundial/engine/connector"
	"sundial/engine/managed"
	"sundial/engine/query"
	"sundial/engine/store"
	"sundial/engine/sync"
)

// userCopy maps managed/user onto managed/copy; the copy's status cannot
// be "locked" (its transform throws).
const userCopy = `{"mappings": [{"name": "user_copy", "source": "managed/user", "target": "managed/copy",
  "properties": [{"source": "_id", "target": "_id"}, {"source": "userName", "target": "userName"},
    {"source": "accountStatus", "target": "accountStatus",
     "transform": {"type": "text/javascript", "source": "if (source == 'locked') { throw 'refused' } source"}}]}]}`

// syncedStore is a SQLite store's managed objects written through
// SyncedObjects with the mappings of syncJSON, and the raw objects.
func syncedStore(tb testing.TB, syncJSON string, activity func() bool) (synced sync.SyncedObjects, raw store.Objects) {
	tb.Helper()
	dir := tb.TempDir()
	conf := filepath.Join(dir, "conf")
	if err := os.Mkdir(conf, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(conf, "sync.json"), []byte(syncJSON), 0o644); err != nil {
		tb.Fatal(err)
	}
	d, err := config.Load(conf, config.LoadOptions{Env: func(string) (string, bool) { return "", false }})
	if err != nil || len(d.Mappings) == 0 {
		tb.Fatalf("load: %v %v", err, d.AllErrors())
	}
	st, err := store.Open(context.Background(), filepath.Join(dir, "sundial.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	raw, _ = store.ObjectsOf(st)
	synced = sync.SyncedObjects{Objects: raw, Activity: activity}
	svc, err := sync.NewService(sync.Config{Store: st, Mappings: func() []*config.Mapping { return d.Mappings },
		Resolve: func(r string) (connector.ObjectSet, func(), error) {
			return managed.NewSet(synced, strings.TrimPrefix(r, "managed/")), nil, nil
		}})
	if err != nil {
		tb.Fatal(err)
	}
	synced.Service = func() *sync.Service { return svc }
	return synced, raw
}

// TestScanImplicitSync: through SyncedObjects, the scan's claims and its
// tasks' units are synced: the copies end as the script left the users.
// A unit whose sync fails stays committed and completed, and counts as a
// failure.
func TestScanImplicitSync(t *testing.T) {
	synced, raw := syncedStore(t, userCopy, nil)
	matching := users(t, raw, 40, 4)
	s := newScanner(synced)
	defer s.Close()
	script := `openidm.patch(objectID, null, [{"operation": "replace", "field": "/accountStatus",
		"value": input.userName == "u000004" ? "locked" : "inactive"}]); true;`
	st, err := s.Execute(t.Context(), executeParams(sunsetContext(script)))
	if err != nil {
		t.Fatal(err)
	}
	if st.Progress.Successes != int64(len(matching)-1) || st.Progress.Failures != 1 {
		t.Errorf("progress %+v, want %d successes and the locked one failed", st.Progress, len(matching)-1)
	}
	copies := query1ByType(t, raw, "copy", "true")
	if len(copies) != len(matching) {
		t.Fatalf("%d copies, want one per match (%d)", len(copies), len(matching))
	}
	for _, c := range copies {
		want := "inactive"
		if c.ID == "u000004" {
			want = "active" // its claim's sync ran, its unit's failed
		}
		if c.Content["accountStatus"] != want {
			t.Errorf("copy %s: %v, want %s", c.ID, c.Content["accountStatus"], want)
		}
	}
	locked := query1(t, raw, `accountStatus eq "locked" and /sunset/task-completed pr`)
	if len(locked) != 1 {
		t.Errorf("the unit whose sync failed: %d users locked and completed, want 1", len(locked))
	}
	if left := query1ByType(t, raw, sync.PendingSyncType, "true"); len(left) != 0 {
		t.Errorf("%d records of pending syncs left", len(left))
	}
}

func query1ByType(t testing.TB, objs store.Objects, typ, filter string) []store.Object {
	t.Helper()
	f, err := query.Parse(filter)
	if err != nil {
		t.Fatal(err)
	}
	page, err := objs.QueryObjects(t.Context(), store.QueryObjectsParams{Type: typ, Filter: f})
	if err != nil {
		t.Fatal(err)
	}
	return page.Objects
}

// BenchmarkSyncedSunsetScan is BenchmarkSunsetScan with every write
// synced (sync.SyncedObjects) through a mapping onto managed/copy: each
// match's claim (nothing to write: the mapping ignores taskState, after
// the first scan's creates) and its unit (an update of the copy), with
// the records of pending syncs.
//
// Its name keeps it out of make bench's BenchmarkSunsetScan runs, the
// million users' included.
//
//	go test -run '^$' -bench BenchmarkSyncedSunsetScan -benchtime 3x ./engine/taskscanner/
func BenchmarkSyncedSunsetScan(b *testing.B) {
	synced, raw := syncedStore(b, userCopy, nil)
	benchSunsetScan(b, synced, raw)
}

// BenchmarkSyncedSunsetScanActivity is BenchmarkSyncedSunsetScan with the
// audit/activity entries of every write, the scan's and the mapping's
// (the daemon's default): the objects read before each commit of units,
// and one more create of entries per write call.
//
//	go test -run '^$' -bench BenchmarkSyncedSunsetScanActivity -benchtime 3x ./engine/taskscanner/
func BenchmarkSyncedSunsetScanActivity(b *testing.B) {
	synced, raw := syncedStore(b, userCopy, func() bool { return true })
	benchSunsetScan(b, synced, raw)
}
