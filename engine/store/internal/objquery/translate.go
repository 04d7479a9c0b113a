// Package objquery turns a CREST query filter into SQL over the JSON
// documents of managed objects, for both SQL backends, and runs the part of
// a query that SQL cannot decide (the recheck with engine/query's matcher,
// sorting, paging).
//
// A filter becomes two SQL conditions, Sure and Maybe, with
// Sure ⇒ match ⇒ Maybe for every document: the backend selects the rows
// where Maybe holds and returns Sure beside each, and a row whose Sure is
// false is matched again in Go. Where SQL can decide a test exactly, Sure
// and Maybe are the same expression and no row is matched twice.
//
// What is exact, for fields whose tokens are plain member names:
//
//   - pr, true, false, and, or, not; extended operators (always false);
//   - comparisons with a string of ASCII characters without NUL: the
//     document's string is folded as Java's compareToIgnoreCase folds it
//     (ASCII case, plus the four non-ASCII letters that fold into ASCII:
//     ı İ ſ and the Kelvin sign), in code-point order, which is the
//     matcher's order against an ASCII string; co and sw lower-case as
//     Java's toLowerCase(Locale.ENGLISH) does (the Kelvin sign and İ are
//     the non-ASCII letters that become ASCII);
//   - comparisons with booleans, and with non-zero finite numbers (as
//     doubles), on any document value;
//   - an array value matches when one of its elements does.
//
// Not exact, so rechecked in Go: strings with non-ASCII characters or NUL
// in the filter, numbers equal to zero on either side (Java's
// Double.compare orders -0.0 below 0.0), numbers that do not fit a double
// on PostgreSQL, infinite or NaN filter values, and fields with a token
// that is empty, a number (an array index to IDM), or that contains a
// quote, a backslash or a control character.
package objquery

import (
	"math"
	"strconv"
	"strings"
	"unicode"

	"sundial/engine/query"
)

// Kind is a JSON type as a dialect tests it.
type Kind uint8

// The JSON types a condition tests.
const (
	KindString Kind = iota
	KindNumber
	KindTrue
	KindFalse
	KindArray
)

// Value is a JSON value in SQL, as a dialect spells it: its JSON text, its
// type name and its SQL value (each "" when the dialect does not use it).
type Value struct {
	JSON, Type, SQL string
}

// Dialect spells the SQL of one backend over the document column "doc".
type Dialect interface {
	// Path is the JSON value at tokens of the document (SQL NULL when
	// missing), or ok false when the tokens cannot be addressed.
	Path(tokens []string) (v Value, ok bool)
	// Present is true when v exists and is not a JSON null.
	Present(v Value) string
	// Is is true when v is of kind k (false when missing).
	Is(v Value, k Kind) string
	// Text is the SQL text of a JSON string v.
	Text(v Value) string
	// Number is the double of a JSON number v, valid where guard holds
	// ("" when always), and the guard.
	Number(v Value) (num, guard string)
	// AnyElement is true when cond holds for an element of the array v.
	AnyElement(v Value, cond func(e Value) string) string
	// Ordered makes a text expression compare by code point.
	Ordered(text string) string
	// Contains is true when text holds sub.
	Contains(text, sub string) string
	// Quote is a string literal.
	Quote(s string) string
}

// Translation is a filter as two SQL conditions: Sure ⇒ match ⇒ Maybe.
type Translation struct {
	Sure, Maybe string
}

// Exact reports whether SQL decides the filter alone.
func (t Translation) Exact() bool { return t.Sure == t.Maybe }

const (
	sqlTrue  = "TRUE"
	sqlFalse = "FALSE"
)

func exact(e string) Translation { return Translation{Sure: e, Maybe: e} }

var unknown = Translation{Sure: sqlFalse, Maybe: sqlTrue}

