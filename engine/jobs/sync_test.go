package jobs_test

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"sundial/engine/jobs"
	"sundial/engine/store"
)

// objectSync is a small real reconciliation over the store's managed
// objects: mapping "a_b" makes managed/b hold what managed/a holds (same
// ids, same content). Plans stage their changes in memory under a recon
// id until Apply writes them.
type objectSync struct {
	objects store.Objects
	mu      sync.Mutex
	staged  map[string]stagedRecon
	seq     atomic.Int64
	applies atomic.Int64
}

type stagedRecon struct {
	target  string
	changes []jobs.Change
	out     jobs.SyncOutcome
}

var _ jobs.Synchronizer = (*objectSync)(nil)

func newObjectSync(o store.Objects) *objectSync {
	return &objectSync{objects: o, staged: map[string]stagedRecon{}}
}

func (s *objectSync) all(ctx context.Context, typ string) (map[string]map[string]any, error) {
	res, err := s.objects.QueryObjects(ctx, store.QueryObjectsParams{Type: typ})
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]any{}
	for _, o := range res.Objects {
		c := map[string]any{}
		for k, v := range o.Content {
			if k != "_id" && k != "_rev" {
				c[k] = v
			}
		}
		out[o.ID] = c
	}
	return out, nil
}

func (s *objectSync) Plan(ctx context.Context, mapping string) (jobs.SyncOutcome, error) {
	src, dst, ok := strings.Cut(mapping, "_")
	if !ok {
		return jobs.SyncOutcome{}, fmt.Errorf("mapping %q: want source_target", mapping)
	}
	from, err := s.all(ctx, src)
	if err != nil {
		return jobs.SyncOutcome{}, err
	}
	to, err := s.all(ctx, dst)
	if err != nil {
		return jobs.SyncOutcome{}, err
	}
	r := stagedRecon{target: dst}
	r.out.ReconID = fmt.Sprintf("recon-%d", s.seq.Add(1))
	r.out.SourceTotal, r.out.TargetTotal = len(from), len(to)
	for id, c := range from {
		switch cur, ok := to[id]; {
		case !ok:
			r.changes = append(r.changes, jobs.Change{Action: "create", ObjectID: id, Object: c})
			r.out.Created++
		case !reflect.DeepEqual(cur, c):
			r.changes = append(r.changes, jobs.Change{Action: "update", ObjectID: id, Object: c})
			r.out.Updated++
		}
	}
	for id := range to {
		if _, ok := from[id]; !ok {
			r.changes = append(r.changes, jobs.Change{Action: "delete", ObjectID: id})
			r.out.Deleted++
		}
	}
	sort.Slice(r.changes, func(i, j int) bool { return r.changes[i].ObjectID < r.changes[j].ObjectID })
	s.mu.Lock()
	s.staged[r.out.ReconID] = r
	s.mu.Unlock()
	return r.out, nil
}

func (s *objectSync) Apply(ctx context.Context, reconID string) (jobs.SyncOutcome, error) {
	s.mu.Lock()
	r, ok := s.staged[reconID]
	delete(s.staged, reconID)
	s.mu.Unlock()
	if !ok {
		return jobs.SyncOutcome{}, fmt.Errorf("no staged changes under %s", reconID)
	}
	s.applies.Add(1)
	for _, c := range r.changes {
		var err error
		switch c.Action {
		case "create":
			_, err = s.objects.CreateObjects(ctx, store.CreateObjectsParams{Type: r.target, Objects: []store.NewObject{{ID: c.ObjectID, Content: c.Object}}})
		case "update":
			_, err = s.objects.UpdateObject(ctx, store.UpdateObjectParams{Type: r.target, ID: c.ObjectID, Content: c.Object})
		case "delete":
			_, err = s.objects.DeleteObject(ctx, store.DeleteObjectParams{Type: r.target, ID: c.ObjectID})
		}
		if err != nil {
			return r.out, err
		}
	}
	return r.out, nil
}

func (s *objectSync) Reconcile(ctx context.Context, mapping string) (jobs.SyncOutcome, error) {
	out, err := s.Plan(ctx, mapping)
	if err != nil {
		return out, err
	}
	return s.Apply(ctx, out.ReconID)
}

func (s *objectSync) Changes(_ context.Context, reconID string) ([]jobs.Change, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.staged[reconID]
	if !ok {
		return nil, fmt.Errorf("no staged changes under %s", reconID)
	}
	return r.changes, nil
}
