package query

import (
	"encoding/json"
	"fmt"
	"maps"
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
	matchers sync.Pool // of *Matcher, for Match
}

// Matcher evaluates a Program with its own expr VM; it is for one
// goroutine at a time (a scan worker keeps one) and does not allocate.
type Matcher struct {
	program *Program
	vm      vm.VM
}

// Compile builds the expr program of f. The object is the program's
// environment, so the VM reads the object's members itself; the tests of
// their values are functions bound into the program as constants (see
// Source), so that a match runs typed calls only: no reflection and no
// allocation per object.
func Compile(f Filter) (*Program, error) {
	g := newGenerator(f)
	g.gen(f)
	src := g.b.String()
	program, err := expr.Compile(src,
		expr.Env(map[string]any{}),
		expr.AllowUndefinedVariables(), // the members an object may lack
		expr.DisableAllBuiltins(),
		expr.MaxNodes(0), // a filter's size is bounded by its text, not by expr
		expr.Patch(constantBinder(g.consts)),
	)
	if err != nil {
		return nil, fmt.Errorf("compile query filter %s: %w", f, err)
	}
	return &Program{filter: f, source: src, bindings: g.bindings, program: program}, nil
}

// Binding is a name the program's source uses, with its meaning in the
// canonical form: a member of the object (mN; its field of one token), a
// comparison (cN), a presence test (pN; the field alone), or an and, or or
// not of comparisons and presence tests of one field (fN). A test is given
// the value of its field's first token, a member or a variable holding one
// (the object itself, $env, for the empty field), and follows the rest of
// the field.
type Binding struct {
	Name, Text string
}

// Bindings returns the program's names in source order.
func (p *Program) Bindings() []Binding { return p.bindings }

// Filter returns the filter the program was compiled from.
func (p *Program) Filter() Filter { return p.filter }

// Source returns the expr text of the program, e.g.
// (let v0 = m0; c0(v0) && f0(v0)), where m0 is a member of the object
// being matched, v0 a variable holding it for the tests that read it, c0 a
// comparison and f0 a group of tests of one field; see Bindings.
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
func (p *Program) Matcher() *Matcher { return &Matcher{program: p} }

// Match reports whether obj matches the filter.
func (m *Matcher) Match(obj map[string]any) bool {
	out, err := m.vm.Run(m.program.program, obj)
	if err != nil {
		// The functions never fail and every node of the source is a bool.
		panic(fmt.Sprintf("query: expr program failed: %v", err))
	}
	return out.(bool)
}

// generator writes the expr source of a filter and collects the names it
// binds.
type generator struct {
	b        strings.Builder
	consts   map[string]any
	bindings []Binding
	// reads counts, for each node of the filter, the tests under it that
	// read each member (by its token).
	reads map[Filter]map[string]int
	// members names the members bound so far; variables the members held
	// in a variable where the source is being written.
	members, variables map[string]string
	// taken holds the members' tokens: a variable of one of those names
	// would hide the member from the compiler.
	taken map[string]bool

	comparisons, presences, groups, variableCount int
}

func newGenerator(f Filter) *generator {
	g := &generator{
		consts:    map[string]any{},
		reads:     map[Filter]map[string]int{},
		members:   map[string]string{},
		variables: map[string]string{},
		taken:     map[string]bool{},
	}
	g.countReads(f)
	return g
}

// member is the token of field that the VM reads from the object, if any:
// its first token, but not "$env", which names the object in expr.
func member(field Pointer) (string, bool) {
	if len(field.Tokens) == 0 || field.Tokens[0] == "$env" {
		return "", false
	}
	return field.Tokens[0], true
}

func (g *generator) countReads(f Filter) map[string]int {
	n := map[string]int{}
	if field, ok := singleField(f); ok { // one test of the source
		if m, ok := member(field); ok {
			n[m] = 1
			g.taken[m] = true
		}
	} else {
		var operands []Filter
		switch f := f.(type) {
		case *And:
			operands = f.Operands
		case *Or:
			operands = f.Operands
		case *Not:
			operands = []Filter{f.Operand}
		}
		for _, o := range operands {
			for m, c := range g.countReads(o) {
				n[m] += c
			}
		}
	}
	g.reads[f] = n
	return n
}

