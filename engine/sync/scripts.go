package sync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"sundial/engine/config"
	"sundial/engine/query"
	"sundial/engine/script"
)

// run runs one of the mapping's scripts with bindings and returns its
// completion value as JSON values (numbers as json.Number).
func (mr *mappingRun) run(ctx context.Context, sc config.Script, bindings map[string]any) (any, error) {
	spec, err := script.ParseSpec(map[string]any(sc))
	if err != nil {
		return nil, err
	}
	v, err := mr.s.scripts().Run(ctx, spec, script.Request{Name: mr.m.Name, Bindings: bindings, Resources: mr.resources})
	if err != nil {
		return nil, err
	}
	return normalize(v), nil
}

// mutate runs a hook that may change the target in scope (onCreate,
// onUpdate) and returns the target as the script left it.
func (mr *mappingRun) mutate(ctx context.Context, sc config.Script, scope map[string]any, what string) (map[string]any, error) {
	// The hook's completion value is not used: the target is read back
	// after it.
	spec, err := mr.s.wrapped(sc, "", "\n;target")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	v, err := mr.s.scripts().Run(ctx, spec, script.Request{Name: mr.m.Name, Bindings: scope, Resources: mr.resources})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	t, ok := normalize(v).(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: the script left target as %v, not an object", what, v)
	}
	return t, nil
}

// wrapped is the spec of a script block whose source (read from its file
// when it has one) runs between before, which must hold no newline so that
// the script's line numbers stay its own, and after.
func (s *Service) wrapped(sc config.Script, before, after string) (script.Spec, error) {
	spec, err := script.ParseSpec(map[string]any(sc))
	if err != nil {
		return spec, err
	}
	src := spec.Source
	if spec.File != "" {
		path, err := config.ResolveScriptPath(s.cfg.ScriptsDir, spec.File)
		if err != nil {
			return spec, err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return spec, err
		}
		src = string(b)
		if spec.Name == "" || spec.Name == spec.File {
			spec.Name = spec.File
		}
		spec.File = ""
	}
	spec.Source = before + src + after
	return spec, nil
}

// readOnly is a dry run's openidm.*: reads and queries, no writes.
type readOnly struct{ script.Resources }

var errDryRun = errors.New("a dry run does not write")

func (readOnly) Create(context.Context, string, string, map[string]any) (map[string]any, error) {
	return nil, errDryRun
}
func (readOnly) Update(context.Context, string, string, map[string]any) (map[string]any, error) {
	return nil, errDryRun
}
func (readOnly) Patch(context.Context, string, string, []any) (map[string]any, error) {
	return nil, errDryRun
}
func (readOnly) Delete(context.Context, string, string) (map[string]any, error) {
	return nil, errDryRun
}
func (readOnly) Action(context.Context, string, string, map[string]any, map[string]any) (any, error) {
	return nil, errDryRun
}

// normalize gives a value the form encoding/json decodes with UseNumber:
// maps, slices, strings, bools, json.Number, nil.
func normalize(v any) any {
	switch t := v.(type) {
	case nil, string, bool, json.Number:
		return t
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = normalize(x)
		}
		return m
	case []any:
		a := make([]any, len(t))
		for i, x := range t {
			a[i] = normalize(x)
		}
		return a
	}
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var out any
	if err := d.Decode(&out); err != nil {
		return v
	}
	return out
}

func normalizeMap(m map[string]any) map[string]any {
	out, _ := normalize(m).(map[string]any)
	return out
}

func deepCopy(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out, _ := deepCopyValue(m).(map[string]any)
	return out
}

func deepCopyValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = deepCopyValue(x)
		}
		return m
	case []any:
		a := make([]any, len(t))
		for i, x := range t {
			a[i] = deepCopyValue(x)
		}
		return a
	}
	return v
}

// getPointer reads a JSON pointer ("a/b" or "/a/b") in obj.
func getPointer(obj map[string]any, ptr string) (any, bool) {
	ptr = strings.Trim(ptr, "/")
	if ptr == "" {
		return obj, true
	}
	return query.ValueAt(obj, query.Pointer{Tokens: strings.Split(ptr, "/")})
}

// setPointer sets a JSON pointer in obj, creating missing parents.
func setPointer(obj map[string]any, ptr string, v any) {
	parts := strings.Split(strings.Trim(ptr, "/"), "/")
	cur := obj
	for i, p := range parts {
		p = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
		if i == len(parts)-1 {
			cur[p] = v
			return
		}
		next, ok := cur[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[p] = next
		}
		cur = next
	}
}

func sortDiff(d []FieldDiff) { sort.Slice(d, func(i, j int) bool { return d[i].Field < d[j].Field }) }

func lower(s string) string { return strings.ToLower(s) }
