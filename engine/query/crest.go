package query

// CRESTResult is the three-valued answer of Common REST's in-memory
// backend (MemoryBackend), which keeps a resource only for CRESTTrue.
type CRESTResult uint8

// The answers of MatchCREST.
const (
	CRESTFalse CRESTResult = iota
	CRESTTrue
	CRESTUndefined
)

func (r CRESTResult) String() string {
	switch r {
	case CRESTTrue:
		return "true"
	case CRESTUndefined:
		return "undefined"
	}
	return "false"
}

// MatchCREST evaluates f as Common REST's MemoryBackend does, for
// comparison with IDM (Sundial matches with Program). It differs from IDM
// in four ways: pr is true on a null value; an extended operator is
// undefined, and so is its negation; an and is false if an operand is
// false and true otherwise (undefined operands are ignored); an or answers
// with its first operand that is true or undefined, so (true or undefined)
// is true but (undefined or true) is undefined.
func MatchCREST(f Filter, obj map[string]any) CRESTResult {
	switch f := f.(type) {
	case *Literal:
		return crestBool(f.Value)
	case *And:
		for _, o := range f.Operands {
			if MatchCREST(o, obj) == CRESTFalse {
				return CRESTFalse
			}
		}
		return CRESTTrue
	case *Or:
		for _, o := range f.Operands {
			if r := MatchCREST(o, obj); r != CRESTFalse {
				return r
			}
		}
		return CRESTFalse
	case *Not:
		switch MatchCREST(f.Operand, obj) {
		case CRESTTrue:
			return CRESTFalse
		case CRESTFalse:
			return CRESTTrue
		}
		return CRESTUndefined
	case *Present:
		return crestBool(valueAt(obj, f.Field) != missing)
	case *Comparison:
		if f.Operator.Extended() {
			return CRESTUndefined
		}
		a := newAssertion(f)
		return crestBool(a.anyOf(valueAt(obj, f.Field), operatorTests[f.Operator]))
	}
	return CRESTFalse
}

// operatorTests are the element tests of the core operators.
var operatorTests = map[Operator]func(*assertion, any) bool{
	OpEqual: isEqual, OpGreater: isGreater, OpGreaterEqual: isGreaterEqual,
	OpLess: isLess, OpLessEqual: isLessEqual,
	OpContains: (*assertion).contains, OpStartsWith: (*assertion).startsWith,
}

func crestBool(b bool) CRESTResult {
	if b {
		return CRESTTrue
	}
	return CRESTFalse
}

// valueAt follows p from obj: missing, nil for a JSON null, or the value.
func valueAt(obj map[string]any, p Pointer) any {
	var v any = obj
	for _, t := range p.Tokens {
		v = child(v, t)
	}
	return v
}