func (g *generator) gen(f Filter) {
	if field, ok := singleField(f); ok {
		if _, leaf := f.(*Present); !leaf {
			if _, leaf := f.(*Comparison); !leaf {
				// One function for the whole group: one call, one look-up.
				g.test("f", &g.groups, field, valueTestOf(f), f.String())
				return
			}
		}
	}
	switch f := f.(type) {
	case *Literal:
		g.b.WriteString(strconv.FormatBool(f.Value))
	case *And:
		g.composite(f, " && ", f.Operands)
	case *Or:
		g.composite(f, " || ", f.Operands)
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
		g.test("p", &g.presences, f.Field, isPresent, f.Field.String())
	case *Comparison:
		if f.Operator.Extended() {
			// IDM does not support extended operators: always false.
			g.b.WriteString("false")
			return
		}
		g.test("c", &g.comparisons, f.Field, newComparison(f).holds, f.String())
	}
}

// composite writes an and or an or of operands. A member that more than
// one test reads, all of them in f but not all in one operand, is read
// once into a variable at the start of f.
func (g *generator) composite(f Filter, sep string, operands []Filter) {
	g.b.WriteString("(")
	var declared []string
	reads := g.reads[f]
	for _, m := range slices.Sorted(maps.Keys(reads)) {
		if reads[m] < 2 || g.variables[m] != "" || !g.spans(operands, m, reads[m]) {
			continue
		}
		v := g.variable()
		g.b.WriteString("let " + v + " = " + g.member(m) + "; ")
		g.variables[m] = v
		declared = append(declared, m)
	}
	for i, o := range operands {
		if i > 0 {
			g.b.WriteString(sep)
		}
		g.gen(o)
	}
	g.b.WriteString(")")
	for _, m := range declared {
		delete(g.variables, m)
	}
}

// spans reports whether the n reads of member m under operands are not all
// under one of them.
func (g *generator) spans(operands []Filter, m string, n int) bool {
	for _, o := range operands {
		if g.reads[o][m] == n {
			return false
		}
	}
	return true
}

// variable returns a new variable name, one no member has: the compiler
// would read that name as the variable.
func (g *generator) variable() string {
	for {
		v := "v" + strconv.Itoa(g.variableCount)
		g.variableCount++
		if !g.taken[v] {
			return v
		}
	}
}

// member returns the source's name of the object's member m.
func (g *generator) member(m string) string {
	name, ok := g.members[m]
	if !ok {
		name = "m" + strconv.Itoa(len(g.members))
		g.members[m] = name
		g.bind(name, memberName(m), Pointer{Tokens: []string{m}}.String())
	}
	return name
}

// test binds a test of field's value, named kind and a number from count,
// and writes its call on the value of the field's first token.
func (g *generator) test(kind string, count *int, field Pointer, test valueTest, text string) {
	name := kind + strconv.Itoa(*count)
	*count++
	arg, rest := "$env", field.Tokens
	if m, ok := member(field); ok {
		arg, rest = g.variables[m], field.Tokens[1:]
		if arg == "" {
			arg = g.member(m)
		}
	}
	g.bind(name, follow(rest, test), text)
	g.b.WriteString(name + "(" + arg + ")")
}

// bind names a constant of the source.
func (g *generator) bind(name string, value any, text string) {
	g.consts[name] = value
	g.bindings = append(g.bindings, Binding{Name: name, Text: text})
}

// memberName is a member of the object, which the source reads by name.
type memberName string

// constantBinder replaces the identifiers of the generated source by what
// they name: the functions as constants, and the members as identifiers of
// the environment, which the VM reads from the object (OpLoadFast).
type constantBinder map[string]any

func (c constantBinder) Visit(node *ast.Node) {
	id, ok := (*node).(*ast.IdentifierNode)
	if !ok {
		return
	}
	switch v := c[id.Value].(type) {
	case nil:
	case memberName:
		ast.Patch(node, &ast.IdentifierNode{Value: string(v)})
	default:
		ast.Patch(node, &ast.ConstantNode{Value: v})
	}
}

// valueTest is a function of the generated source: a test of a value of
// the object (missing or nil for a member the object lacks or holds null).
// Its type is among expr's typed function signatures, so the VM calls it
// directly.
type valueTest = func(v any) bool

// follow is test applied to the value that rest leads to from its argument.
func follow(rest []string, test valueTest) valueTest {
	switch len(rest) {
	case 0:
		return test
	case 1:
		token := rest[0]
		return func(v any) bool { return test(child(v, token)) }
	}
	return func(v any) bool {
		for _, t := range rest {
			v = child(v, t)
		}
		return test(v)
	}
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
