// Package managed holds IDM's managed objects beyond storage: the patch
// operations of CREST's patch requests and scripts' openidm.patch, applied
// atomically to stored objects (engine/store's Objects keeps the objects
// and answers the queries).
//
// A patch is a JSON array of operations in IDM's format:
//
//	[{"operation": "replace", "field": "/active", "value": false}]
//
// with the operations add, remove, replace, increment, copy and move, as
// OpenIDM's JsonValuePatch applies them:
//
//   - add and replace set the field, creating missing parent objects;
//     "/-" as the last token of add appends to an array; replace with a
//     null value does nothing;
//   - remove without a value deletes the field; with a value it removes
//     every equal element of an array field, or deletes a scalar field
//     equal to it;
//   - increment adds a number to a number field, or to each element of an
//     array field; a missing or non-numeric field is an error;
//   - copy and move set field to the value at from (move deletes from);
//     a missing or null from does nothing;
//   - a field whose last token is a single digit under an array is refused
//     (IDM forbids position-based operations), and so is any other
//     operation (IDM's script-based transform included).
package managed

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"net/url"
	"strconv"
	"strings"

	"sundial/engine/query"
)

// PatchError is a patch that cannot be applied: a client error (HTTP 400
// over REST), with IDM's message.
type PatchError struct {
	Message string
}

func (e *PatchError) Error() string { return e.Message }

func patchErrorf(format string, args ...any) error {
	return &PatchError{Message: fmt.Sprintf(format, args...)}
}

// PatchOperation is one operation of a patch.
type PatchOperation struct {
	Operation string // add, remove, replace, increment, copy, move
	Field     string // a JSON pointer, e.g. "/active"
	From      string // copy and move
	// Value is the operation's value (numbers as json.Number); HasValue
	// tells a JSON null from no value at all.
	Value    any
	HasValue bool
}

// ParsePatch reads a patch: a JSON array of operation objects.
func ParsePatch(data []byte) ([]PatchOperation, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var raw any
	if err := d.Decode(&raw); err != nil {
		return nil, patchErrorf("the patch content is not valid JSON: %v", err)
	}
	arr, ok := raw.([]any)
	if !ok {
		return nil, patchErrorf("the patch content is not a JSON array of patch operations")
	}
	ops := make([]PatchOperation, len(arr))
	for i, e := range arr {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, patchErrorf("the patch operation %d is not a valid JSON patch operation: want an object", i)
		}
		op, _ := m["operation"].(string)
		field, _ := m["field"].(string)
		from, _ := m["from"].(string)
		if op == "" || field == "" {
			return nil, patchErrorf("the patch operation %d is not a valid JSON patch operation: want \"operation\" and \"field\"", i)
		}
		v, has := m["value"]
		ops[i] = PatchOperation{Operation: op, Field: field, From: from, Value: v, HasValue: has}
	}
	return ops, nil
}

// ApplyPatch applies ops to content in order; on an error content may be
// half-changed, so callers apply it to a copy they can drop (ModifyObject
// does: nothing is written).
func ApplyPatch(content map[string]any, ops []PatchOperation) error {
	for _, op := range ops {
		if err := applyOne(content, op); err != nil {
			return err
		}
	}
	return nil
}

func applyOne(doc map[string]any, op PatchOperation) error {
	tokens := pointerTokens(op.Field)
	if len(tokens) == 0 {
		return patchErrorf("the field of operation %s is the whole object: want a field", op.Operation)
	}
	parent, leaf := walk(doc, tokens[:len(tokens)-1]), tokens[len(tokens)-1]
	if _, isArr := parent.([]any); isArr && len(leaf) == 1 && leaf[0] >= '0' && leaf[0] <= '9' {
		return patchErrorf("Position-based operation is not allowed: %s", op.Field)
	}
	switch op.Operation {
	case "add":
		if leaf == "-" {
			if arr, ok := parent.([]any); ok {
				return set(doc, tokens[:len(tokens)-1], append(arr, op.Value))
			}
		}
		return set(doc, tokens, op.Value)
	case "replace":
		if op.Value == nil {
			return nil
		}
		return set(doc, tokens, op.Value)
	case "remove":
		cur, ok := get(doc, tokens)
		if !ok {
			return nil
		}
		if !op.HasValue || op.Value == nil {
			return remove(doc, tokens)
		}
		if arr, isArr := cur.([]any); isArr {
			kept := arr[:0:0]
			for _, e := range arr {
				if !jsonEqual(e, op.Value) {
					kept = append(kept, e)
				}
			}
			return set(doc, tokens, kept)
		}
		if jsonEqual(cur, op.Value) {
			return remove(doc, tokens)
		}
		return nil
	case "increment":
		cur, ok := get(doc, tokens)
		if !ok || cur == nil {
			return patchErrorf("The field '%s' does not exist", op.Field)
		}
		if arr, isArr := cur.([]any); isArr {
			out := make([]any, len(arr))
			for i, e := range arr {
				n, err := addNumbers(e, op.Value, op.Field)
				if err != nil {
					return err
				}
				out[i] = n
			}
			return set(doc, tokens, out)
		}
		n, err := addNumbers(cur, op.Value, op.Field)
		if err != nil {
			return err
		}
		return set(doc, tokens, n)
	case "copy", "move":
		from := pointerTokens(op.From)
		v, ok := get(doc, from)
		if op.From == "" || !ok || v == nil {
			return nil
		}
		if op.Operation == "move" {
			if err := remove(doc, from); err != nil {
				return err
			}
			return set(doc, tokens, v)
		}
		// A copy is a value of its own: later operations on either field
		// leave the other as it is, and copying a field into itself
		// makes no cycle.
		return set(doc, tokens, deepCopy(v))
	}
	return patchErrorf("Operation %s is not supported", op.Operation)
}

