package crest

import (
	"strconv"
	"strings"
)

// Field is one _fields or _sortKeys entry: a JSON pointer split into its
// tokens (a leading and one trailing '/' dropped).
type Field []string

// ParseField splits a pointer such as "invokeContext/action/".
func ParseField(s string) Field {
	s = strings.TrimPrefix(s, "/")
	s = strings.TrimSuffix(s, "/")
	if s == "" {
		return Field{}
	}
	return Field(strings.Split(s, "/"))
}

// Leaf is the key a projection writes the field under.
func (f Field) Leaf() string {
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}

// Lookup follows the field into obj: object members by name, array
// elements by index.
func (f Field) Lookup(obj map[string]any) (any, bool) {
	var cur any = obj
	for _, tok := range f {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// Project keeps the fields asked for, shallowly, each under its leaf:
// invokeContext/action comes back as "action". Absent fields are dropped,
// null values kept; _id and _rev always stay. No fields (nil, or a field
// list that was "") keeps everything.
func Project(res Resource, fields []Field) Resource {
	if len(fields) == 0 {
		return res
	}
	full := res.Map()
	out := Resource{ID: res.ID, Rev: res.Rev, Fields: make(map[string]any, len(fields))}
	for _, f := range fields {
		if len(f) == 0 {
			return res
		}
		leaf := f.Leaf()
		if leaf == "_id" || leaf == "_rev" {
			continue
		}
		if v, ok := f.Lookup(full); ok {
			out.Fields[leaf] = v
		}
	}
	return out
}