// Translate turns f (nil: match everything) into SQL.
func Translate(d Dialect, f query.Filter) Translation {
	if f == nil {
		return exact(sqlTrue)
	}
	switch f := f.(type) {
	case *query.Literal:
		if f.Value {
			return exact(sqlTrue)
		}
		return exact(sqlFalse)
	case *query.And:
		return combine(d, f.Operands, " AND ", sqlTrue)
	case *query.Or:
		return combine(d, f.Operands, " OR ", sqlFalse)
	case *query.Not:
		t := Translate(d, f.Operand)
		return Translation{Sure: not(t.Maybe), Maybe: not(t.Sure)}
	case *query.Present:
		v, ok := d.Path(f.Field.Tokens)
		if !ok {
			return unknown
		}
		return exact(d.Present(v))
	case *query.Comparison:
		return comparison(d, f)
	}
	return unknown
}

func not(e string) string {
	switch e {
	case sqlTrue:
		return sqlFalse
	case sqlFalse:
		return sqlTrue
	}
	return "NOT (" + e + ")"
}

// combine joins the operands' conditions, dropping the neutral ones and
// collapsing on an absorbing one.
func combine(d Dialect, operands []query.Filter, sep, neutral string) Translation {
	absorbing := not(neutral)
	var sure, maybe []string
	sureAbsorbed, maybeAbsorbed := false, false
	for _, o := range operands {
		t := Translate(d, o)
		switch t.Sure {
		case neutral:
		case absorbing:
			sureAbsorbed = true
		default:
			sure = append(sure, "("+t.Sure+")")
		}
		switch t.Maybe {
		case neutral:
		case absorbing:
			maybeAbsorbed = true
		default:
			maybe = append(maybe, "("+t.Maybe+")")
		}
	}
	join := func(parts []string, absorbed bool) string {
		switch {
		case absorbed:
			return absorbing
		case len(parts) == 0:
			return neutral
		}
		return strings.Join(parts, sep)
	}
	return Translation{Sure: join(sure, sureAbsorbed), Maybe: join(maybe, maybeAbsorbed)}
}

// elementTest is a comparison's test of one JSON value, as the pair of SQL
// conditions; it is false for values of other types.
type elementTest func(e Value) (sure, maybe string)

func comparison(d Dialect, c *query.Comparison) Translation {
	if c.Operator.Extended() {
		return exact(sqlFalse)
	}
	v, ok := d.Path(c.Field.Tokens)
	if !ok {
		return unknown
	}
	var test elementTest
	switch c.Value.Kind {
	case query.KindString:
		test = stringTest(d, c.Operator, c.Value.Str)
	case query.KindBool:
		test = boolTest(d, c.Operator, c.Value.Bool)
	default:
		n := float64(c.Value.Long)
		if c.Value.Kind == query.KindDouble {
			n = c.Value.Double
		}
		test = numberTest(d, c.Operator, n)
	}
	if test == nil {
		return unknown
	}
	// The value itself, or one of its elements when it is an array.
	sure, maybe := test(v)
	sureElem := d.AnyElement(v, func(e Value) string { s, _ := test(e); return s })
	maybeElem := d.AnyElement(v, func(e Value) string { _, m := test(e); return m })
	arr := d.Is(v, KindArray)
	or := func(scalar, elem string) string {
		return "(" + scalar + ") OR CASE WHEN " + arr + " THEN " + elem + " ELSE FALSE END"
	}
	t := Translation{Sure: or(sure, sureElem), Maybe: or(maybe, maybeElem)}
	if sure == maybe {
		t.Maybe = t.Sure
	}
	return t
}

// sqlOperator is the SQL of an order operator.
var sqlOperator = map[query.Operator]string{
	query.OpEqual: "=", query.OpGreater: ">", query.OpGreaterEqual: ">=",
	query.OpLess: "<", query.OpLessEqual: "<=",
}

// foldIntoASCII are the non-ASCII letters that Java's
// toLowerCase(toUpperCase(c)) turns into ASCII letters.
var foldIntoASCII = [][2]string{{"ı", "i"}, {"İ", "i"}, {"ſ", "s"}, {"\u212a", "k"}}

// lowerIntoASCII are the non-ASCII letters whose toLowerCase(Locale.ENGLISH)
// holds ASCII letters.
var lowerIntoASCII = [][2]string{{"\u212a", "k"}, {"İ", "i\u0307"}}

func replaced(d Dialect, text string, pairs [][2]string) string {
	for _, p := range pairs {
		text = "replace(" + text + ", " + d.Quote(p[0]) + ", " + d.Quote(p[1]) + ")"
	}
	return "lower(" + d.Ordered(text) + ")"
}

