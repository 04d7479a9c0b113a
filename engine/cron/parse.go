package cron

import (
	"fmt"
	"math"
	"unicode/utf16"

	"golang.org/x/text/cases"
	"golang.org/x/text/language"
	"strconv"
	"strings"
	"unicode"
)

// Field indexes, in expression order.
const (
	second = iota
	minute
	hour
	dayOfMonth
	month
	dayOfWeek
	year
	numFields
)

var fieldNames = [numFields]string{"seconds", "minutes", "hours", "day-of-month", "month", "day-of-week", "year"}

// maxYear is Quartz's MAX_YEAR: "*" and "n/s" in the year field run up to
// it, and no search goes past it. Quartz computes it as the JVM clock's year
// at class load plus 100; Sundial pins it to the value the Quartz 2.3.2
// oracle vectors were computed with (2026 + 100), so that fire times never
// depend on the day the process started.
const maxYear = 2126

// hardMaxYear is the year past which Quartz gives up any search.
const hardMaxYear = 2999

// Error is a parse error: the expression, the field and the 1-based character
// position it concerns (0 when it concerns the whole expression), and why.
type Error struct {
	Expr   string
	Field  string
	Pos    int
	Reason string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid cron expression %q: ", e.Expr)
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	if e.Pos > 0 {
		fmt.Fprintf(&b, " (at character %d)", e.Pos)
	}
	return b.String()
}

// Expression is a parsed Quartz cron expression. It is immutable and safe for
// concurrent use.
type Expression struct {
	norm string // upper case, single spaces, at most seven fields

	sets           [numFields]intSet
	nthdayOfWeek   int8 // k of "n#k" (1..5); 0 when unused
	lastdayOffset  int8 // n of "L-n" (0..30)
	lastdayOfWeek  bool // "nL" in day-of-week
	lastdayOfMonth bool // "L" in day-of-month
	nearestWeekday bool // "W" in day-of-month

	domSpec bool // day-of-month is not '?'
	dowSpec bool // day-of-week is not '?'
	plain   bool // see isPlain
	anyDate bool // plain, and every day of every year up to maxYear allowed
}

// defaultYears is the year set of "*" (or no year field): every expression
// that has it shares this one, as the set is never modified after parsing.
var defaultYears = func() *setExt {
	var s intSet
	s.enableSpan()
	s.addRange(1970, maxYear, 1)
	return s.ext
}()

// MustParse is Parse that panics on error, for expressions known to be valid.
func MustParse(spec string) *Expression {
	e, err := Parse(spec)
	if err != nil {
		panic(err)
	}
	return e
}

// Parse parses a Quartz cron expression: seconds, minutes, hours, day-of-month,
// month, day-of-week and an optional year, separated by spaces or tabs.
// It accepts exactly what Quartz 2.3.2 accepts, except the few expressions
// that Quartz accepts and then fails or loops on when evaluated; those are
// rejected with an error saying why.
func Parse(spec string) (*Expression, error) {
	p := parser{e: &Expression{}, src: spec}
	if err := p.parse(); err != nil {
		return nil, err
	}
	if ys := &p.e.sets[year]; ys.ext != defaultYears && ys.ext != nil && ys.ext.span == defaultYears.span && len(ys.ext.large) == 0 {
		ys.ext = defaultYears // e.g. "1970-2126"
	}
	p.e.plain = p.e.isPlain()
	p.e.anyDate = p.e.plain && p.e.allowsEveryDate()
	return p.e, nil
}

// fieldRanges are the values each field allows, lowest and highest.
var fieldRanges = [numFields][2]int{{0, 59}, {0, 59}, {0, 23}, {1, 31}, {1, 12}, {1, 7}, {spanBase, maxYear}}

