package cron

import (
	"fmt"
	"strconv"
	"strings"
	"time"
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

// maxYear is Quartz's MAX_YEAR: the JVM clock's year at class load plus 100.
// "*" and "n/s" in the year field run up to it, and no search goes past it.
var maxYear = time.Now().Year() + 100

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
	spec string // as given
	norm string // upper case, single spaces, at most seven fields
	sawL [numFields]bool

	sets           [numFields]intSet
	lastdayOfWeek  bool // "nL" in day-of-week
	nthdayOfWeek   int  // k of "n#k"; 0 when unused
	lastdayOfMonth bool // "L" in day-of-month
	nearestWeekday bool // "W" in day-of-month
	lastdayOffset  int  // n of "L-n"

	domSpec bool // day-of-month is not '?'
	dowSpec bool // day-of-week is not '?'
}

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
	p := parser{e: &Expression{spec: spec}, src: spec}
	p.e.sets[year].span = new([spanWords]uint64)
	if err := p.parse(); err != nil {
		return nil, err
	}
	return p.e, nil
}

type parser struct {
	e     *Expression
	src   string
	field int // field being parsed
	base  int // rune offset of the current value within the expression
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
	// Quartz upper-cases the whole expression (Locale.US) before parsing.
	runes := []rune(strings.Map(unicode.ToUpper, p.src))
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
		e.sawL[p.field] = containsRune(tok, 'L')
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
	if normBuf != nil {
		e.norm = string(normBuf)
	} else {
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
// evaluate: an empty field throws NoSuchElementException, and "0W" loops
// forever. ("L-nW" with a large n loops only once a search reaches February
// from certain start days; Quartz answers the other searches, so Sundial
// accepts it and ends such a search with no fire time.)
func (p *parser) checkEvaluable() error {
	e := p.e
	p.base = 0
	for _, f := range []int{second, minute, hour, month} {
		if e.sets[f].empty() {
			p.field = f
			if e.sawL[f] {
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
	if e.domSpec && e.nearestWeekday {
		if !e.lastdayOfMonth && e.sets[dayOfMonth].contains(0) {
			return &Error{Expr: p.src, Field: fieldNames[dayOfMonth], Reason: "'0W': there is no day 0 (Quartz loops forever on it)"}
		}
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

// parseJavaInt is Integer.parseInt: an optional sign, then decimal digits,
// within int32.
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
		if !isDigit(s[i]) {
			return 0, false
		}
		v = v*10 + int64(s[i]-'0')
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
					e.nthdayOfWeek = n
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
				e.lastdayOffset = v
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
		e.nthdayOfWeek = n
		e.sets[p.field].add(val)
		return nil
	case '-':
		i++
		if i >= len(s) || !isDigit(s[i]) {
			return p.fail(i, "a range needs an end value")
		}
		v := int(s[i] - '0')
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
			if i >= len(s) || !isDigit(s[i]) {
				return p.fail(i, "'/' must be followed by an integer")
			}
			v2 := int(s[i] - '0')
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
		if !isDigit(s[i]) {
			return p.fail(i, "'/' must be followed by an integer")
		}
		v2 := int(s[i] - '0')
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
	if max == -1 {
		set.addRange(startAt, stopAt, incr)
		return nil
	}
	for v := startAt; v <= stopAt; v += incr {
		v2 := v % max
		if v2 == 0 && (p.field == month || p.field == dayOfWeek || p.field == dayOfMonth) {
			v2 = max
		}
		set.add(v2)
	}
	return nil
}
