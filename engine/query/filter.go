package query

import (
	"strconv"
	"strings"
)

// Filter is a parsed query filter: one of *Literal, *And, *Or, *Not,
// *Present or *Comparison.
type Filter interface {
	// Offset is the character offset of the node's first token in the
	// parsed text.
	Offset() int
	// String returns ForgeRock's canonical form (QueryFilter.toString).
	String() string
	writeTo(b *strings.Builder)
}

// Literal is true or false.
type Literal struct {
	At    int
	Value bool
}

// And holds two or more operands, all of which must match.
type And struct {
	At       int
	Operands []Filter
}

// Or holds two or more operands, one of which must match.
type Or struct {
	At       int
	Operands []Filter
}

// Not negates its operand.
type Not struct {
	At      int
	Operand Filter
}

// Present is "field pr": the field exists and is not null.
type Present struct {
	At    int
	Field Pointer
}

// Operator names a comparison.
type Operator string

// The core operators. Any other operator is extended.
const (
	OpEqual        Operator = "eq"
	OpContains     Operator = "co"
	OpStartsWith   Operator = "sw"
	OpGreater      Operator = "gt"
	OpGreaterEqual Operator = "ge"
	OpLess         Operator = "lt"
	OpLessEqual    Operator = "le"
)

var coreOperators = []Operator{OpEqual, OpGreater, OpGreaterEqual, OpLess, OpLessEqual, OpContains, OpStartsWith}

// Extended reports whether op is not one of the core operators; IDM's
// matcher answers false for those.
func (op Operator) Extended() bool {
	for _, c := range coreOperators {
		if op == c {
			return false
		}
	}
	return true
}

// Comparison is "field op value".
type Comparison struct {
	At       int
	Field    Pointer
	Operator Operator // core operators lower-case, extended ones as written
	Value    Value
}

// ValueKind is the type of an assertion value.
type ValueKind uint8

// The assertion value types; ForgeRock keeps longs and doubles apart for the
// canonical form, and compares both as doubles.
const (
	KindString ValueKind = iota
	KindBool
	KindLong
	KindDouble
)

// Value is an assertion value.
type Value struct {
	Kind   ValueKind
	Str    string  // KindString
	Bool   bool    // KindBool
	Long   int64   // KindLong
	Double float64 // KindDouble
}

// number returns a numeric value as a double, as IDM compares it.
func (v Value) number() float64 {
	if v.Kind == KindLong {
		return float64(v.Long)
	}
	return v.Double
}

func (v Value) writeTo(b *strings.Builder) {
	switch v.Kind {
	case KindString:
		// ForgeRock writes the string between quotes without escaping.
		b.WriteByte('"')
		b.WriteString(v.Str)
		b.WriteByte('"')
	case KindBool:
		b.WriteString(strconv.FormatBool(v.Bool))
	case KindLong:
		b.WriteString(strconv.FormatInt(v.Long, 10))
	case KindDouble:
		b.WriteString(javaDoubleString(v.Double))
	}
}

func (f *Literal) Offset() int    { return f.At }
func (f *And) Offset() int        { return f.At }
func (f *Or) Offset() int         { return f.At }
func (f *Not) Offset() int        { return f.At }
func (f *Present) Offset() int    { return f.At }
func (f *Comparison) Offset() int { return f.At }

func (f *Literal) String() string    { return stringOf(f) }
func (f *And) String() string        { return stringOf(f) }
func (f *Or) String() string         { return stringOf(f) }
func (f *Not) String() string        { return stringOf(f) }
func (f *Present) String() string    { return stringOf(f) }
func (f *Comparison) String() string { return stringOf(f) }

func stringOf(f Filter) string {
	var b strings.Builder
	f.writeTo(&b)
	return b.String()
}

func (f *Literal) writeTo(b *strings.Builder) { b.WriteString(strconv.FormatBool(f.Value)) }
func (f *And) writeTo(b *strings.Builder)     { writeComposite(b, " and ", f.Operands) }
func (f *Or) writeTo(b *strings.Builder)      { writeComposite(b, " or ", f.Operands) }

func (f *Not) writeTo(b *strings.Builder) {
	b.WriteString("! (")
	f.Operand.writeTo(b)
	b.WriteByte(')')
}

func (f *Present) writeTo(b *strings.Builder) {
	b.WriteString(f.Field.String())
	b.WriteString(" pr")
}

func (f *Comparison) writeTo(b *strings.Builder) {
	b.WriteString(f.Field.String())
	b.WriteByte(' ')
	b.WriteString(string(f.Operator))
	b.WriteByte(' ')
	f.Value.writeTo(b)
}

func writeComposite(b *strings.Builder, sep string, operands []Filter) {
	b.WriteByte('(')
	for i, o := range operands {
		if i > 0 {
			b.WriteString(sep)
		}
		o.writeTo(b)
	}
	b.WriteByte(')')
}
