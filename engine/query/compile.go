package query

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// Program is a compiled filter: one expr program, evaluated against many
// objects. It is safe for concurrent use.
type Program struct {
	filter   Filter
	source   string
	bindings []Binding
	program  *vm.Program
	paths    *pathTable
	matchers sync.Pool // of *Matcher, for Match
}

// Matcher evaluates a Program with its own expr VM and its own memo of
// field values; it is for one goroutine at a time (a scan worker keeps one)
// and does not allocate.
type Matcher struct {
	program *Program
	vm      vm.VM
	scope   scope
}

// Compile builds the expr program of f. The program's source names the
// comparisons and presence tests (see Source), each a function of the
// object bound into the program as a constant, so that a match runs typed
// calls only: no reflection and no allocation per object.
func Compile(f Filter) (*Program, error) {
	g := generator{consts: map[string]any{}, paths: &pathTable{index: map[pathKey]int{}}}
	g.gen(f)
	g.paths.settle()
	src := g.b.String()
	program, err := expr.Compile(src,
		expr.DisableAllBuiltins(),
		expr.MaxNodes(0), // a filter's size is bounded by its text, not by expr
		expr.Patch(constantBinder(g.consts)),
	)
	if err != nil {
		return nil, fmt.Errorf("compile query filter %s: %w", f, err)
	}
	return &Program{filter: f, source: src, bindings: g.bindings, program: program, paths: g.paths}, nil
}

// Binding is a constant the program's source names, a test of the object
// written in the canonical form: a comparison (cN), a presence test (pN;
// the field alone), or an and, or or not of comparisons and presence tests
// of one field (fN), which looks the field up once.
type Binding struct {
	Name, Text string
}

// Bindings returns the program's constants in source order.
func (p *Program) Bindings() []Binding { return p.bindings }

// Filter returns the filter the program was compiled from.
func (p *Program) Filter() Filter { return p.filter }

// Source returns the expr text of the program, e.g.
// (c0($env) && !(p0($env))), where $env is the object being matched, cN a
// comparison (its field, operator and value) and pN a presence test of a
// field; see Bindings.
func (p *Program) Source() string { return p.source }

// Match reports whether obj matches the filter, with a Matcher from a pool.
func (p *Program) Match(obj map[string]any) bool {
	m, _ := p.matchers.Get().(*Matcher)
	if m == nil {
		m = p.Matcher()
	}
	ok := m.Match(obj)
	p.matchers.Put(m)
	return ok
}

// Matcher returns a matcher for one goroutine.
func (p *Program) Matcher() *Matcher {
	n := len(p.paths.nodes)
	return &Matcher{program: p, scope: scope{seen: make([]uint64, n), values: make([]any, n)}}
}

// Match reports whether obj matches the filter.
func (m *Matcher) Match(obj map[string]any) bool {
	m.scope.obj = obj
	m.scope.run++
	out, err := m.vm.Run(m.program.program, &m.scope)
	m.scope.obj = nil
	if err != nil {
		// The functions never fail and every node of the source is a bool.
		panic(fmt.Sprintf("query: expr program failed: %v", err))
	}
	return out.(bool)
}

// generator writes the expr source of a filter and collects the constants
// it names.
type generator struct {
	b                   strings.Builder
	consts              map[string]any
	bindings            []Binding
	paths               *pathTable
	fields, comparisons int
	groups              int
}

func (g *generator) gen(f Filter) {
	if field, ok := singleField(f); ok {
		if _, leaf := f.(*Present); !leaf {
			if _, leaf := f.(*Comparison); !leaf {
				// One function for the whole group: one call, one look-up.
				name := "f" + strconv.Itoa(g.groups)
				g.groups++
				g.bind(name, groupTest(g.paths.lookup(field), valueTestOf(f)), f.String())
				g.b.WriteString(name + "($env)")
				return
			}
		}
	}
	switch f := f.(type) {
	case *Literal:
		g.b.WriteString(strconv.FormatBool(f.Value))
	case *And:
		g.composite(" && ", f.Operands)
	case *Or:
		g.composite(" || ", f.Operands)
	case *Not:
		g.b.WriteString("!")
		if _, simple := f.Operand.(*Literal); simple {
			g.gen(f.Operand)
			return
		}
		g.b.WriteString("(")
		g.gen(f.Operand)
		g.b.WriteString(")")
	case *Present:
		name := "p" + strconv.Itoa(g.fields)
		g.fields++
		g.bind(name, presenceTest(g.paths.lookup(f.Field)), f.Field.String())
		g.b.WriteString(name + "($env)")
	case *Comparison:
		if f.Operator.Extended() {
			// IDM does not support extended operators: always false.
			g.b.WriteString("false")
			return
		}
		name := "c" + strconv.Itoa(g.comparisons)
		g.comparisons++
		g.bind(name, newComparison(f).objectTest(g.paths.lookup(f.Field)), f.String())
		g.b.WriteString(name + "($env)")
	}
}

