package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"sundial/engine/store"
)

// SyncedObjects are managed objects whose every write is followed by
// implicit sync: Notify of the object's managed/<type>, as IDM's managed
// objects notify the sync service after each create, update and delete.
// Everything that writes managed objects (REST, reconciliation, liveSync,
// scripts' openidm.*, task scans) writes through one SyncedObjects.
// Each write of a managed object also records its audit/activity entry
// (AuditActivityType) when Activity says so, naming the context's actor
// (package actor).
//
// The write itself is never undone: an object written whose sync failed
// is returned together with an error wrapping ErrSyncFailed (for the
// batch methods, as its item's Err).
type SyncedObjects struct {
	store.Objects
	// Service returns the sync service now; nil (or a nil result) syncs
	// nothing.
	Service func() *Service
	// InitiatedBy names the writer in the audit/sync entries, and in the
	// audit/activity entries when the context names no actor.
	InitiatedBy string
	// Activity says, at each write, whether writes of managed objects
	// record audit/activity entries (AuditActivityType); nil records
	// none.
	Activity func() bool
	// Now is the time of the audit/activity entries; nil is time.Now.
	Now func() time.Time
	// Logger says when an audit/activity entry could not be recorded;
	// nil is slog.Default().
	Logger *slog.Logger
	// Node is the node whose records of pending syncs (PendingSyncType)
	// CommitObjectUnits writes and SyncPending runs.
	Node string
}

var (
	_ store.Objects       = SyncedObjects{}
	_ store.ObjectIndexer = SyncedObjects{}
)

// service returns the sync service when typ's writes have mappings to run.
func (so SyncedObjects) service(typ string) *Service {
	if so.Service == nil {
		return nil
	}
	s := so.Service()
	if s == nil || !s.HasSyncMappings("managed/"+typ) {
		return nil
	}
	return s
}

// notify syncs the i-th object a write changed (i counts the items of
// a create).
func (so SyncedObjects) notify(ctx context.Context, s *Service, i int, typ, id string, old, new map[string]any, deleted bool) error {
	pending, pendingType, ctx := pendingFor(ctx, i)
	return s.Notify(ctx, Notification{Resource: "managed/" + typ, ID: id, OldValue: old, NewValue: new, Deleted: deleted, InitiatedBy: so.InitiatedBy,
		pending: pending, pendingType: pendingType})
}

// CreateObjects creates, then syncs each object created.
func (so SyncedObjects) CreateObjects(ctx context.Context, p store.CreateObjectsParams) ([]store.CreateObjectResult, error) {
	res, err := so.Objects.CreateObjects(ctx, p)
	if err != nil {
		return res, err
	}
	if so.recordsActivity(p.Type) {
		var changes []change
		for _, r := range res {
			if r.Err == nil {
				changes = append(changes, change{op: OpCreate, typ: p.Type, id: r.Object.ID,
					after: withIdentity(r.Object.Content, r.Object.ID, r.Object.Rev), rev: r.Object.Rev})
			}
		}
		so.recordActivity(ctx, changes)
	}
	s := so.service(p.Type)
	if s == nil {
		return res, nil
	}
	for i := range res {
		if res[i].Err == nil {
			res[i].Err = so.notify(ctx, s, i, p.Type, res[i].Object.ID, nil, res[i].Object.Content, false)
		}
	}
	return res, nil
}

// UpdateObject updates, then records the activity and syncs the object
// with its value before.
func (so SyncedObjects) UpdateObject(ctx context.Context, p store.UpdateObjectParams) (store.Object, error) {
	s, activity := so.service(p.Type), so.recordsActivity(p.Type)
	if s == nil && !activity {
		return so.Objects.UpdateObject(ctx, p)
	}
	var old map[string]any
	o, err := so.Objects.ModifyObject(ctx, store.ModifyObjectParams{Type: p.Type, ID: p.ID, IfRev: p.IfRev,
		Modify: func(content map[string]any) (map[string]any, error) {
			old = deepCopy(content)
			next := make(map[string]any, len(p.Content))
			for k, v := range p.Content {
				if k != "_id" && k != "_rev" {
					next[k] = v
				}
			}
			return next, nil
		}})
	if err != nil {
		return o, err
	}
	return o, so.changed(ctx, s, activity, OpUpdate, p.Type, old, o)
}

