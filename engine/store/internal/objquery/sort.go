package objquery

import (
	"slices"
	"strings"

	"sundial/engine/query"
	"sundial/engine/store"
)

// Sort orders objects by keys, then by id (byte order).
func Sort(objs []store.Object, keys []store.SortKey) {
	slices.SortStableFunc(objs, func(a, b store.Object) int {
		for _, k := range keys {
			va, oka := query.ValueAt(a.Content, k.Field)
			vb, okb := query.ValueAt(b.Content, k.Field)
			c := CompareValues(va, oka, vb, okb)
			if k.Descending {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// rank orders the JSON types: missing and null first, then booleans,
// numbers, strings, arrays and objects.
func rank(v any, ok bool) int {
	if !ok || v == nil {
		return 0
	}
	switch v.(type) {
	case bool:
		return 1
	case string:
		return 3
	case []any:
		return 4
	case map[string]any:
		return 5
	}
	return 2
}

// CompareValues is the order of sort keys: by type (missing and null,
// booleans, numbers, strings, arrays, objects), then false < true, numbers
// as doubles (Java's Double.compare), strings as the matcher compares them
// (Java's compareToIgnoreCase); arrays and objects are all equal.
func CompareValues(a any, aok bool, b any, bok bool) int {
	ra, rb := rank(a, aok), rank(b, bok)
	if ra != rb {
		return ra - rb
	}
	switch ra {
	case 1:
		x, y := a.(bool), b.(bool)
		switch {
		case x == y:
			return 0
		case x:
			return 1
		}
		return -1
	case 2:
		c, _ := query.CompareNumbers(a, b)
		return c
	case 3:
		return query.CompareIgnoreCase(a.(string), b.(string))
	}
	return 0
}
