package managed

import (
	"context"
	"errors"
	"fmt"

	"sundial/engine/query"
	"sundial/engine/store"
)

// PatchParams name an object and the patch to apply to it.
type PatchParams struct {
	Type, ID   string
	IfRev      string // "" for no revision check
	Operations []PatchOperation
}

// Patch applies a patch to one object in one transaction: read, check
// the revision, apply, write at the next revision. A *PatchError leaves
// the object as it was.
func Patch(ctx context.Context, objs store.Objects, p PatchParams) (store.Object, error) {
	return objs.ModifyObject(ctx, store.ModifyObjectParams{Type: p.Type, ID: p.ID, IfRev: p.IfRev,
		Modify: func(content map[string]any) (map[string]any, error) {
			return content, ApplyPatch(content, p.Operations)
		}})
}

// PatchByQueryParams select the objects to patch.
type PatchByQueryParams struct {
	Type       string
	Filter     query.Filter // nil: every object
	Operations []PatchOperation
}

// PatchByQuery patches every object of a type that matches the filter
// (IDM's POST ?_action=patch&_queryFilter=…), each in its own transaction:
// an object that no longer matches when its turn comes is left alone, and
// one deleted meanwhile is skipped. It returns the patched objects, and
// stops at the first *PatchError.
func PatchByQuery(ctx context.Context, objs store.Objects, p PatchByQueryParams) ([]store.Object, error) {
	var program *query.Program
	if p.Filter != nil {
		var err error
		if program, err = query.Compile(p.Filter); err != nil {
			return nil, err
		}
	}
	var out []store.Object
	cookie := ""
	errNoLongerMatches := errors.New("no longer matches")
	for {
		page, err := objs.QueryObjects(ctx, store.QueryObjectsParams{Type: p.Type, Filter: p.Filter, PageSize: 1000, Cookie: cookie})
		if err != nil {
			return out, err
		}
		for _, o := range page.Objects {
			got, err := objs.ModifyObject(ctx, store.ModifyObjectParams{Type: p.Type, ID: o.ID,
				Modify: func(content map[string]any) (map[string]any, error) {
					if program != nil && !program.Match(withID(content, o.ID, o.Rev)) {
						return nil, errNoLongerMatches
					}
					return content, ApplyPatch(content, p.Operations)
				}})
			switch {
			case errors.Is(err, errNoLongerMatches), errors.Is(err, store.ErrNotFound):
				continue
			case err != nil:
				return out, fmt.Errorf("patch managed/%s/%s: %w", p.Type, o.ID, err)
			}
			out = append(out, got)
		}
		if cookie = page.Cookie; cookie == "" {
			return out, nil
		}
	}
}

// withID is content as a query sees it: with _id, and _rev as read (the
// content ModifyObject passes has neither).
func withID(content map[string]any, id, rev string) map[string]any {
	m := make(map[string]any, len(content)+2)
	for k, v := range content {
		m[k] = v
	}
	m["_id"] = id
	m["_rev"] = rev
	return m
}