// pointerTokens splits a field as ForgeRock's JsonPointer does: on '/',
// without a leading or trailing empty token, each token percent-decoded.
func pointerTokens(field string) []string {
	parts := strings.Split(field, "/")
	var out []string
	for i, p := range parts {
		if p == "" && (i == 0 || i == len(parts)-1) {
			continue
		}
		if d, err := url.PathUnescape(p); err == nil {
			p = d
		}
		out = append(out, p)
	}
	return out
}

func walk(v any, tokens []string) any {
	for _, t := range tokens {
		v = childOf(v, t)
	}
	return v
}

func childOf(v any, t string) any {
	switch c := v.(type) {
	case map[string]any:
		return c[t]
	case []any:
		if i, err := strconv.Atoi(t); err == nil && i >= 0 && i < len(c) {
			return c[i]
		}
	}
	return nil
}

func get(doc map[string]any, tokens []string) (any, bool) {
	p := query.Pointer{Tokens: tokens}
	return query.ValueAt(doc, p)
}

// set puts v at tokens, creating missing or null parents as objects.
func set(doc map[string]any, tokens []string, v any) error {
	if len(tokens) == 0 {
		return patchErrorf("cannot replace the whole object")
	}
	var cur any = doc
	for i, t := range tokens[:len(tokens)-1] {
		switch c := cur.(type) {
		case map[string]any:
			next, ok := c[t]
			if !ok || next == nil {
				next = map[string]any{}
				c[t] = next
			}
			cur = next
		case []any:
			j, err := strconv.Atoi(t)
			if err != nil || j < 0 || j >= len(c) {
				return patchErrorf("the field /%s is not an index of the array at /%s", strings.Join(tokens[:i+1], "/"), strings.Join(tokens[:i], "/"))
			}
			cur = c[j]
		default:
			return patchErrorf("the field /%s is not an object", strings.Join(tokens[:i], "/"))
		}
	}
	leaf := tokens[len(tokens)-1]
	switch c := cur.(type) {
	case map[string]any:
		c[leaf] = v
		return nil
	case []any:
		if j, err := strconv.Atoi(leaf); err == nil && j >= 0 && j < len(c) {
			c[j] = v
			return nil
		}
	}
	return patchErrorf("the field /%s is not in an object", strings.Join(tokens, "/"))
}

func remove(doc map[string]any, tokens []string) error {
	if m, ok := walk(doc, tokens[:len(tokens)-1]).(map[string]any); ok {
		delete(m, tokens[len(tokens)-1])
		return nil
	}
	if len(tokens) == 1 {
		delete(doc, tokens[0])
	}
	return nil
}

// addNumbers is increment's sum: integers stay exact integers, any
// decimal makes a double.
func addNumbers(cur, inc any, field string) (any, error) {
	a, okA := numberText(cur)
	b, okB := numberText(inc)
	if !okA {
		return nil, patchErrorf("The field '%s' is not a number", field)
	}
	if !okB {
		return nil, patchErrorf("The value of the increment of '%s' is not a number", field)
	}
	x, errX := new(big.Int).SetString(a, 10)
	y, errY := new(big.Int).SetString(b, 10)
	if errX && errY {
		return json.Number(x.Add(x, y).String()), nil
	}
	fa, _ := strconv.ParseFloat(a, 64)
	fb, _ := strconv.ParseFloat(b, 64)
	sum := fa + fb
	if math.IsInf(sum, 0) || math.IsNaN(sum) {
		return nil, patchErrorf("The increment of '%s' overflows", field)
	}
	return json.Number(strconv.FormatFloat(sum, 'g', -1, 64)), nil
}

func numberText(v any) (string, bool) {
	switch n := v.(type) {
	case json.Number:
		return string(n), true
	case float64:
		return strconv.FormatFloat(n, 'g', -1, 64), true
	case int:
		return strconv.Itoa(n), true
	case int64:
		return strconv.FormatInt(n, 10), true
	}
	return "", false
}

// jsonEqual is JSON equality, numbers compared by value.
func jsonEqual(a, b any) bool {
	if c, ok := query.CompareNumbers(a, b); ok {
		return c == 0
	}
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !jsonEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return a == b
}

// deepCopy copies the objects and arrays of a decoded JSON value.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = deepCopy(e)
		}
		return a
	}
	return v
}