// isPlain reports whether the expression's days are ordinary or "L", "L-n",
// "LW", "L-nW" (n at most 27, so the day is never before the 1st), "nL" or
// "n#k", and its fields hold only values in their ranges (besides the markers
// of '*' and '?' beside a whole range): the expressions nextPlain answers.
func (e *Expression) isPlain() bool {
	if e.nearestWeekday && !e.lastdayOfMonth || e.lastdayOfMonth && e.lastdayOffset > 27 {
		return false // "nW", and "L-n" that can fall before the 1st
	}
	for f := second; f < year; f++ {
		s := &e.sets[f]
		if s.ext != nil {
			return false
		}
		var in intSet
		in.addRange(fieldRanges[f][0], fieldRanges[f][1], 1)
		out := [2]uint64{s.small[0] &^ in.small[0], s.small[1] &^ in.small[1]}
		if f == dayOfMonth && !e.domSpec || f == dayOfWeek && !e.dowSpec {
			continue // '?': the field is not searched
		}
		if out[0] == 0 && out[1] == 0 {
			continue
		}
		markers := [2]uint64{0, 1<<(allSpec-64) | 1<<(noSpec-64)}
		if out[0]&^markers[0] != 0 || out[1]&^markers[1] != 0 || s.small[0]&in.small[0] != in.small[0] || s.small[1]&in.small[1] != in.small[1] {
			return false
		}
	}
	ys := &e.sets[year]
	if ys.small[0] != 0 || ys.small[1]&^(1<<(allSpec-64)) != 0 || ys.ext == nil || len(ys.ext.large) != 0 {
		return false
	}
	if ys.ext == defaultYears {
		return true
	}
	for y := maxYear + 1; y < spanEnd; y++ {
		if ys.contains(y) {
			return false
		}
	}
	return true
}

// allowsEveryDate reports whether the date fields allow every date from 1970
// to maxYear.
func (e *Expression) allowsEveryDate() bool {
	full := func(f int) bool {
		var in intSet
		in.addRange(fieldRanges[f][0], fieldRanges[f][1], 1)
		s := &e.sets[f]
		return s.small[0]&in.small[0] == in.small[0] && s.small[1]&in.small[1] == in.small[1]
	}
	if e.lastdayOfMonth || e.lastdayOfWeek || e.nthdayOfWeek != 0 || !full(month) || e.sets[year].ext != defaultYears {
		return false
	}
	if e.domSpec {
		return full(dayOfMonth)
	}
	return full(dayOfWeek)
}

type parser struct {
	e     *Expression
	src   string
	field int // field being parsed
	base  int // rune offset of the current value within the expression
	sawL  [numFields]bool
}

func (p *parser) fail(pos int, format string, args ...any) error {
	at := 0
	if pos >= 0 {
		at = p.base + pos + 1
	}
	return &Error{Expr: p.src, Field: fieldNames[p.field], Pos: at, Reason: fmt.Sprintf(format, args...)}
}

func isSep(r rune) bool { return r == ' ' || r == '\t' }

func (p *parser) parse() error {
	e := p.e
	var buf [64]rune
	runes := javaChars(buf[:0], p.src)
	var norm [2]int // rune range of the normalised fields within runes
	var normBuf []rune
	i := 0
	p.field = second
	for p.field <= year {
		for i < len(runes) && isSep(runes[i]) {
			i++
		}
		if i >= len(runes) {
			break
		}
		start := i
		for i < len(runes) && !isSep(runes[i]) {
			i++
		}
		// String.trim(): drop characters <= ' ' at both ends.
		tok := runes[start:i]
		for len(tok) > 0 && tok[0] <= ' ' {
			tok = tok[1:]
			start++
		}
		for len(tok) > 0 && tok[len(tok)-1] <= ' ' {
			tok = tok[:len(tok)-1]
		}
		if err := p.parseField(tok, start); err != nil {
			return err
		}
		p.sawL[p.field] = containsRune(tok, 'L')
		// The normalised text is the runes from the first to the last field
		// when they are separated by single spaces; otherwise it is rebuilt.
		switch {
		case p.field == second:
			norm = [2]int{start, start + len(tok)}
		case normBuf == nil && start == norm[1]+1 && runes[norm[1]] == ' ':
			norm[1] = start + len(tok)
		default:
			if normBuf == nil {
				normBuf = append([]rune(nil), runes[norm[0]:norm[1]]...)
			}
			normBuf = append(append(normBuf, ' '), tok...)
		}
		p.field++
	}
	if p.field <= dayOfWeek {
		return &Error{Expr: p.src, Field: "", Reason: fmt.Sprintf("expected 6 or 7 fields, found %d", p.field)}
	}
	switch {
	case normBuf != nil:
		e.norm = string(normBuf)
	case norm[0] == 0 && norm[1] == len(runes) && sameASCII(runes, p.src):
		// Already normalised (upper case, single spaces): share the
		// caller's string instead of copying it.
		e.norm = p.src
	default:
		e.norm = string(runes[norm[0]:norm[1]])
	}
	if p.field <= year {
		p.field = year
		p.base = 0
		if err := p.addToSet(allSpec, -1, 0); err != nil {
			return err
		}
	}
	e.domSpec = !e.sets[dayOfMonth].contains(noSpec)
	e.dowSpec = !e.sets[dayOfWeek].contains(noSpec)
	if e.domSpec == e.dowSpec {
		return &Error{Expr: p.src, Field: "day-of-month and day-of-week", Reason: "one of them must be '?'"}
	}
	return p.checkEvaluable()
}

