package managed

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/google/uuid"

	"sundial/engine/store"
)

// Unit is a unit of work over managed objects: it serves a script's
// openidm functions as Resources does, but buffers the writes instead of
// making them. Reads see the unit's own pending writes (a query's results
// are overlaid with them; an object the unit creates is not among them);
// a revision the script gives is checked against what the unit sees.
// Writes returns the unit's final state of every object it wrote, to
// commit with store.Objects.CommitObjectUnits: each checked there against
// the revision the unit first saw it at, so the whole unit commits or
// nothing of it does. A Unit is not safe for concurrent use.
type Unit struct {
	Resources
	pending map[unitKey]*pendingObject
	order   []unitKey // first-write order
}

type unitKey struct{ typ, id string }

// pendingObject is one object as the unit sees it: at baseRev in the store
// ("" when absent), content nil when absent now (deleted, or not yet
// created).
type pendingObject struct {
	baseRev string
	content map[string]any // without _id and _rev
	written bool
}

// NewUnit returns an empty unit over r's objects.
func NewUnit(r Resources) *Unit {
	return &Unit{Resources: r, pending: map[unitKey]*pendingObject{}}
}

// Seed makes the unit see o (as the store holds it now) without writing
// it: the object a task works on, as its claim wrote it.
func (u *Unit) Seed(o store.Object) {
	k := unitKey{o.Type, o.ID}
	c := deepCopy(o.Content).(map[string]any)
	delete(c, "_id")
	delete(c, "_rev")
	if _, ok := u.pending[k]; !ok {
		u.order = append(u.order, k)
	}
	u.pending[k] = &pendingObject{baseRev: o.Rev, content: c}
}

// Writes is the unit's final state of every object it wrote, in the order
// first written; empty when it wrote nothing.
func (u *Unit) Writes() []store.ObjectWrite {
	var out []store.ObjectWrite
	for _, k := range u.order {
		p := u.pending[k]
		if !p.written || (p.baseRev == "" && p.content == nil) {
			continue
		}
		out = append(out, store.ObjectWrite{Type: k.typ, ID: k.id, Rev: p.baseRev, Content: p.content})
	}
	return out
}

// Modify changes the unit's view of managed/<typ>/<id> with fn (given a
// copy of the content without _id and _rev) as a write of the unit.
func (u *Unit) Modify(ctx context.Context, typ, id string, fn func(content map[string]any) (map[string]any, error)) error {
	p, err := u.view(ctx, typ, id)
	if err != nil {
		return err
	}
	if p.content == nil {
		return fmt.Errorf("managed/%s/%s: %w", typ, id, store.ErrNotFound)
	}
	c, err := fn(deepCopy(p.content).(map[string]any))
	if err != nil {
		return err
	}
	p.content, p.written = c, true
	return nil
}

// view is the unit's pending object, read from the store on first use.
func (u *Unit) view(ctx context.Context, typ, id string) (*pendingObject, error) {
	k := unitKey{typ, id}
	if p, ok := u.pending[k]; ok {
		return p, nil
	}
	p := &pendingObject{}
	o, err := u.Objects.ReadObject(ctx, store.ReadObjectParams{Type: typ, ID: id})
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		p.baseRev = o.Rev
		p.content = o.Content
		delete(p.content, "_id")
		delete(p.content, "_rev")
	}
	u.pending[k] = p
	u.order = append(u.order, k)
	return p, nil
}

// rev is the revision the unit shows for p: the next one once written.
func (p *pendingObject) rev() string {
	if !p.written {
		return p.baseRev
	}
	if p.baseRev == "" {
		return "1"
	}
	n, _ := strconv.ParseInt(p.baseRev, 10, 64)
	return strconv.FormatInt(n+1, 10)
}

// shown is p as the script sees it: a copy with _id and _rev.
func (p *pendingObject) shown(id string) map[string]any {
	c := deepCopy(p.content).(map[string]any)
	c["_id"] = id
	c["_rev"] = p.rev()
	return c
}

func (p *pendingObject) checkRev(typ, id, rev string) error {
	if rev != "" && rev != p.rev() {
		return fmt.Errorf("managed/%s/%s: %w: revision is %s, not %q", typ, id, store.ErrConflict, p.rev(), rev)
	}
	return nil
}

