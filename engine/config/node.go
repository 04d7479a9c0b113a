package config

import (
	"strconv"
	"strings"
)

// kind is the JSON type of a node.
type kind uint8

const (
	kindNull kind = iota
	kindBool
	kindInt
	kindFloat
	kindString
	kindObject
	kindArray
)

// node is a parsed JSON or YAML value with the position it was written at.
// Both decoders (the JSON parser and the yaml.v3 adapter) produce it, so the
// rest of the loader does not care which format a file was in.
type node struct {
	kind      kind
	line, col int
	b         bool
	i         int64
	f         float64
	s         string  // string value
	keys      []*node // object: key nodes (kindString), parallel to items
	items     []*node // object values, array elements
}

// get returns the value of key in an object node, or nil.
func (n *node) get(key string) *node {
	if n == nil || n.kind != kindObject {
		return nil
	}
	for i, k := range n.keys {
		if k.s == key {
			return n.items[i]
		}
	}
	return nil
}

// keyNode returns the key node of key in an object node, or nil.
func (n *node) keyNode(key string) *node {
	if n == nil || n.kind != kindObject {
		return nil
	}
	for _, k := range n.keys {
		if k.s == key {
			return k
		}
	}
	return nil
}

// at walks a JSON pointer ("" is n itself) and returns the deepest node
// reached, the key node of the last object member reached (nil for the root
// and array elements), and whether the whole pointer resolved.
func (n *node) at(ptr string) (val, key *node, ok bool) {
	val = n
	if ptr == "" {
		return val, nil, true
	}
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch val.kind {
		case kindObject:
			k := val.keyNode(tok)
			if k == nil {
				return val, key, false
			}
			val, key = val.get(tok), k
		case kindArray:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(val.items) {
				return val, key, false
			}
			val, key = val.items[i], nil
		default:
			return val, key, false
		}
	}
	return val, key, true
}

// value converts n to the generic form the JSON-Schema validator and the
// services take: map[string]any, []any, string, int64, float64, bool, nil.
func (n *node) value() any { return n.valueWith(nil) }

// valueWith is value with the keys and short strings shared through c (nil:
// not shared).
func (n *node) valueWith(c *loadCache) any {
	switch n.kind {
	case kindBool:
		return n.b
	case kindInt:
		return n.i
	case kindFloat:
		return n.f
	case kindString:
		return c.boxString(n.s)
	case kindObject:
		m := make(map[string]any, len(n.keys))
		for i, k := range n.keys {
			m[c.str(k.s)] = n.items[i].valueWith(c)
		}
		return m
	case kindArray:
		a := make([]any, len(n.items))
		for i, it := range n.items {
			a[i] = it.valueWith(c)
		}
		return a
	}
	return nil
}

// isNull reports whether n is absent or JSON null: both mean "not set".
func (n *node) isNull() bool { return n == nil || n.kind == kindNull }

// typeName is the JSON type name of n, for messages.
func (n *node) typeName() string {
	if n == nil {
		return "nothing"
	}
	switch n.kind {
	case kindBool:
		return "boolean"
	case kindInt, kindFloat:
		return "number"
	case kindString:
		return "string"
	case kindObject:
		return "object"
	case kindArray:
		return "array"
	}
	return "null"
}

// escapePointerToken escapes one JSON-pointer reference token.
func escapePointerToken(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
