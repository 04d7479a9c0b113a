package query

// ValueAt follows p from obj as the matcher does (object members, and
// array elements for tokens that are indexes in range): the value, nil for
// a JSON null, and ok false when the field does not exist.
func ValueAt(obj map[string]any, p Pointer) (v any, ok bool) {
	v = valueAt(obj, p)
	return v, v != missing
}

// CompareIgnoreCase is Java's String.compareToIgnoreCase, the order the
// matcher compares strings by: negative, zero or positive.
func CompareIgnoreCase(a, b string) int { return compareIgnoreCase(a, b) }

// CompareNumbers compares two JSON numbers (float64, json.Number or a Go
// integer) as the matcher does, as doubles by Java's Double.compare; ok is
// false when either is not a number.
func CompareNumbers(a, b any) (c int, ok bool) {
	x, okA := numberOf(a)
	y, okB := numberOf(b)
	if !okA || !okB {
		return 0, false
	}
	return compareDoubles(x, y), true
}
