package sync_test

import (
	"testing"

	"sundial/engine/sync"
)

// TestCorrelationForms correlates by the admin UI's expression tree, by a
// correlationScript, and per link qualifier; and runs onLink and onDelete
// (each throws unless it sees its scope, so a missing binding fails the
// entry).
func TestCorrelationForms(t *testing.T) {
	tests := []struct {
		name, mapping string
		want          []string
	}{
		{"expressionTree", `{"mappings": [{"name": "srcToTgt", "source": "managed/src", "target": "managed/tgt",
  "correlationQuery": {"type": "text/javascript", "file": "ui/correlateTreeToQueryFilter.js", "mapping": "srcToTgt",
    "expressionTree": {"all": ["userName", "mail"]}},
  "properties": [{"source": "name", "target": "userName"}, {"source": "mail", "target": "mail"}],
  "policies": [{"situation": "FOUND", "action": "LINK"}, {"situation": "ABSENT", "action": "IGNORE"}],
  "onLink": {"type": "text/javascript", "source": "if (situation !== 'FOUND' || !source || !target || targetId !== 't1') throw 'onLink scope'"},
  "runTargetPhase": false}]}`,
			[]string{"source s1 FOUND LINK SUCCESS", "source s2 ABSENT IGNORE SUCCESS"}},
		{"correlationScript", `{"mappings": [{"name": "srcToTgt", "source": "managed/src", "target": "managed/tgt",
  "correlationScript": {"type": "text/javascript", "source": "source.name === 'ann' ? [{_id: 't1'}] : []"},
  "policies": [{"situation": "FOUND", "action": "LINK"}, {"situation": "ABSENT", "action": "IGNORE"}],
  "runTargetPhase": false}]}`,
			[]string{"source s1 FOUND LINK SUCCESS", "source s2 ABSENT IGNORE SUCCESS"}},
		{"qualifiers", `{"mappings": [{"name": "srcToTgt", "source": "managed/src", "target": "managed/tgt",
  "linkQualifiers": ["user", "admin"],
  "correlationQuery": [
    {"linkQualifier": "user", "type": "text/javascript", "source": "({_queryFilter: 'userName eq \"' + source.name + '\"'})"},
    {"linkQualifier": "admin", "type": "text/javascript", "source": "({_queryFilter: 'userName eq \"admin-' + source.name + '\"'})"}],
  "policies": [{"situation": "FOUND", "action": "LINK"}, {"situation": "ABSENT", "action": "IGNORE"},
    {"situation": "UNASSIGNED", "condition": {"linkQualifier": "admin"}, "action": "DELETE"},
    {"situation": "UNASSIGNED", "action": "IGNORE"}],
  "onDelete": {"type": "text/javascript", "source": "if (linkQualifier !== 'admin' || targetId !== 't3') throw 'onDelete scope'"}}]}`,
			[]string{"source s1 FOUND LINK SUCCESS", "source s1 FOUND LINK SUCCESS", "source s2 ABSENT IGNORE SUCCESS", "source s2 ABSENT IGNORE SUCCESS",
				"target t3 UNASSIGNED DELETE SUCCESS", "target t3 UNASSIGNED IGNORE SUCCESS"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.mapping)
			f.put(t, f.src, "s1", "name", "ann", "mail", "ann@x")
			f.put(t, f.src, "s2", "name", "bob", "mail", "bob@x")
			f.put(t, f.tgt, "t1", "userName", "ann", "mail", "ann@x")
			f.put(t, f.tgt, "t2", "userName", "admin-ann")
			f.put(t, f.tgt, "t3", "userName", "stray")
			run, err := f.svc.Reconcile(t.Context(), sync.ReconParams{Mapping: "srcToTgt"})
			if err != nil || run.State() != sync.StateSuccess {
				t.Fatal(err, run.Err())
			}
			got := entries(t, f.svc, run.ID)
			if len(got) != len(tc.want) {
				t.Fatalf("entries %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("entry %d: %q, want %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}
