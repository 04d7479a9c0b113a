package script

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/dop251/goja"
)

// Resources serves a script's openidm functions, on the resource names the
// script gives ("managed/user/42"). Values cross as JSON-shaped Go values
// (maps, slices, strings, bool, nil, numbers as json.Number), copied both
// ways, so neither side sees the other's later changes. A Read of a
// missing object returns nil and no error (the script sees null); any
// error is thrown into the script as an Error with the error's message.
type Resources interface {
	Create(ctx context.Context, resource, newID string, content map[string]any) (map[string]any, error)
	Read(ctx context.Context, resource string) (map[string]any, error)
	// Update and Patch and Delete check the revision rev, unless it is "".
	Update(ctx context.Context, resource, rev string, content map[string]any) (map[string]any, error)
	// Patch applies IDM's patch operations, the JSON array the script gave.
	Patch(ctx context.Context, resource, rev string, operations []any) (map[string]any, error)
	// Query answers {"result": [...], "resultCount": n, ...} for the
	// params (_queryFilter, _pageSize, _pagedResultsCookie, ...).
	Query(ctx context.Context, resource string, params map[string]any) (map[string]any, error)
	Delete(ctx context.Context, resource, rev string) (map[string]any, error)
	Action(ctx context.Context, resource, action string, content, params map[string]any) (any, error)
}

// openidmFunc returns openidm.<name>, with IDM's signatures:
// create(resourceName, newResourceId, content, params, fields),
// read(resourceName, params, fields), update(resourceName, rev, value,
// params, fields), patch(resourceName, rev, value, params, fields),
// query(resourceName, params, fields), delete(resourceName, rev, params,
// fields) and action(resource, actionName, content, params, fields).
// fields is accepted and ignored: whole objects are returned.
func (r *runEnv) openidmFunc(name string) func(goja.FunctionCall) goja.Value {
	return func(call goja.FunctionCall) goja.Value {
		resource := call.Argument(0).String()
		var out any
		var err error
		switch name {
		case "create":
			var content map[string]any
			if content, err = r.jsonObject(call.Argument(2)); err == nil {
				out, err = r.resources.Create(r.ctx, resource, optString(call.Argument(1)), content)
			}
		case "read":
			var m map[string]any
			if m, err = r.resources.Read(r.ctx, resource); m != nil {
				out = m
			}
		case "update":
			var content map[string]any
			if content, err = r.jsonObject(call.Argument(2)); err == nil {
				out, err = r.resources.Update(r.ctx, resource, optString(call.Argument(1)), content)
			}
		case "patch":
			var ops []any
			if ops, err = r.jsonArray(call.Argument(2)); err == nil {
				out, err = r.resources.Patch(r.ctx, resource, optString(call.Argument(1)), ops)
			}
		case "query":
			var params map[string]any
			if params, err = r.jsonObject(call.Argument(1)); err == nil {
				out, err = r.resources.Query(r.ctx, resource, params)
			}
		case "delete":
			out, err = r.resources.Delete(r.ctx, resource, optString(call.Argument(1)))
		case "action":
			var content, params map[string]any
			if content, err = r.jsonObject(call.Argument(2)); err == nil {
				if params, err = r.jsonObject(call.Argument(3)); err == nil {
					out, err = r.resources.Action(r.ctx, resource, call.Argument(1).String(), content, params)
				}
			}
		}
		if err != nil {
			panic(r.vm.NewGoError(fmt.Errorf("openidm.%s %s: %w", name, resource, err)))
		}
		if m, ok := out.(map[string]any); ok && m == nil {
			return goja.Null()
		}
		v, err := toJS(r.vm, out, 0)
		if err != nil {
			panic(r.vm.NewGoError(fmt.Errorf("openidm.%s %s: result: %w", name, resource, err)))
		}
		return v
	}
}

// optString is a revision or id argument: "" for null and undefined.
func optString(v goja.Value) string {
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return ""
	}
	return v.String()
}

// jsonValue copies a script value into JSON-shaped Go values, through its
// JSON text (so toJSON and undefined members behave as in JSON.stringify).
func (r *runEnv) jsonValue(v goja.Value) (any, error) {
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return nil, nil
	}
	var b []byte
	var err error
	if o, ok := v.(*goja.Object); ok {
		b, err = o.MarshalJSON()
	} else {
		b, err = json.Marshal(v.Export())
	}
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}

// jsonObject is an object argument; null and undefined are nil.
func (r *runEnv) jsonObject(v goja.Value) (map[string]any, error) {
	x, err := r.jsonValue(v)
	if err != nil || x == nil {
		return nil, err
	}
	m, ok := x.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("expected an object, got %s", typeName(x))
	}
	return m, nil
}

// jsonArray is an array argument.
func (r *runEnv) jsonArray(v goja.Value) ([]any, error) {
	x, err := r.jsonValue(v)
	if err != nil {
		return nil, err
	}
	a, ok := x.([]any)
	if !ok {
		return nil, fmt.Errorf("expected an array of patch operations, got %s", typeName(x))
	}
	return a, nil
}