// changed records the activity of a write of one object that was old
// before (when activity), then syncs it (when s is not nil).
func (so SyncedObjects) changed(ctx context.Context, s *Service, activity bool, op, typ string, old map[string]any, o store.Object) error {
	old["_id"] = o.ID
	if activity {
		so.recordActivity(ctx, []change{{op: op, typ: typ, id: o.ID, before: old, after: withIdentity(o.Content, o.ID, o.Rev), rev: o.Rev}})
	}
	if s == nil {
		return nil
	}
	return so.notify(ctx, s, -1, typ, o.ID, old, o.Content, false)
}

// ModifyObject modifies, then records the activity and syncs the object
// with its value before.
func (so SyncedObjects) ModifyObject(ctx context.Context, p store.ModifyObjectParams) (store.Object, error) {
	s, activity := so.service(p.Type), so.recordsActivity(p.Type)
	if s == nil && !activity {
		return so.Objects.ModifyObject(ctx, p)
	}
	var old map[string]any
	modify := p.Modify
	p.Modify = func(content map[string]any) (map[string]any, error) {
		old = deepCopy(content)
		return modify(content)
	}
	o, err := so.Objects.ModifyObject(ctx, p)
	if err != nil {
		return o, err
	}
	return o, so.changed(ctx, s, activity, OpPatch, p.Type, old, o)
}

// ModifyObjects modifies, then records the activity and syncs each
// object modified.
func (so SyncedObjects) ModifyObjects(ctx context.Context, p store.ModifyObjectsParams) ([]store.ModifyObjectResult, error) {
	s, activity := so.service(p.Type), so.recordsActivity(p.Type)
	if s == nil && !activity {
		return so.Objects.ModifyObjects(ctx, p)
	}
	olds := make([]map[string]any, len(p.Items))
	items := make([]store.ModifyItem, len(p.Items))
	for i, it := range p.Items {
		items[i] = it
		items[i].Modify = func(content map[string]any) (map[string]any, error) {
			olds[i] = deepCopy(content)
			return it.Modify(content)
		}
	}
	p.Items = items
	res, err := so.Objects.ModifyObjects(ctx, p)
	if err != nil {
		return res, err
	}
	var changes []change
	for i := range res {
		if res[i].Err == nil && olds[i] != nil {
			olds[i]["_id"] = items[i].ID
			if activity {
				o := res[i].Object
				changes = append(changes, change{op: OpPatch, typ: p.Type, id: items[i].ID, before: olds[i],
					after: withIdentity(o.Content, items[i].ID, o.Rev), rev: o.Rev})
			}
		}
	}
	so.recordActivity(ctx, changes)
	if s == nil {
		return res, nil
	}
	for i := range res {
		if res[i].Err == nil && olds[i] != nil {
			res[i].Err = so.notify(ctx, s, -1, p.Type, items[i].ID, olds[i], res[i].Object.Content, false)
		}
	}
	return res, nil
}

// DeleteObject deletes, then records the activity and syncs the
// deletion with the object as it was.
func (so SyncedObjects) DeleteObject(ctx context.Context, p store.DeleteObjectParams) (store.Object, error) {
	o, err := so.Objects.DeleteObject(ctx, p)
	if err != nil {
		return o, err
	}
	if so.recordsActivity(p.Type) {
		so.recordActivity(ctx, []change{{op: OpDelete, typ: p.Type, id: p.ID, before: withIdentity(o.Content, p.ID, o.Rev), rev: o.Rev}})
	}
	s := so.service(p.Type)
	if s == nil {
		return o, nil
	}
	return o, so.notify(ctx, s, -1, p.Type, p.ID, o.Content, nil, true)
}

// PendingSyncType is where SyncedObjects.CommitObjectUnits records, in
// the transaction of the units it commits, the objects whose implicit
// sync is still to run: objects of an internal type of the objects
// store, each {"node": <Node>, "objects": [{"type", "id"}, ...]},
// deleted once those syncs have run. What a process killed in between
// leaves behind, SyncPending runs when its node starts again.
const PendingSyncType = "sync:pending"

