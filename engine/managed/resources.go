package managed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"sundial/engine/query"
	"sundial/engine/store"
)

// ErrUnknownType is a managed object type the conf directory does not
// declare (a 404 over REST).
var ErrUnknownType = errors.New("managed object type is not declared")

// Resources serves scripts' openidm.create, read, update, patch, query and
// delete on managed/<type>[/<id>] (engine/script's Resources): every write
// is one store call, revision-checked when the script gives a revision.
type Resources struct {
	Objects store.Objects
	// Declared reports whether a type is declared; nil declares every type.
	Declared func(typ string) bool
}

// resourcePageSize is a script query's page when it gives no _pageSize.
const resourcePageSize = 1000

// split reads managed/<type>[/<id>]; withID says whether the id is needed.
func (r Resources) split(resource string, withID bool) (typ, id string, err error) {
	rest, ok := strings.CutPrefix(strings.TrimPrefix(resource, "/"), "managed/")
	if !ok {
		return "", "", fmt.Errorf("%w: %q is not a managed object (managed/<type>/<id>)", store.ErrInvalid, resource)
	}
	typ, id, _ = strings.Cut(rest, "/")
	switch {
	case typ == "":
		return "", "", fmt.Errorf("%w: %q names no type", store.ErrInvalid, resource)
	case r.Declared != nil && !r.Declared(typ):
		return "", "", fmt.Errorf("managed/%s: %w", typ, ErrUnknownType)
	case withID && id == "":
		return "", "", fmt.Errorf("%w: %q names no object (managed/<type>/<id>)", store.ErrInvalid, resource)
	case !withID && id != "":
		return "", "", fmt.Errorf("%w: %q names an object, not a type", store.ErrInvalid, resource)
	}
	return typ, id, nil
}

// createTarget is the type and id a create names: managed/<type> and
// newID, or managed/<type>/<id> ("" when neither gives one).
func (r Resources) createTarget(resource, newID string) (typ, id string, err error) {
	typ, id, err = r.split(resource, false)
	if err != nil {
		// openidm.create("managed/user/42", null, ...) names the id in the path.
		if typ, id, err = r.split(resource, true); err != nil {
			return "", "", err
		}
	}
	if newID != "" {
		id = newID
	}
	return typ, id, nil
}

// Create creates managed/<type>/<newID> (a random id when newID is "").
func (r Resources) Create(ctx context.Context, resource, newID string, content map[string]any) (map[string]any, error) {
	typ, id, err := r.createTarget(resource, newID)
	if err != nil {
		return nil, err
	}
	res, err := r.Objects.CreateObjects(ctx, store.CreateObjectsParams{Type: typ, Objects: []store.NewObject{{ID: id, Content: content}}})
	if err != nil {
		return nil, err
	}
	if res[0].Err != nil {
		return nil, res[0].Err
	}
	return res[0].Object.Content, nil
}

// Read returns the object, or nil when there is none.
func (r Resources) Read(ctx context.Context, resource string) (map[string]any, error) {
	typ, id, err := r.split(resource, true)
	if err != nil {
		return nil, err
	}
	o, err := r.Objects.ReadObject(ctx, store.ReadObjectParams{Type: typ, ID: id})
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return o.Content, nil
}

// Update replaces the object's content.
func (r Resources) Update(ctx context.Context, resource, rev string, content map[string]any) (map[string]any, error) {
	typ, id, err := r.split(resource, true)
	if err != nil {
		return nil, err
	}
	o, err := r.Objects.UpdateObject(ctx, store.UpdateObjectParams{Type: typ, ID: id, IfRev: rev, Content: content})
	if err != nil {
		return nil, err
	}
	return o.Content, nil
}

// scriptPatch reads the patch operations a script gave.
func scriptPatch(operations []any) ([]PatchOperation, error) {
	b, err := json.Marshal(operations)
	if err != nil {
		return nil, err
	}
	return ParsePatch(b)
}

// Patch applies IDM patch operations in one transaction.
func (r Resources) Patch(ctx context.Context, resource, rev string, operations []any) (map[string]any, error) {
	typ, id, err := r.split(resource, true)
	if err != nil {
		return nil, err
	}
	ops, err := scriptPatch(operations)
	if err != nil {
		return nil, err
	}
	o, err := Patch(ctx, r.Objects, PatchParams{Type: typ, ID: id, IfRev: rev, Operations: ops})
	if err != nil {
		return nil, err
	}
	return o.Content, nil
}

// Delete removes the object and returns it as it was.
func (r Resources) Delete(ctx context.Context, resource, rev string) (map[string]any, error) {
	typ, id, err := r.split(resource, true)
	if err != nil {
		return nil, err
	}
	o, err := r.Objects.DeleteObject(ctx, store.DeleteObjectParams{Type: typ, ID: id, IfRev: rev})
	if err != nil {
		return nil, err
	}
	return o.Content, nil
}