func (g *generator) composite(sep string, operands []Filter) {
	g.b.WriteString("(")
	for i, o := range operands {
		if i > 0 {
			g.b.WriteString(sep)
		}
		g.gen(o)
	}
	g.b.WriteString(")")
}

// bind names a constant of the source.
func (g *generator) bind(name string, value any, text string) {
	g.consts[name] = value
	g.bindings = append(g.bindings, Binding{Name: name, Text: text})
}

// constantBinder replaces the identifiers of the generated source by the
// values they name: functions, pointers and assertions.
type constantBinder map[string]any

func (c constantBinder) Visit(node *ast.Node) {
	if id, ok := (*node).(*ast.IdentifierNode); ok {
		if v, ok := c[id.Value]; ok {
			ast.Patch(node, &ast.ConstantNode{Value: v})
		}
	}
}

// objectTest is a function of the generated source: a test of the object
// whose scope is its argument. Its type is among expr's typed function
// signatures, so the VM calls it directly, with one argument to push.
type objectTest = func(env any) bool

// valueTest is a test of a field's value: missing, nil for a JSON null, or
// the value.
type valueTest = func(v any) bool

// presenceTest is pr on field: its value exists and is not null.
func presenceTest(field *lookup) objectTest {
	return func(env any) bool { return isPresent(field.in(env.(*scope))) }
}

// groupTest is the object test that looks field up and tests its value.
func groupTest(field *lookup, test valueTest) objectTest {
	return func(env any) bool { return test(field.in(env.(*scope))) }
}

func isPresent(v any) bool { return v != missing && v != nil }

func isAbsent(v any) bool { return v == missing || v == nil }

// singleField returns the one field that all the tests of f look at, when
// f is built of presence tests and core comparisons with and, or and not.
// Such a group tests one value, so it is one function of the source.
func singleField(f Filter) (Pointer, bool) {
	switch f := f.(type) {
	case *Present:
		return f.Field, true
	case *Comparison:
		return f.Field, !f.Operator.Extended()
	case *Not:
		return singleField(f.Operand)
	case *And:
		return sameField(f.Operands)
	case *Or:
		return sameField(f.Operands)
	}
	return Pointer{}, false
}

func sameField(operands []Filter) (Pointer, bool) {
	first, ok := singleField(operands[0])
	for _, o := range operands[1:] {
		if !ok {
			break
		}
		var field Pointer
		field, ok = singleField(o)
		ok = ok && slices.Equal(field.Tokens, first.Tokens)
	}
	return first, ok
}

// valueTestOf is the test of a value that f, a group singleField accepts,
// makes: the and, or and not of the value tests of its leaves.
func valueTestOf(f Filter) valueTest {
	switch f := f.(type) {
	case *Present:
		return isPresent
	case *Comparison:
		return newComparison(f).holds
	case *Not:
		if _, ok := f.Operand.(*Present); ok {
			return isAbsent
		}
		operand := valueTestOf(f.Operand)
		return func(v any) bool { return !operand(v) }
	case *And:
		operands := valueTestsOf(f.Operands)
		return func(v any) bool {
			for _, o := range operands {
				if !o(v) {
					return false
				}
			}
			return true
		}
	case *Or:
		operands := valueTestsOf(f.Operands)
		return func(v any) bool {
			for _, o := range operands {
				if o(v) {
					return true
				}
			}
			return false
		}
	}
	panic(fmt.Sprintf("query: %T in a single-field group", f))
}

func valueTestsOf(fs []Filter) []valueTest {
	ts := make([]valueTest, len(fs))
	for i, f := range fs {
		ts[i] = valueTestOf(f)
	}
	return ts
}

// missingType marks a field that does not exist, as opposed to a JSON null.
type missingType struct{}

var missing any = missingType{}