// checkEvaluable rejects the expressions that Quartz accepts but cannot
// evaluate at all: an empty field throws NoSuchElementException. ("0W" and
// "L-nW" with a large n loop only in some searches, from some start days;
// Quartz answers the others, so Sundial accepts them and ends a search that
// would loop with no fire time.)
func (p *parser) checkEvaluable() error {
	e := p.e
	p.base = 0
	for _, f := range []int{second, minute, hour, month} {
		if e.sets[f].empty() {
			p.field = f
			if p.sawL[f] {
				return &Error{Expr: p.src, Field: fieldNames[f], Reason: "'L' is only valid in day-of-month and day-of-week"}
			}
			return &Error{Expr: p.src, Field: fieldNames[f], Reason: "no value given"}
		}
	}
	if e.domSpec && !e.lastdayOfMonth && e.sets[dayOfMonth].empty() {
		return &Error{Expr: p.src, Field: fieldNames[dayOfMonth], Reason: "no value given"}
	}
	if e.dowSpec && e.sets[dayOfWeek].empty() {
		return &Error{Expr: p.src, Field: fieldNames[dayOfWeek], Reason: "no value given"}
	}
	return nil
}

func (p *parser) parseField(tok []rune, start int) error {
	e := p.e
	hasL := containsRune(tok, 'L')
	hasComma := containsRune(tok, ',')
	if p.field == dayOfMonth && hasL && len(tok) > 1 && hasComma {
		p.base = start
		return p.fail(-1, "'L' and 'LW' cannot be combined with other days of the month")
	}
	if p.field == dayOfWeek && hasL && len(tok) > 1 && hasComma {
		p.base = start
		return p.fail(-1, "'L' cannot be combined with other days of the week")
	}
	if p.field == dayOfWeek {
		if n := countRune(tok, '#'); n > 1 {
			p.base = start
			return p.fail(-1, "only one '#' is allowed")
		}
	}
	// StringTokenizer(expr, ","): empty values are skipped.
	i := 0
	for i < len(tok) {
		for i < len(tok) && tok[i] == ',' {
			i++
		}
		if i >= len(tok) {
			break
		}
		vs := i
		for i < len(tok) && tok[i] != ',' {
			i++
		}
		p.base = start + vs
		if err := p.storeValue(tok[vs:i]); err != nil {
			return err
		}
	}
	_ = e
	return nil
}

// sameASCII reports whether s is exactly the ASCII text rs.
func sameASCII(rs []rune, s string) bool {
	if len(rs) != len(s) {
		return false
	}
	for i, r := range rs {
		if r != rune(s[i]) || r >= 0x80 {
			return false
		}
	}
	return true
}

func containsRune(rs []rune, r rune) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