// Create creates managed/<type>/<newID> in the unit.
func (u *Unit) Create(ctx context.Context, resource, newID string, content map[string]any) (map[string]any, error) {
	typ, id, err := u.createTarget(resource, newID)
	if err != nil {
		return nil, err
	}
	if id == "" {
		id = uuid.NewString()
	}
	p, err := u.view(ctx, typ, id)
	if err != nil {
		return nil, err
	}
	if p.content != nil {
		return nil, fmt.Errorf("managed/%s/%s: %w: the object already exists", typ, id, store.ErrConflict)
	}
	c := deepCopy(content).(map[string]any)
	delete(c, "_id")
	delete(c, "_rev")
	p.content, p.written = c, true
	return p.shown(id), nil
}

// Read returns the object as the unit sees it, or nil when there is none.
func (u *Unit) Read(ctx context.Context, resource string) (map[string]any, error) {
	typ, id, err := u.split(resource, true)
	if err != nil {
		return nil, err
	}
	p, err := u.view(ctx, typ, id)
	if err != nil || p.content == nil {
		return nil, err
	}
	return p.shown(id), nil
}

// Update replaces the object's content in the unit.
func (u *Unit) Update(ctx context.Context, resource, rev string, content map[string]any) (map[string]any, error) {
	return u.write(ctx, resource, rev, func(map[string]any) (map[string]any, error) {
		c := deepCopy(content).(map[string]any)
		delete(c, "_id")
		delete(c, "_rev")
		return c, nil
	})
}

// Patch applies IDM patch operations in the unit.
func (u *Unit) Patch(ctx context.Context, resource, rev string, operations []any) (map[string]any, error) {
	ops, err := scriptPatch(operations)
	if err != nil {
		return nil, err
	}
	return u.write(ctx, resource, rev, func(c map[string]any) (map[string]any, error) {
		return c, ApplyPatch(c, ops)
	})
}

func (u *Unit) write(ctx context.Context, resource, rev string, fn func(map[string]any) (map[string]any, error)) (map[string]any, error) {
	typ, id, err := u.split(resource, true)
	if err != nil {
		return nil, err
	}
	err = u.Modify(ctx, typ, id, func(c map[string]any) (map[string]any, error) {
		if err := u.pending[unitKey{typ, id}].checkRev(typ, id, rev); err != nil {
			return nil, err
		}
		return fn(c)
	})
	if err != nil {
		return nil, err
	}
	return u.pending[unitKey{typ, id}].shown(id), nil
}

// Delete removes the object in the unit and returns it as it was.
func (u *Unit) Delete(ctx context.Context, resource, rev string) (map[string]any, error) {
	typ, id, err := u.split(resource, true)
	if err != nil {
		return nil, err
	}
	p, err := u.view(ctx, typ, id)
	if err != nil {
		return nil, err
	}
	if p.content == nil {
		return nil, fmt.Errorf("managed/%s/%s: %w", typ, id, store.ErrNotFound)
	}
	if err := p.checkRev(typ, id, rev); err != nil {
		return nil, err
	}
	was := p.shown(id)
	p.content, p.written = nil, true
	return was, nil
}

// Query answers as Resources.Query does, each result replaced by the
// unit's pending state of it (and left out when the unit deleted it).
func (u *Unit) Query(ctx context.Context, resource string, params map[string]any) (map[string]any, error) {
	out, err := u.Resources.Query(ctx, resource, params)
	if err != nil {
		return nil, err
	}
	typ, _, _ := u.split(resource, false)
	results, _ := out["result"].([]any)
	kept := results[:0]
	for _, r := range results {
		m, _ := r.(map[string]any)
		id, _ := m["_id"].(string)
		p, ok := u.pending[unitKey{typ, id}]
		switch {
		case !ok || !p.written:
			kept = append(kept, r)
		case p.content != nil:
			kept = append(kept, p.shown(id))
		}
	}
	out["result"], out["resultCount"] = kept, len(kept)
	return out, nil
}

// Action serves Resources' actions in the unit: a create and the patches
// of a patch by query are the unit's writes.
func (u *Unit) Action(ctx context.Context, resource, action string, content, params map[string]any) (any, error) {
	return objectAction(ctx, u, resource, action, content, params)
}