// Query answers one page: params _queryFilter (or _queryId "query-all-ids"
// or "query-all": every object), _pageSize (1000 when absent) and
// _pagedResultsCookie. The answer is CREST's: result, resultCount,
// pagedResultsCookie (null on the last page), totalPagedResultsPolicy
// "NONE", totalPagedResults -1, remainingPagedResults -1.
func (r Resources) Query(ctx context.Context, resource string, params map[string]any) (map[string]any, error) {
	typ, _, err := r.split(resource, false)
	if err != nil {
		return nil, err
	}
	p := store.QueryObjectsParams{Type: typ, PageSize: resourcePageSize}
	switch f, qid := params["_queryFilter"], params["_queryId"]; {
	case f != nil:
		s, ok := f.(string)
		if !ok {
			return nil, fmt.Errorf("%w: _queryFilter must be a string", store.ErrInvalid)
		}
		if p.Filter, err = query.Parse(s); err != nil {
			return nil, fmt.Errorf("%w: %v", store.ErrInvalid, err)
		}
	case qid == "query-all-ids" || qid == "query-all":
	case qid != nil:
		return nil, fmt.Errorf("%w: unknown _queryId %v (use _queryFilter)", store.ErrInvalid, qid)
	default:
		return nil, fmt.Errorf("%w: a query needs _queryFilter or _queryId", store.ErrInvalid)
	}
	if v, ok := params["_pageSize"]; ok {
		n, err := strconv.Atoi(fmt.Sprint(v))
		if err != nil {
			return nil, fmt.Errorf("%w: _pageSize %v is not an integer", store.ErrInvalid, v)
		}
		if n > 0 {
			p.PageSize = n
		}
	}
	if c, ok := params["_pagedResultsCookie"].(string); ok {
		p.Cookie = c
	}
	page, err := r.Objects.QueryObjects(ctx, p)
	if err != nil {
		return nil, err
	}
	result := make([]any, len(page.Objects))
	for i, o := range page.Objects {
		result[i] = o.Content
	}
	var cookie any
	if page.Cookie != "" {
		cookie = page.Cookie
	}
	return map[string]any{
		"result": result, "resultCount": len(result), "pagedResultsCookie": cookie,
		"totalPagedResultsPolicy": "NONE", "totalPagedResults": -1, "remainingPagedResults": -1,
	}, nil
}

// Action serves IDM's actions on managed objects: "create" on
// managed/<type> (params._id or the path's id names the new object, as
// POST ?_action=create does) and "patch" on managed/<type> with
// params._queryFilter (content.operations, or content itself, the patch),
// which patches every match and returns {"result": [...], "resultCount"}.
// Any other action is an error naming the supported ones.
func (r Resources) Action(ctx context.Context, resource, action string, content, params map[string]any) (any, error) {
	return objectAction(ctx, r, resource, action, content, params)
}

// objectResources are the functions Action's actions are made of.
type objectResources interface {
	Create(ctx context.Context, resource, newID string, content map[string]any) (map[string]any, error)
	Query(ctx context.Context, resource string, params map[string]any) (map[string]any, error)
	Patch(ctx context.Context, resource, rev string, operations []any) (map[string]any, error)
}

func objectAction(ctx context.Context, r objectResources, resource, action string, content, params map[string]any) (any, error) {
	switch action {
	case "create":
		id, _ := params["_id"].(string)
		return r.Create(ctx, resource, id, content)
	case "patch":
		f, ok := params["_queryFilter"].(string)
		if !ok {
			return nil, fmt.Errorf("%w: action patch on %s needs params._queryFilter", store.ErrInvalid, resource)
		}
		ops, ok := content["operations"].([]any)
		if !ok {
			return nil, fmt.Errorf("%w: action patch on %s needs the patch operations (content.operations)", store.ErrInvalid, resource)
		}
		var patched []any
		cookie := any(nil)
		for {
			page, err := r.Query(ctx, resource, map[string]any{"_queryFilter": f, "_pagedResultsCookie": cookie})
			if err != nil {
				return nil, err
			}
			results, _ := page["result"].([]any)
			for _, o := range results {
				id, _ := o.(map[string]any)["_id"].(string)
				got, err := r.Patch(ctx, strings.TrimSuffix(resource, "/")+"/"+id, "", ops)
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				if err != nil {
					return nil, err
				}
				patched = append(patched, got)
			}
			if cookie = page["pagedResultsCookie"]; cookie == nil {
				return map[string]any{"result": patched, "resultCount": len(patched)}, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: action %q on %s is not supported (managed objects support create and patch)", store.ErrInvalid, action, resource)
}
