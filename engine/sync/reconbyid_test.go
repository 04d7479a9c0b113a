package sync_test

import (
	"strings"
	"testing"

	"sundial/engine/sync"
)

// TestReconByID reconciles one source id at a time, as IDM's reconById:
// only that object's entries, no target phase unless asked, and a source
// id without an object assessed as a deleted source.
func TestReconByID(t *testing.T) {
	yes := true
	cases := []struct {
		name      string
		id        string
		runTarget *bool
		want      []string
		wantLinks []string
	}{
		{name: "absent object is created and linked", id: "s-absent",
			want:      []string{"source s-absent ABSENT CREATE SUCCESS"},
			wantLinks: []string{"s-absent=c-new", "s-conf=t-conf", "s-deleted=t-srcmiss", "s-elsewhere=t-fal", "s-inv=t-inv", "s-missing=t-gone"}},
		{name: "linked object is confirmed", id: "s-conf",
			want: []string{"source s-conf CONFIRMED UPDATE SUCCESS"}},
		{name: "a gone source with a link is SOURCE_MISSING", id: "s-deleted",
			want:      []string{"source s-deleted SOURCE_MISSING UNLINK SUCCESS"},
			wantLinks: []string{"s-conf=t-conf", "s-elsewhere=t-fal", "s-inv=t-inv", "s-missing=t-gone"}},
		{name: "a gone source without a link is ALL_GONE, not reported", id: "s-never"},
		{name: "the target phase runs when asked", id: "s-conf", runTarget: &yes,
			want: []string{"source s-conf CONFIRMED UPDATE SUCCESS",
				"target t-dup1 UNASSIGNED EXCEPTION SUCCESS", "target t-dup2 UNASSIGNED EXCEPTION SUCCESS",
				"target t-fal SOURCE_MISSING UNLINK SUCCESS",
				"target t-found UNASSIGNED EXCEPTION SUCCESS",
				"target t-ignored TARGET_IGNORED REPORT SUCCESS",
				"target t-inv UNQUALIFIED DELETE SUCCESS",
				"target t-lo UNASSIGNED EXCEPTION SUCCESS",
				"target t-srcmiss SOURCE_MISSING UNLINK SUCCESS",
				"target t-unassigned UNASSIGNED EXCEPTION SUCCESS"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, mappingFile)
			f.seed(t)
			run, err := f.svc.Reconcile(t.Context(), sync.ReconParams{Mapping: "srcToTgt", SourceID: tc.id, RunTargetPhase: tc.runTarget})
			if err != nil {
				t.Fatal(err)
			}
			if run.State() != sync.StateSuccess {
				t.Fatalf("state %s: %v", run.State(), run.Err())
			}
			if got := entries(t, f.svc, run.ID); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if tc.wantLinks != nil {
				if got := links(t, f); strings.Join(got, " ") != strings.Join(tc.wantLinks, " ") {
					t.Errorf("links %v, want %v", got, tc.wantLinks)
				}
			}
			params := run.Summary()["parameters"].(map[string]any)
			if ids, _ := params["sourceIds"].([]any); len(ids) != 1 || ids[0] != tc.id || params["sourceQuery"] != nil {
				t.Errorf("parameters %v", params)
			}
			if c := run.Counts(); c.SourceTotal != 1 {
				t.Errorf("source total %d, want 1", c.SourceTotal)
			}
		})
	}
}