// CommitObjectUnits commits, each unit with the audit/activity entries of
// its writes (a write with no revision a CREATE, with no content a
// DELETE, else an UPDATE), then syncs every object of each unit
// committed, in unit and write order, with its value before the commit
// (nil when the unit created it, or when it moved since the unit read
// it) and after (nil for a delete), as if each were a write of its own:
// a unit committed whose sync of one object failed has that error,
// wrapping ErrSyncFailed, and its other objects are synced all the same.
// When some write has mappings to
// run, one more unit, committed with the others, records their objects
// under PendingSyncType; it is deleted after the syncs, failed or not
// (their audit/sync entries say how each went), so only a process killed
// between the commit and the syncs, or a ctx that ended meanwhile, leaves
// it for SyncPending.
func (so SyncedObjects) CommitObjectUnits(ctx context.Context, p store.CommitObjectUnitsParams) ([]error, error) {
	services := map[string]*Service{}
	activity := map[string]bool{}
	recording := false
	var listed []any
	ids := map[string][]string{}
	for _, u := range p.Units {
		for _, w := range u.Writes {
			s, ok := services[w.Type]
			if !ok {
				s = so.service(w.Type)
				services[w.Type] = s
				activity[w.Type] = so.recordsActivity(w.Type)
				recording = recording || activity[w.Type]
			}
			if s != nil {
				listed = append(listed, map[string]any{"type": w.Type, "id": w.ID})
			}
			if w.Rev != "" && (s != nil || activity[w.Type]) {
				ids[w.Type] = append(ids[w.Type], w.ID)
			}
		}
	}
	if len(listed) == 0 && !recording {
		return so.Objects.CommitObjectUnits(ctx, p)
	}
	olds := map[unitKey]store.Object{}
	for typ, list := range ids {
		objs, err := so.Objects.ReadObjects(ctx, store.ReadObjectsParams{Type: typ, IDs: list})
		if err != nil {
			return nil, fmt.Errorf("read the objects before their commit: %w", err)
		}
		for _, o := range objs {
			olds[unitKey{typ, o.ID}] = o
		}
	}
	units := p.Units
	if recording {
		var err error
		if units, err = so.withActivity(ctx, units, olds, activity); err != nil {
			return nil, err
		}
	}
	var recordID string
	if len(listed) > 0 {
		id, err := uuid.NewV7()
		if err != nil {
			return nil, err
		}
		recordID = id.String()
		units = append(slices.Clip(units), store.ObjectUnit{Writes: []store.ObjectWrite{{Type: PendingSyncType, ID: recordID,
			Content: map[string]any{"node": so.Node, "objects": listed}}}})
	}
	errs, err := so.Objects.CommitObjectUnits(ctx, store.CommitObjectUnitsParams{Units: units})
	if err != nil {
		return nil, err
	}
	recorded := recordID != "" && errs[len(errs)-1] == nil
	errs = errs[:len(p.Units)]
	for i, u := range p.Units {
		if errs[i] != nil {
			continue
		}
		for _, w := range u.Writes {
			s := services[w.Type]
			if s == nil {
				continue
			}
			var old map[string]any
			if o, ok := olds[unitKey{w.Type, w.ID}]; ok && o.Rev == w.Rev {
				old = o.Content
			}
			var new map[string]any
			if w.Content != nil {
				// A copy: the mappings' scripts see it, the caller keeps
				// its content.
				new = deepCopy(w.Content)
				new["_id"], new["_rev"] = w.ID, nextRev(w.Rev)
			}
			if err := so.notify(ctx, s, -1, w.Type, w.ID, old, new, w.Content == nil); err != nil && errs[i] == nil {
				errs[i] = err
			}
		}
	}
	// A sync that ctx's end stopped is left to SyncPending.
	if recorded && ctx.Err() == nil {
		if _, err := so.Objects.DeleteObject(store.WithDeferredSync(context.WithoutCancel(ctx)),
			store.DeleteObjectParams{Type: PendingSyncType, ID: recordID}); err != nil && !errors.Is(err, store.ErrNotFound) {
			return errs, fmt.Errorf("delete the record of the syncs run: %w", err)
		}
	}
	return errs, nil
}

