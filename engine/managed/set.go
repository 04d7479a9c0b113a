package managed

import (
	"context"
	"errors"
	"fmt"

	"sundial/engine/connector"
	"sundial/engine/store"
)

// Set is the managed objects of one type as a connector.ObjectSet
// ("managed/<type>"), what synchronization reads and writes.
type Set struct {
	objects store.Objects
	typ     string
}

var _ connector.ObjectSet = (*Set)(nil)

// NewSet returns the set of managed/<typ> objects.
func NewSet(objects store.Objects, typ string) *Set { return &Set{objects: objects, typ: typ} }

// setPageSize is how many objects a query reads from the store at a time.
const setPageSize = 1000

// Resource is "managed/<type>".
func (s *Set) Resource() string { return "managed/" + s.typ }

// setError maps the store's errors onto connector's.
func setError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: %w", connector.ErrNotFound, err)
	case errors.Is(err, store.ErrConflict):
		return fmt.Errorf("%w: %w", connector.ErrConflict, err)
	}
	return err
}

// Create creates an object (a random id when id is "").
func (s *Set) Create(ctx context.Context, id string, obj connector.Object) (connector.Object, error) {
	res, err := s.objects.CreateObjects(ctx, store.CreateObjectsParams{Type: s.typ, Objects: []store.NewObject{{ID: id, Content: obj}}})
	if err != nil {
		return nil, err
	}
	if res[0].Err != nil {
		return nil, setError(res[0].Err)
	}
	return res[0].Object.Content, nil
}

// CreateMany creates objects in one transaction, one result per item: the
// object as stored, or the item's error.
func (s *Set) CreateMany(ctx context.Context, ids []string, objs []connector.Object) ([]connector.Object, []error, error) {
	items := make([]store.NewObject, len(objs))
	for i := range objs {
		items[i] = store.NewObject{ID: ids[i], Content: objs[i]}
	}
	res, err := s.objects.CreateObjects(ctx, store.CreateObjectsParams{Type: s.typ, Objects: items})
	if err != nil {
		return nil, nil, err
	}
	out, errs := make([]connector.Object, len(res)), make([]error, len(res))
	for i, r := range res {
		out[i], errs[i] = r.Object.Content, setError(r.Err)
	}
	return out, errs, nil
}

// Read reads an object.
func (s *Set) Read(ctx context.Context, id string) (connector.Object, error) {
	o, err := s.objects.ReadObject(ctx, store.ReadObjectParams{Type: s.typ, ID: id})
	if err != nil {
		return nil, setError(err)
	}
	return o.Content, nil
}

// ReadMany reads the objects among ids that exist, by id.
func (s *Set) ReadMany(ctx context.Context, ids []string) (map[string]connector.Object, error) {
	objs, err := s.objects.ReadObjects(ctx, store.ReadObjectsParams{Type: s.typ, IDs: ids})
	if err != nil {
		return nil, setError(err)
	}
	out := make(map[string]connector.Object, len(objs))
	for _, o := range objs {
		out[o.ID] = o.Content
	}
	return out, nil
}

// Update replaces an object's content, checking rev unless it is "".
func (s *Set) Update(ctx context.Context, id, rev string, obj connector.Object) (connector.Object, error) {
	o, err := s.objects.UpdateObject(ctx, store.UpdateObjectParams{Type: s.typ, ID: id, IfRev: rev, Content: obj})
	if err != nil {
		return nil, setError(err)
	}
	return o.Content, nil
}

// Delete removes an object, checking rev unless it is "".
func (s *Set) Delete(ctx context.Context, id, rev string) error {
	_, err := s.objects.DeleteObject(ctx, store.DeleteObjectParams{Type: s.typ, ID: id, IfRev: rev})
	return setError(err)
}

// Query streams the matching objects, a page of the store at a time.
func (s *Set) Query(ctx context.Context, q connector.Query, fn func(connector.Object) error) error {
	cookie := ""
	for {
		page, err := s.objects.QueryObjects(ctx, store.QueryObjectsParams{Type: s.typ, Filter: q.Filter, PageSize: setPageSize, Cookie: cookie, IDsOnly: q.IDsOnly})
		if err != nil {
			return err
		}
		for _, o := range page.Objects {
			if err := fn(o.Content); err != nil {
				return err
			}
		}
		if cookie = page.Cookie; cookie == "" {
			return nil
		}
	}
}
