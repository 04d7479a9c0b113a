package sync

import (
	"context"

	"sundial/engine/store"
)

// SyncedObjects are managed objects whose every write is followed by
// implicit sync: Notify of the object's managed/<type>, as IDM's managed
// objects notify the sync service after each create, update and delete.
// Everything that writes managed objects (REST, reconciliation, liveSync,
// scripts' openidm.*, task scans) writes through one SyncedObjects.
//
// The write itself is never undone: an object written whose sync failed
// is returned together with an error wrapping ErrSyncFailed (for the
// batch methods, as its item's Err).
type SyncedObjects struct {
	store.Objects
	// Service returns the sync service now; nil (or a nil result) syncs
	// nothing.
	Service func() *Service
	// InitiatedBy names the writer in the audit/sync entries.
	InitiatedBy string
}

var _ store.Objects = SyncedObjects{}

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
	s := so.service(p.Type)
	if err != nil || s == nil {
		return res, err
	}
	for i := range res {
		if res[i].Err == nil {
			res[i].Err = so.notify(ctx, s, i, p.Type, res[i].Object.ID, nil, res[i].Object.Content, false)
		}
	}
	return res, nil
}

// UpdateObject updates, then syncs the object with its value before.
func (so SyncedObjects) UpdateObject(ctx context.Context, p store.UpdateObjectParams) (store.Object, error) {
	s := so.service(p.Type)
	if s == nil {
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
	old["_id"] = p.ID
	return o, so.notify(ctx, s, -1, p.Type, p.ID, old, o.Content, false)
}

// ModifyObject modifies, then syncs the object with its value before.
func (so SyncedObjects) ModifyObject(ctx context.Context, p store.ModifyObjectParams) (store.Object, error) {
	s := so.service(p.Type)
	if s == nil {
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
	old["_id"] = p.ID
	return o, so.notify(ctx, s, -1, p.Type, p.ID, old, o.Content, false)
}

// ModifyObjects modifies, then syncs each object modified.
func (so SyncedObjects) ModifyObjects(ctx context.Context, p store.ModifyObjectsParams) ([]store.ModifyObjectResult, error) {
	s := so.service(p.Type)
	if s == nil {
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
	for i := range res {
		if res[i].Err == nil && olds[i] != nil {
			olds[i]["_id"] = items[i].ID
			res[i].Err = so.notify(ctx, s, -1, p.Type, items[i].ID, olds[i], res[i].Object.Content, false)
		}
	}
	return res, nil
}

// DeleteObject deletes, then syncs the deletion with the object as it
// was.
func (so SyncedObjects) DeleteObject(ctx context.Context, p store.DeleteObjectParams) (store.Object, error) {
	o, err := so.Objects.DeleteObject(ctx, p)
	s := so.service(p.Type)
	if err != nil || s == nil {
		return o, err
	}
	return o, so.notify(ctx, s, -1, p.Type, p.ID, o.Content, nil, true)
}
