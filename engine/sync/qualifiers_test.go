package sync_test

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"sundial/engine/store"
	"sundial/engine/sync"
)

// qualifierMapping's linkQualifiers script gives every qualifier when
// asked for all (the links and the target phase), and one per object
// otherwise: employees are "emp", anyone else "con".
const qualifierMapping = `{"mappings": [{
  "name": "srcToTgt", "source": "managed/src", "target": "managed/tgt", "taskThreads": 0,
  "linkQualifiers": {"type": "text/javascript",
    "source": "if (mapping !== 'srcToTgt') throw 'mapping is ' + mapping; returnAll ? ['emp', 'con'] : (object.kind === 'employee' ? ['emp'] : ['con'])"},
  "properties": [{"source": "userName", "target": "userName"}],
  "onCreate": {"type": "text/javascript", "source": "target._id = linkQualifier + '-' + source.userName"}
}]}`

// checkQualifiedEntries compares a run's audit entries, as "phase object
// qualifier situation action", with want.
func checkQualifiedEntries(t *testing.T, svc *sync.Service, run *sync.Run, want ...string) {
	t.Helper()
	if run.State() != sync.StateSuccess {
		t.Fatalf("state %s: %v", run.State(), run.Err())
	}
	got := auditLines(t, svc, run.ID, func(a map[string]any, obj string) []string {
		return []string{obj, a["linkQualifier"].(string), a["situation"].(string), a["action"].(string)}
	})
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLinkQualifiersScriptPerObject(t *testing.T) {
	f := newFixture(t, qualifierMapping)
	f.put(t, f.src, "a", "userName", "alice", "kind", "employee")
	f.put(t, f.src, "b", "userName", "bob", "kind", "contractor")
	f.put(t, f.tgt, "x", "userName", "nobody")
	run, err := f.svc.Reconcile(t.Context(), sync.ReconParams{Mapping: "srcToTgt"})
	if err != nil {
		t.Fatal(err)
	}
	checkQualifiedEntries(t, f.svc, run,
		"source managed/src/a emp ABSENT CREATE",
		"source managed/src/b con ABSENT CREATE",
		// A target no source reached is assessed in every qualifier.
		"target managed/tgt/x con UNASSIGNED EXCEPTION",
		"target managed/tgt/x emp UNASSIGNED EXCEPTION")
	var links []string
	_ = f.recons.QueryLinks(t.Context(), store.QueryLinksParams{LinkType: "srcToTgt"}, func(l store.Link) error {
		links = append(links, l.LinkQualifier+":"+l.FirstID+"="+l.SecondID)
		return nil
	})
	sort.Strings(links)
	if strings.Join(links, " ") != "con:b=con-bob emp:a=emp-alice" {
		t.Errorf("links %v", links)
	}
	// The second run finds each object's link in its own qualifier.
	again, err := f.svc.Reconcile(t.Context(), sync.ReconParams{Mapping: "srcToTgt"})
	if err != nil {
		t.Fatal(err)
	}
	checkQualifiedEntries(t, f.svc, again,
		"source managed/src/a emp CONFIRMED UPDATE",
		"source managed/src/b con CONFIRMED UPDATE",
		"target managed/tgt/x con UNASSIGNED EXCEPTION",
		"target managed/tgt/x emp UNASSIGNED EXCEPTION")
}

// TestOnUnlinkBindings: an UNLINK runs onUnlink with the hook's bindings
// (here the script throws them, so the entry's message shows them).
func TestOnUnlinkBindings(t *testing.T) {
	f := newFixture(t, `{"mappings": [{
  "name": "srcToTgt", "source": "managed/src", "target": "managed/tgt", "allowEmptySourceSet": true,
  "policies": [{"situation": "SOURCE_MISSING", "action": "UNLINK"}],
  "onUnlink": {"type": "text/javascript", "source": "throw JSON.stringify({situation: situation, linkQualifier: linkQualifier, sourceId: sourceId, targetId: targetId, source: source, target: target.userName, mapping: mappingConfig.name, reconId: context.reconId})"}
}]}`)
	f.put(t, f.tgt, "t1", "userName", "orphan")
	f.link(t, "gone", "t1")
	run, err := f.svc.Reconcile(t.Context(), sync.ReconParams{Mapping: "srcToTgt"})
	if err != nil || run.State() != sync.StateSuccess {
		t.Fatal(err, run.Err())
	}
	audit, err := f.svc.Audit(t.Context(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	var msg string
	for _, a := range audit {
		if a["entryType"] == "entry" {
			msg, _ = a["message"].(string)
		}
	}
	want, _ := json.Marshal(map[string]any{"situation": "SOURCE_MISSING", "linkQualifier": "default", "sourceId": "gone", "targetId": "t1",
		"source": nil, "target": "orphan", "mapping": "srcToTgt", "reconId": run.ID})
	// JSON.stringify keeps the order the script wrote; compare as objects.
	start := strings.Index(msg, "{")
	var got, wantObj map[string]any
	if start < 0 || json.Unmarshal([]byte(msg[start:strings.LastIndex(msg, "}")+1]), &got) != nil {
		t.Fatalf("onUnlink did not run with its bindings: message %q", msg)
	}
	_ = json.Unmarshal(want, &wantObj)
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(wantObj)
	if string(gb) != string(wb) {
		t.Errorf("onUnlink's bindings %s, want %s", gb, wb)
	}
}

// TestImplicitSyncQualifiersPerObject: a sync of one object runs in the
// qualifiers the script gives that object.
func TestImplicitSyncQualifiersPerObject(t *testing.T) {
	f := newFixture(t, qualifierMapping)
	f.put(t, f.src, "a", "userName", "alice", "kind", "employee")
	if err := f.svc.Notify(t.Context(), sync.Notification{Resource: "managed/src", ID: "a",
		NewValue: map[string]any{"_id": "a", "userName": "alice", "kind": "employee"}}); err != nil {
		t.Fatal(err)
	}
	audit, err := f.svc.SyncAudit(t.Context(), "srcToTgt")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range audit {
		got = append(got, a["linkQualifier"].(string)+" "+a["situation"].(string)+" "+a["action"].(string))
	}
	if strings.Join(got, ",") != "emp ABSENT CREATE" {
		t.Errorf("audit/sync entries %v, want one in qualifier emp", got)
	}
	if _, err := f.tgt.Read(t.Context(), "emp-alice"); err != nil {
		t.Errorf("the target of qualifier emp: %v", err)
	}
}
