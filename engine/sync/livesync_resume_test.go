package sync_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"sundial/engine/store"
	"sundial/engine/sync"
)

// stopAfterCreates is managed objects that cancel a pass's context at the
// create after the first n, as a process killed between two changes.
type stopAfterCreates struct {
	store.Objects
	n      int
	cancel context.CancelFunc
}

func (s *stopAfterCreates) CreateObjects(ctx context.Context, p store.CreateObjectsParams) ([]store.CreateObjectResult, error) {
	if s.n == 0 {
		s.cancel()
		return nil, context.Canceled
	}
	s.n--
	return s.Objects.CreateObjects(ctx, p)
}

// TestLiveSyncCSVResumesMidPass: a liveSync pass stopped after k of a CSV
// file's changes leaves the stage at the k-th change's token; the next
// node's pass delivers exactly the changes after it, so no change is
// synced twice.
func TestLiveSyncCSVResumesMidPass(t *testing.T) {
	const src = "system/csv/account"
	newRows := []string{"u1,u1,u1@example.com", "u2,u2,u2@example.com", "u3,u3,u3@example.com", "u4,u4,u4@example.com"}
	for k := 1; k < len(newRows); k++ {
		t.Run(fmt.Sprintf("stopped after %d", k), func(t *testing.T) {
			p := csvProject(t, "", backends[0].open)
			if _, err := p.start(t).liveSync(t, src); err != nil {
				t.Fatal(err)
			}
			p.write(t, "data/users.csv", csvRows(append([]string{"bjensen,bjensen,bjensen@example.com", "scarter,scarter,scarter@example.com"}, newRows...)...))
			n := p.start(t)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			n.managed = &stopAfterCreates{Objects: n.managed, n: k, cancel: cancel}
			if _, err := n.svc.LiveSync(ctx, sync.LiveSyncParams{Source: src}); err == nil {
				t.Fatal("the stopped pass did not fail")
			}
			if got := len(p.users(t)); got != k {
				t.Fatalf("%d users after the stopped pass, want %d", got, k)
			}
			restarted := p.start(t)
			if _, err := restarted.liveSync(t, src); err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, r := range newRows {
				u := strings.Split(r, ",")
				want = append(want, u[0]+" "+u[1]+" "+u[2])
			}
			if got := p.users(t); strings.Join(got, "; ") != strings.Join(want, "; ") {
				t.Errorf("users %q, want %q", got, want)
			}
			audit, err := restarted.svc.SyncAudit(t.Context(), "csvAccounts_managedUser")
			if err != nil {
				t.Fatal(err)
			}
			var synced []string
			for _, a := range audit {
				if a["status"] == "SUCCESS" {
					synced = append(synced, a["sourceObjectId"].(string)+" "+a["situation"].(string)+" "+a["action"].(string))
				}
			}
			sort.Strings(synced)
			var wantSynced []string
			for _, r := range newRows {
				wantSynced = append(wantSynced, src+"/"+strings.Split(r, ",")[0]+" ABSENT CREATE")
			}
			if strings.Join(synced, "\n") != strings.Join(wantSynced, "\n") {
				t.Errorf("changes synced:\n%s\nwant each once:\n%s", strings.Join(synced, "\n"), strings.Join(wantSynced, "\n"))
			}
		})
	}
}