// withActivity is units, each with the audit/activity entries of its
// writes of the types activity says, so that an entry commits with its
// write or not at all: olds are the objects before the commit.
func (so SyncedObjects) withActivity(ctx context.Context, units []store.ObjectUnit, olds map[unitKey]store.Object, activity map[string]bool) ([]store.ObjectUnit, error) {
	who, at := so.actor(ctx), so.timestamp()
	out := make([]store.ObjectUnit, len(units))
	for i, u := range units {
		out[i] = u
		for _, w := range u.Writes {
			if !activity[w.Type] {
				continue
			}
			c := change{op: OpUpdate, typ: w.Type, id: w.ID, rev: nextRev(w.Rev)}
			if o, ok := olds[unitKey{w.Type, w.ID}]; ok && o.Rev == w.Rev {
				c.before = withIdentity(o.Content, w.ID, w.Rev)
			}
			switch {
			case w.Content == nil:
				c.op, c.rev = OpDelete, w.Rev
			case w.Rev == "":
				c.op = OpCreate
			}
			if w.Content != nil {
				c.after = withIdentity(w.Content, w.ID, c.rev)
			}
			// A version 7 UUID, as the store makes: the entries' order is
			// their ids'.
			id, err := uuid.NewV7()
			if err != nil {
				return nil, err
			}
			if len(out[i].Writes) == len(u.Writes) {
				out[i].Writes = slices.Clip(u.Writes)
			}
			out[i].Writes = append(out[i].Writes, store.ObjectWrite{Type: AuditActivityType, ID: id.String(), Content: activityEntry(who, at, c)})
		}
	}
	return out, nil
}

type unitKey struct{ typ, id string }

// nextRev is the revision a store writes after rev ("" for a created
// object).
func nextRev(rev string) string {
	n, _ := strconv.ParseInt(rev, 10, 64)
	return strconv.FormatInt(n+1, 10)
}

// PendingSyncs is what SyncPending did.
type PendingSyncs struct {
	// Synced counts the objects synced, Failed among them the syncs that
	// failed, each an error wrapping ErrSyncFailed (its audit/sync entry
	// says so too).
	Synced int
	Failed []error
}

// SyncPending runs the syncs that the records of PendingSyncType of this
// node (Node) list, each object as it is now (deleted when it is gone,
// with no value before: as a liveSync change is), and deletes each record
// once its syncs have run, failed or not. Its error is a store's, or
// ctx's end, which leaves the record it was at. Without a sync service it
// does nothing and keeps the records.
func (so SyncedObjects) SyncPending(ctx context.Context) (PendingSyncs, error) {
	var out PendingSyncs
	if so.Service == nil || so.Service() == nil {
		return out, nil
	}
	var records []store.Object
	cookie := ""
	for {
		page, err := so.Objects.QueryObjects(ctx, store.QueryObjectsParams{Type: PendingSyncType, PageSize: 500, Cookie: cookie})
		if err != nil {
			return out, fmt.Errorf("read the pending syncs: %w", err)
		}
		for _, r := range page.Objects {
			if node, _ := r.Content["node"].(string); node == so.Node {
				records = append(records, r)
			}
		}
		if cookie = page.Cookie; cookie == "" {
			break
		}
	}
	for _, r := range records {
		list, _ := r.Content["objects"].([]any)
		for _, item := range list {
			m, _ := item.(map[string]any)
			typ, _ := m["type"].(string)
			id, _ := m["id"].(string)
			s := so.service(typ)
			if s == nil || id == "" {
				continue
			}
			o, err := so.Objects.ReadObject(ctx, store.ReadObjectParams{Type: typ, ID: id})
			switch {
			case errors.Is(err, store.ErrNotFound):
				err = so.notify(ctx, s, -1, typ, id, nil, nil, true)
			case err != nil:
				return out, fmt.Errorf("read managed/%s/%s: %w", typ, id, err)
			default:
				err = so.notify(ctx, s, -1, typ, id, nil, o.Content, false)
			}
			if cerr := ctx.Err(); cerr != nil {
				return out, cerr
			}
			out.Synced++
			if err != nil {
				out.Failed = append(out.Failed, err)
			}
		}
		if _, err := so.Objects.DeleteObject(ctx, store.DeleteObjectParams{Type: PendingSyncType, ID: r.ID, IfRev: r.Rev}); err != nil && !errors.Is(err, store.ErrNotFound) {
			return out, fmt.Errorf("delete the pending syncs %s: %w", r.ID, err)
		}
	}
	return out, nil
}

// IndexObjectFilter indexes as the objects underneath do, if they can
// (store.ObjectIndexer): the task scanner's indexes of its filter.
func (so SyncedObjects) IndexObjectFilter(ctx context.Context, p store.IndexObjectFilterParams) error {
	if ix, ok := so.Objects.(store.ObjectIndexer); ok {
		return ix.IndexObjectFilter(ctx, p)
	}
	return nil
}