// pathTable holds the distinct fields of a program and their prefixes as a
// tree: node i is its parent's value followed by one token. Fields that
// share a prefix, or appear twice (/inactiveDate pr, /inactiveDate ge …),
// share nodes, so a match looks each one up in the object once.
type pathTable struct {
	nodes   []pathNode
	index   map[pathKey]int
	lookups []*lookup
}

type pathNode struct {
	parent int // -1: the object itself
	token  string
	shared bool // reached by more than one field: its value is memoised
}

type pathKey struct {
	parent int
	token  string
}

// lookup is a compiled field: a node of its program's path table, or the
// object itself for node -1.
type lookup struct {
	paths *pathTable
	node  int
	// member is set for a field of one token that no other field shares:
	// its value is the object's member named token, not memoised.
	member bool
	token  string
}

// lookup interns p's prefixes and returns its look-up, complete once the
// table is settled.
func (t *pathTable) lookup(p Pointer) *lookup {
	n := -1
	for _, tok := range p.Tokens {
		k := pathKey{n, tok}
		i, ok := t.index[k]
		if ok {
			t.nodes[i].shared = true
		} else {
			i = len(t.nodes)
			t.nodes = append(t.nodes, pathNode{parent: n, token: tok})
			t.index[k] = i
		}
		n = i
	}
	l := &lookup{paths: t, node: n}
	t.lookups = append(t.lookups, l)
	return l
}

// settle completes the look-ups once every field is interned, when it is
// known which nodes are shared.
func (t *pathTable) settle() {
	for _, l := range t.lookups {
		if l.node >= 0 {
			n := t.nodes[l.node]
			l.member, l.token = n.parent < 0 && !n.shared, n.token
		}
	}
}

// scope is the environment of one match: the object, and the values of the
// path table's nodes found so far in this run (seen[i] == run).
type scope struct {
	obj    map[string]any
	run    uint64
	seen   []uint64
	values []any
}

// in returns the field's value in the scope's object: missing, nil for a
// JSON null, or the value.
func (l *lookup) in(s *scope) any {
	if l.member {
		if v, ok := s.obj[l.token]; ok {
			return v
		}
		return missing
	}
	if l.node < 0 {
		return s.obj
	}
	return l.paths.value(s, l.node)
}

func (t *pathTable) value(s *scope, i int) any {
	n := &t.nodes[i]
	if n.shared && s.seen[i] == s.run {
		return s.values[i]
	}
	var v any
	if n.parent < 0 {
		var ok bool
		if v, ok = s.obj[n.token]; !ok {
			v = missing
		}
	} else {
		v = child(t.value(s, n.parent), n.token)
	}
	if n.shared {
		s.seen[i], s.values[i] = s.run, v
	}
	return v
}

// child follows one pointer token as JsonValue.get does: an object's
// member, or an array's element for a token that Integer.parseInt reads as
// an index in range. Anything else is missing; a member holding null is nil.
func child(v any, token string) any {
	switch c := v.(type) {
	case map[string]any:
		if m, ok := c[token]; ok {
			return m
		}
	case []any:
		if i, ok := parseJavaInt(token, 32); ok && i >= 0 && i < int64(len(c)) {
			return c[i]
		}
	}
	return missing
}

// assertion is a comparison's value, prepared once.
type assertion struct {
	Value
	num   float64 // KindLong and KindDouble, as a double
	lower string  // KindString: lowerEnglish(Str), for co and sw
}

func newAssertion(c *Comparison) *assertion {
	a := &assertion{Value: c.Value, num: c.Value.number()}
	if c.Value.Kind == KindString {
		a.lower = lowerEnglish(c.Value.Str)
	}
	return a
}

// comparison is a core comparison's assertion and operator.
type comparison struct {
	*assertion
	element func(*assertion, any) bool // the operator's test of one value
	// byOrder is set for eq and the order operators on a string: a string
	// value passes if accept[sign(compareIgnoreCase(value, Str))+1].
	byOrder bool
	accept  [3]bool
}

func newComparison(c *Comparison) *comparison {
	accept, ordered := orderAccepts[c.Operator]
	return &comparison{
		assertion: newAssertion(c),
		element:   operatorTests[c.Operator],
		byOrder:   ordered && c.Value.Kind == KindString,
		accept:    accept,
	}
}

// holds applies the operator's test to v, or to each element of an array v
// (one level deep), and passes if any passes. A missing v matches nothing.
func (c *comparison) holds(v any) bool {
	if c.byOrder {
		// The common case first: a string compared with a string.
		if s, ok := v.(string); ok {
			return c.accept[sign(compareIgnoreCase(s, c.Str))+1]
		}
	}
	return c.anyOf(v, c.element)
}