func stringTest(d Dialect, op query.Operator, s string) elementTest {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 || s[i] >= 0x80 {
			return nil
		}
	}
	lower := d.Quote(strings.ToLower(s))
	var cond func(text string) string
	switch op {
	case query.OpContains:
		cond = func(text string) string {
			return d.Contains(replaced(d, text, lowerIntoASCII), lower)
		}
	case query.OpStartsWith:
		cond = func(text string) string {
			return "substr(" + replaced(d, text, lowerIntoASCII) + ", 1, " + strconv.Itoa(len(s)) + ") = " + lower
		}
	default:
		sqlOp := sqlOperator[op]
		cond = func(text string) string {
			return replaced(d, text, foldIntoASCII) + " " + sqlOp + " " + d.Ordered(lower)
		}
	}
	return func(e Value) (string, string) {
		c := "CASE WHEN " + d.Is(e, KindString) + " THEN " + cond(d.Text(e)) + " ELSE FALSE END"
		return c, c
	}
}

// boolTest: false < true; co and sw mean equality.
func boolTest(d Dialect, op query.Operator, b bool) elementTest {
	var accept []Kind
	switch {
	case op == query.OpEqual || op == query.OpContains || op == query.OpStartsWith:
		accept = []Kind{kindOf(b)}
	case op == query.OpGreater && !b, op == query.OpGreaterEqual && b:
		accept = []Kind{KindTrue}
	case op == query.OpGreaterEqual && !b, op == query.OpLessEqual && b:
		accept = []Kind{KindTrue, KindFalse}
	case op == query.OpLess && b, op == query.OpLessEqual && !b:
		accept = []Kind{KindFalse}
	}
	return func(e Value) (string, string) {
		if len(accept) == 0 {
			return sqlFalse, sqlFalse
		}
		parts := make([]string, len(accept))
		for i, k := range accept {
			parts[i] = d.Is(e, k)
		}
		c := "(" + strings.Join(parts, " OR ") + ")"
		return c, c
	}
}

func kindOf(b bool) Kind {
	if b {
		return KindTrue
	}
	return KindFalse
}

// numberTest compares as doubles; co and sw mean equality. A zero on
// either side is left to Go (-0.0 < 0.0 in Java, not in SQL).
func numberTest(d Dialect, op query.Operator, n float64) elementTest {
	if math.IsInf(n, 0) || math.IsNaN(n) {
		return nil
	}
	sqlOp := sqlOperator[op]
	if sqlOp == "" {
		sqlOp = "="
	}
	lit := strconv.FormatFloat(n, 'g', -1, 64)
	if !strings.ContainsAny(lit, ".e") {
		lit += ".0"
	}
	return func(e Value) (string, string) {
		num, guard := d.Number(e)
		cmp := num + " " + sqlOp + " " + lit
		sure, maybe := cmp, cmp
		if n == 0 {
			sure = "(" + cmp + " AND " + num + " <> 0)"
			maybe = "(" + cmp + " OR " + num + " = 0)"
		}
		if guard != "" {
			sure = "CASE WHEN " + guard + " THEN " + sure + " ELSE FALSE END"
			maybe = "CASE WHEN " + guard + " THEN " + maybe + " ELSE TRUE END"
		}
		is := d.Is(e, KindNumber)
		return "CASE WHEN " + is + " THEN " + sure + " ELSE FALSE END",
			"CASE WHEN " + is + " THEN " + maybe + " ELSE FALSE END"
	}
}

// PlainToken reports whether a pointer token is a member name both
// dialects can address exactly: not empty, not an array index to IDM
// (Integer.parseInt reads it), no quote, backslash or control character.
func PlainToken(t string) bool {
	if t == "" {
		return false
	}
	number := true
	for i, r := range t {
		if r == '"' || r == '\\' || r == '\'' || unicode.IsControl(r) || r == 0x2028 || r == 0x2029 {
			return false
		}
		if !(unicode.IsDigit(r) || i == 0 && (r == '+' || r == '-')) {
			number = false
		}
	}
	return !number
}