func countRune(rs []rune, r rune) int {
	n := 0
	for _, x := range rs {
		if x == r {
			n++
		}
	}
	return n
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

var monthNames = map[string]int{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}
var dayNames = map[string]int{"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}

// isLastOffset reports whether s matches ^L-[0-9]*W?$.
func isLastOffset(s []rune) bool {
	if len(s) < 2 || s[0] != 'L' || s[1] != '-' {
		return false
	}
	i := 2
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i < len(s) && s[i] == 'W' {
		i++
	}
	return i == len(s)
}

// parseJavaInt is Integer.parseInt: an optional sign, then decimal digits
// (any Unicode decimal digit, as Character.digit reads them), within int32.
func parseJavaInt(s []rune) (int, bool) {
	if len(s) == 0 {
		return 0, false
	}
	neg := false
	i := 0
	if s[0] == '+' || s[0] == '-' {
		neg = s[0] == '-'
		i = 1
		if len(s) == 1 {
			return 0, false
		}
	}
	v := int64(0)
	for ; i < len(s); i++ {
		d, ok := javaDigit(s[i])
		if !ok {
			return 0, false
		}
		v = v*10 + int64(d)
		if v > 1<<31 {
			return 0, false
		}
	}
	if neg {
		v = -v
	}
	if v > 1<<31-1 || v < -(1<<31) {
		return 0, false
	}
	return int(v), true
}

// getValue reads the digits from s[i:], appended to v (Quartz getValue). It
// returns the value and the position after the digits (one further when the
// digits run to the end, as Quartz does).
func (p *parser) getValue(v int, s []rune, i int) (int, int, error) {
	var buf [24]rune
	digits := buf[:0]
	for _, d := range strconv.Itoa(v) {
		digits = append(digits, d)
	}
	for i < len(s) && isDigit(s[i]) {
		digits = append(digits, s[i])
		i++
	}
	pos := i
	if i >= len(s) {
		pos = i + 1
	}
	n, ok := parseJavaInt(digits)
	if !ok {
		return 0, 0, p.fail(0, "number %q is too large", string(digits))
	}
	return n, pos, nil
}

// storeValue ports Quartz's storeExpressionVals for one comma-separated value.
func (p *parser) storeValue(s []rune) error {
	e := p.e
	i := 0
	c := s[0]
	if c >= 'A' && c <= 'Z' && !(len(s) == 1 && s[0] == 'L') && string(s) != "LW" && !isLastOffset(s) {
		if len(s) < 3 {
			return p.fail(0, "unknown value %q", string(s))
		}
		sub := string(s[0:3])
		sval, eval := -1, -1
		switch p.field {
		case month:
			v, ok := monthNames[sub]
			if !ok {
				return p.fail(0, "invalid month %q (expected JAN-DEC)", sub)
			}
			sval = v
			if len(s) > 3 && s[3] == '-' {
				if len(s) < 7 {
					return p.fail(4, "incomplete range end")
				}
				sub = string(s[4:7])
				v, ok := monthNames[sub]
				if !ok {
					return p.fail(4, "invalid month %q (expected JAN-DEC)", sub)
				}
				eval = v
			}
		case dayOfWeek:
			v, ok := dayNames[sub]
			if !ok {
				return p.fail(0, "invalid day of week %q (expected SUN-SAT)", sub)
			}
			sval = v
			if len(s) > 3 {
				switch s[3] {
				case '-':
					if len(s) < 7 {
						return p.fail(4, "incomplete range end")
					}
					sub = string(s[4:7])
					v, ok := dayNames[sub]
					if !ok {
						return p.fail(4, "invalid day of week %q (expected SUN-SAT)", sub)
					}
					eval = v
				case '#':
					n, ok := parseJavaInt(s[4:])
					if !ok || n < 1 || n > 5 {
						return p.fail(4, "a number between 1 and 5 must follow '#'")
					}
					e.nthdayOfWeek = int8(n)
				case 'L':
					e.lastdayOfWeek = true
				}
			}
		default:
			return p.fail(0, "names are not allowed here (%q)", sub)
		}
		incr := 0
		if eval != -1 {
			incr = 1
		}
		return p.addToSet(sval, eval, incr)
	}

	switch {
	case c == '?':
		i++
		if i+1 < len(s) && s[i] != ' ' && s[i+1] != '\t' {
			return p.fail(i, "unexpected character %q after '?'", s[i])
		}
		if p.field != dayOfWeek && p.field != dayOfMonth {
			return p.fail(0, "'?' is only allowed in day-of-month and day-of-week")
		}
		if p.field == dayOfWeek && !e.lastdayOfMonth {
			last, ok := e.sets[dayOfMonth].last()
			if !ok {
				return p.fail(0, "day-of-month has no value")
			}
			if last == noSpec {
				return &Error{Expr: p.src, Field: "day-of-month and day-of-week", Reason: "only one of them may be '?'"}
			}
		}
		return p.addToSet(noSpec, -1, 0)

	case c == '*' || c == '/':
		if c == '*' && i+1 >= len(s) {
			return p.addToSet(allSpec, -1, 0)
		}
		if c == '/' && (i+1 >= len(s) || s[i+1] == ' ' || s[i+1] == '\t') {
			return p.fail(i, "'/' must be followed by an integer")
		}
		if c == '*' {
			i++
		}
		c = s[i]
		incr := 0
		if c == '/' {
			i++
			if i >= len(s) {
				return p.fail(i, "'/' must be followed by an integer")
			}
			n, ok := parseJavaInt(s[i:])
			if !ok {
				return p.fail(i, "invalid increment %q", string(s[i:]))
			}
			incr = n
			if err := p.checkIncrementRange(incr, i); err != nil {
				return err
			}
		} else {
			incr = 1
		}
		return p.addToSet(allSpec, -1, incr)

	case c == 'L':
		i++
		if p.field == dayOfMonth {
			e.lastdayOfMonth = true
		}
		if p.field == dayOfWeek {
			if err := p.addToSet(7, 7, 0); err != nil {
				return err
			}
		}
		if p.field == dayOfMonth && len(s) > i {
			if s[i] == '-' {
				if i+1 >= len(s) {
					return p.fail(i, "'L-' must be followed by a number")
				}
				v, pos, err := p.getValue(0, s, i+1)
				if err != nil {
					return err
				}
				if v > 30 {
					return p.fail(i+1, "offset from the last day must be at most 30")
				}
				e.lastdayOffset = int8(v)
				i = pos
			}
			if len(s) > i && s[i] == 'W' {
				e.nearestWeekday = true
			}
		}
		return nil

	case isDigit(c):
		val := int(c - '0')
		i++
		if i >= len(s) {
			return p.addToSet(val, -1, -1)
		}
		if isDigit(s[i]) {
			v, pos, err := p.getValue(val, s, i)
			if err != nil {
				return err
			}
			val, i = v, pos
		}
		return p.checkNext(i, s, val)
	}
	return p.fail(i, "unexpected character %q", c)
}

func (p *parser) checkIncrementRange(incr, pos int) error {
	limit := 0
	switch p.field {
	case second, minute:
		limit = 59
	case hour:
		limit = 23
	case dayOfMonth:
		limit = 31
	case dayOfWeek:
		limit = 7
	case month:
		limit = 12
	default:
		return nil
	}
	if incr > limit {
		return p.fail(pos, "increment %d is larger than %d", incr, limit)
	}
	return nil
}

// checkNext ports Quartz's checkNext: what follows a number.
func (p *parser) checkNext(i int, s []rune, val int) error {
	e := p.e
	end := -1
	if i >= len(s) {
		return p.addToSet(val, end, -1)
	}
	c := s[i]
	switch c {
	case 'L':
		if p.field != dayOfWeek {
			return p.fail(i, "'L' after a number is only valid in day-of-week")
		}
		if val < 1 || val > 7 {
			return p.fail(0, "day-of-week values must be between 1 and 7")
		}
		e.lastdayOfWeek = true
		e.sets[p.field].add(val)
		return nil
	case 'W':
		if p.field != dayOfMonth {
			return p.fail(i, "'W' is only valid in day-of-month")
		}
		e.nearestWeekday = true
		if val > 31 {
			return p.fail(i, "'W' needs a day between 1 and 31")
		}
		e.sets[p.field].add(val)
		return nil
	case '#':
		if p.field != dayOfWeek {
			return p.fail(i, "'#' is only valid in day-of-week")
		}
		i++
		n, ok := parseJavaInt(s[i:])
		if !ok || n < 1 || n > 5 {
			return p.fail(i, "a number between 1 and 5 must follow '#'")
		}
		e.nthdayOfWeek = int8(n)
		e.sets[p.field].add(val)
		return nil
	case '-':
		i++
		if i >= len(s) {
			return p.fail(i, "a range needs an end value")
		}
		v, ok := javaDigit(s[i]) // Integer.parseInt(String.valueOf(c))
		if !ok {
			return p.fail(i, "a range needs an end value")
		}
		end = v
		i++
		if i >= len(s) {
			return p.addToSet(val, end, 1)
		}
		if isDigit(s[i]) {
			n, pos, err := p.getValue(v, s, i)
			if err != nil {
				return err
			}
			end, i = n, pos
		}
		if i < len(s) && s[i] == '/' {
			i++
			if i >= len(s) {
				return p.fail(i, "'/' must be followed by an integer")
			}
			v2, ok := javaDigit(s[i])
			if !ok {
				return p.fail(i, "'/' must be followed by an integer")
			}
			i++
			if i >= len(s) {
				return p.addToSet(val, end, v2)
			}
			if isDigit(s[i]) {
				v3, _, err := p.getValue(v2, s, i)
				if err != nil {
					return err
				}
				return p.addToSet(val, end, v3)
			}
			return p.addToSet(val, end, v2)
		}
		return p.addToSet(val, end, 1)
	case '/':
		if i+1 >= len(s) || s[i+1] == ' ' || s[i+1] == '\t' {
			return p.fail(i, "'/' must be followed by an integer")
		}
		i++
		v2, ok := javaDigit(s[i])
		if !ok {
			return p.fail(i, "'/' must be followed by an integer")
		}
		i++
		if i >= len(s) {
			if err := p.checkIncrementRange(v2, i); err != nil {
				return err
			}
			return p.addToSet(val, end, v2)
		}
		if isDigit(s[i]) {
			v3, _, err := p.getValue(v2, s, i)
			if err != nil {
				return err
			}
			if err := p.checkIncrementRange(v3, i); err != nil {
				return err
			}
			return p.addToSet(val, end, v3)
		}
		return p.fail(i, "unexpected character %q after '/'", s[i])
	}
	return p.addToSet(val, end, 0)
}

// addToSet ports Quartz's addToSet: range checks, then the values from val to
// end by incr, wrapping around the field's maximum when end < val.
func (p *parser) addToSet(val, end, incr int) error {
	set := &p.e.sets[p.field]
	if p.field == year {
		switch {
		case set.ext == nil && val == allSpec && incr <= 0:
			// A plain "*" year (the usual case, also when there is no
			// year field): the shared set, no allocation.
			set.add(allSpec)
			set.ext = defaultYears
			return nil
		case set.ext == defaultYears:
			// Another value after "*": copy before changing.
			x := *defaultYears
			set.ext = &x
		case set.ext == nil:
			set.enableSpan()
		}
	}
	switch p.field {
	case second, minute:
		if (val < 0 || val > 59 || end > 59) && val != allSpec {
			return p.fail(0, "values must be between 0 and 59")
		}
	case hour:
		if (val < 0 || val > 23 || end > 23) && val != allSpec {
			return p.fail(0, "values must be between 0 and 23")
		}
	case dayOfMonth:
		if (val < 1 || val > 31 || end > 31) && val != allSpec && val != noSpec {
			return p.fail(0, "values must be between 1 and 31")
		}
	case month:
		if (val < 1 || val > 12 || end > 12) && val != allSpec {
			return p.fail(0, "values must be between 1 and 12 (or JAN-DEC)")
		}
	case dayOfWeek:
		if (val == 0 || val > 7 || end > 7) && val != allSpec && val != noSpec {
			return p.fail(0, "values must be between 1 and 7 (or SUN-SAT)")
		}
	}
	if (incr == 0 || incr == -1) && val != allSpec {
		if val != -1 {
			set.add(val)
		} else {
			set.add(noSpec)
		}
		return nil
	}
	startAt, stopAt := val, end
	if val == allSpec && incr <= 0 {
		incr = 1
		set.add(allSpec)
	}
	lo, hi := 0, 0
	switch p.field {
	case second, minute:
		lo, hi = 0, 59
	case hour:
		lo, hi = 0, 23
	case dayOfMonth:
		lo, hi = 1, 31
	case month:
		lo, hi = 1, 12
	case dayOfWeek:
		lo, hi = 1, 7
	case year:
		lo, hi = 1970, maxYear
	}
	if stopAt == -1 {
		stopAt = hi
	}
	if startAt == -1 || startAt == allSpec {
		startAt = lo
	}
	max := -1
	if stopAt < startAt {
		switch p.field {
		case second, minute:
			max = 60
		case hour:
			max = 24
		case month:
			max = 12
		case dayOfWeek:
			max = 7
		case dayOfMonth:
			max = 31
		case year:
			return p.fail(0, "the start year must be before the end year")
		}
		stopAt += max
	}
	if incr <= 0 {
		// Quartz would loop forever here; only reachable with a negative step.
		return p.fail(0, "the increment must be positive")
	}
	if p.field == year && stopAt > hardMaxYear {
		// A year past 2999 ends every search, so the first one stands for
		// all of them (Quartz would fill millions: "2026-99999999").
		stopAt = firstAbove(startAt, incr, hardMaxYear, stopAt)
	}
	if max == -1 && int64(stopAt)+int64(incr) <= math.MaxInt32 {
		set.addRange(startAt, stopAt, incr)
		return nil
	}
	// Quartz's loop counter is a Java int: a step near 2^31 wraps it
	// negative, and those values land in the set too.
	for v, n := int32(startAt), 0; v <= int32(stopAt); v, n = v+int32(incr), n+1 {
		if n > 1<<16 {
			return p.fail(0, "increment %d is too large", incr)
		}
		if max == -1 {
			set.add(int(v))
			if p.field == year && int(v) > hardMaxYear {
				break
			}
			continue
		}
		v2 := int(v % int32(max))
		if v2 == 0 && (p.field == month || p.field == dayOfWeek || p.field == dayOfMonth) {
			v2 = max
		}
		set.add(v2)
	}
	return nil
}

// firstAbove returns the first value of start, start+step, … that is above
// limit, or end when none is before end.
func firstAbove(start, step, limit, end int) int {
	if start > limit {
		return start
	}
	k := (limit-start)/step + 1
	if v := int64(start) + int64(k)*int64(step); v <= int64(end) {
		return int(v)
	}
	return end
}

// javaDigit is Character.digit(c, 10): the value of a decimal digit of any
// script (UTF-16 code units, so only the Basic Multilingual Plane).
func javaDigit(c rune) (int, bool) {
	if c >= '0' && c <= '9' {
		return int(c - '0'), true
	}
	if c < 0x80 || c > 0xFFFF || !unicode.IsDigit(c) {
		return 0, false
	}
	zero := c
	for zero > 0 && unicode.IsDigit(zero-1) {
		zero--
	}
	return int(c-zero) % 10, true
}

// javaChars returns the expression as Quartz sees it: upper-cased the way
// Java's toUpperCase(Locale.US) does (full case mapping: "ß" becomes "SS"),
// as UTF-16 code units (a character outside the Basic Multilingual Plane is
// two units).
func javaChars(dst []rune, s string) []rune {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		for i := 0; i < len(s); i++ {
			c := rune(s[i])
			if c >= 'a' && c <= 'z' {
				c -= 'a' - 'A'
			}
			dst = append(dst, c)
		}
		return dst
	}
	up := cases.Upper(language.AmericanEnglish).String(s)
	for _, u := range utf16.Encode([]rune(up)) {
		dst = append(dst, rune(u))
	}
	return dst
}