// objectTest is the comparison of field's value.
func (c *comparison) objectTest(field *lookup) objectTest {
	return func(env any) bool { return c.holds(field.in(env.(*scope))) }
}

// orderAccepts are, for eq and the order operators, whether a comparison
// answering less, equal or greater (index sign+1) passes.
var orderAccepts = map[Operator][3]bool{
	OpEqual:        {false, true, false},
	OpGreater:      {false, false, true},
	OpGreaterEqual: {false, true, true},
	OpLess:         {true, false, false},
	OpLessEqual:    {true, true, false},
}

func sign(c int) int {
	switch {
	case c < 0:
		return -1
	case c > 0:
		return 1
	}
	return 0
}

// anyOf applies test to v, or to each element of an array v, and reports
// whether any passes; a missing v matches nothing.
func (a *assertion) anyOf(v any, test func(*assertion, any) bool) bool {
	if arr, ok := v.([]any); ok {
		for _, e := range arr {
			if test(a, e) {
				return true
			}
		}
		return false
	}
	return v != missing && test(a, v)
}

func isEqual(a *assertion, v any) bool        { c, ok := a.compare(v); return ok && c == 0 }
func isGreater(a *assertion, v any) bool      { c, ok := a.compare(v); return ok && c > 0 }
func isGreaterEqual(a *assertion, v any) bool { c, ok := a.compare(v); return ok && c >= 0 }
func isLess(a *assertion, v any) bool         { c, ok := a.compare(v); return ok && c < 0 }
func isLessEqual(a *assertion, v any) bool    { c, ok := a.compare(v); return ok && c <= 0 }

// compare is IDM's compareJsonObjectValues(v, assertion) for values of the
// assertion's type; ok is false for any other type.
func (a *assertion) compare(v any) (int, bool) {
	switch a.Kind {
	case KindString:
		s, ok := v.(string)
		if !ok {
			return 0, false
		}
		return compareIgnoreCase(s, a.Str), true
	case KindBool:
		b, ok := v.(bool)
		if !ok {
			return 0, false
		}
		switch {
		case b == a.Bool:
			return 0, true
		case b:
			return 1, true
		}
		return -1, true
	default:
		n, ok := numberOf(v)
		if !ok {
			return 0, false
		}
		return compareDoubles(n, a.num), true
	}
}

// contains is IDM's co: substring of the English lower case for strings,
// equality for numbers and booleans.
func (a *assertion) contains(v any) bool {
	return a.matchLower(v, containsLowerASCII, strings.Contains)
}

// startsWith is IDM's sw: prefix of the English lower case for strings,
// equality for numbers and booleans.
func (a *assertion) startsWith(v any) bool {
	return a.matchLower(v, hasPrefixLowerASCII, strings.HasPrefix)
}

// matchLower applies a string test to the English lower case of v and the
// assertion: on ASCII values without lower-casing them (no allocation).
func (a *assertion) matchLower(v any, ascii, general func(s, sub string) bool) bool {
	if a.Kind != KindString {
		return isEqual(a, v)
	}
	s, ok := v.(string)
	if !ok {
		return false
	}
	if isASCII(s) {
		return ascii(s, a.lower)
	}
	return general(lowerEnglish(s), a.lower)
}

// numberOf reads a JSON number as the double IDM compares: json.Number
// integers as exact integers rounded once (so -0 is 0), json.Number
// decimals as Double.parseDouble reads them (1e400 is Infinity).
func numberOf(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case json.Number:
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil && !isRangeError(err) {
			return 0, false
		}
		if f == 0 && !strings.ContainsAny(string(n), ".eE") {
			f = 0 // an integer zero, even written -0
		}
		return f, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case int16:
		return float64(n), true
	case int8:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint64:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint16:
		return float64(n), true
	case uint8:
		return float64(n), true
	case float32:
		return float64(n), true
	}
	return 0, false
}

func isRangeError(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// compareDoubles is Java's Double.compare: -0.0 < 0.0, NaN above everything
// and equal to itself.
func compareDoubles(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	an, bn := math.IsNaN(a), math.IsNaN(b)
	switch {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	}
	as, bs := math.Signbit(a), math.Signbit(b)
	switch {
	case as == bs:
		return 0
	case as:
		return -1
	}
	return 1
}
