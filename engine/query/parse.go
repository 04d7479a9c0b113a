package query

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxDepth is ForgeRock's nesting limit. Each parenthesis costs four levels
// (or, and, not, primary), so 63 nested parentheses parse and 64 do not.
const maxDepth = 256

// SyntaxError is a filter that does not parse. Offset counts characters
// (Unicode code points) from 0 in Filter.
type SyntaxError struct {
	Filter string
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid query filter '%s' at offset %d: %s", e.Filter, e.Offset, e.Msg)
}

// token is one token of the filter: its text (a string's content without
// its escapes) and the byte offset where it starts.
type token struct {
	text string
	off  int
}

// Tokenizer states, as in ForgeRock's FilterTokenizer: after an opening
// quote the next token is the string's content, then the closing quote.
const (
	needToken = iota
	needStringContent
	needStringEnd
)

// tokenizer reproduces ForgeRock's lazy tokenizer, one token ahead of the
// parser. Like ForgeRock's, it knows nothing of the grammar: the parser
// compares token texts only.
type tokenizer struct {
	s     string
	pos   int
	state int
	delim byte
	next  *token // nil at the end
	buf   token
}

func newTokenizer(s string) (*tokenizer, *SyntaxError) {
	t := &tokenizer{s: s}
	return t, t.read()
}

func (t *tokenizer) hasNext() bool { return t.next != nil }

func (t *tokenizer) peek() string { return t.next.text }

// take returns the current token and reads the one after it.
func (t *tokenizer) take() (token, *SyntaxError) {
	cur := *t.next
	return cur, t.read()
}

func (t *tokenizer) read() *SyntaxError {
	s := t.s
	switch t.state {
	case needStringContent:
		start := t.pos
		var unescaped []byte // nil until the first escape
		seg := start
		for t.pos < len(s) && s[t.pos] != t.delim {
			if s[t.pos] != '\\' {
				t.pos++
				continue
			}
			if t.pos+1 == len(s) {
				return t.errAt(t.pos, "the filter string cannot end with an escape character")
			}
			// Drop the backslash and keep the next character, whatever it is.
			_, n := utf8.DecodeRuneInString(s[t.pos+1:])
			unescaped = append(unescaped, s[seg:t.pos]...)
			unescaped = append(unescaped, s[t.pos+1:t.pos+1+n]...)
			t.pos += 1 + n
			seg = t.pos
		}
		text := s[start:t.pos]
		if unescaped != nil {
			text = string(append(unescaped, s[seg:t.pos]...))
		}
		t.buf = token{text: text, off: start}
		t.next = &t.buf
		t.state = needStringEnd
	case needStringEnd:
		if t.pos < len(s) {
			t.buf = token{text: s[t.pos : t.pos+1], off: t.pos}
			t.next = &t.buf
			t.pos++
		} else {
			t.next = nil
		}
		t.state = needToken
	default:
		for t.pos < len(s) && s[t.pos] == ' ' {
			t.pos++
		}
		if t.pos == len(s) {
			t.next = nil
			return nil
		}
		start := t.pos
		c := s[t.pos]
		t.pos++
		switch c {
		case '(', ')':
		case '"', '\'':
			t.state = needStringContent
			t.delim = c
		default:
			for t.pos < len(s) && s[t.pos] != '(' && s[t.pos] != ')' && s[t.pos] != ' ' {
				t.pos++
			}
		}
		t.buf = token{text: s[start:t.pos], off: start}
		t.next = &t.buf
	}
	return nil
}

func (t *tokenizer) errAt(byteOff int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Filter: t.s, Offset: utf8.RuneCountInString(t.s[:byteOff]), Msg: fmt.Sprintf(format, args...)}
}

// errHere reports an error at the next token, or at the end of the filter.
func (t *tokenizer) errHere(format string, args ...any) *SyntaxError {
	off := len(t.s)
	if t.next != nil {
		off = t.next.off
	}
	return t.errAt(off, format, args...)
}

func (t *tokenizer) runeOffset(byteOff int) int { return utf8.RuneCountInString(t.s[:byteOff]) }

// Parse reads a CREST query filter. The text is what the parser sees, already
// URL-decoded, with any macros expanded.
func Parse(s string) (Filter, error) {
	t, err := newTokenizer(s)
	if err != nil {
		return nil, err
	}
	p := parser{t: t}
	f, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if t.hasNext() {
		return nil, t.errHere("unexpected %q after a complete filter", t.peek())
	}
	return f, nil
}

type parser struct{ t *tokenizer }

func (p *parser) depth(d int) *SyntaxError {
	if d > maxDepth {
		return p.t.errHere("more than %d nested expressions (at most 63 nested parentheses)", maxDepth)
	}
	return nil
}

func (p *parser) or(d int) (Filter, *SyntaxError)  { return p.chain(d, "or", p.and) }
func (p *parser) and(d int) (Filter, *SyntaxError) { return p.chain(d, "and", p.not) }

// chain reads operand (keyword operand)*: an Or or an And of two or more
// operands, or the single operand itself.
func (p *parser) chain(d int, keyword string, operand func(int) (Filter, *SyntaxError)) (Filter, *SyntaxError) {
	if err := p.depth(d); err != nil {
		return nil, err
	}
	f, err := operand(d + 1)
	if err != nil {
		return nil, err
	}
	var ops []Filter
	for p.t.hasNext() && javaEqualFold(p.t.peek(), keyword) {
		if _, err := p.t.take(); err != nil {
			return nil, err
		}
		g, err := operand(d + 1)
		if err != nil {
			return nil, err
		}
		if ops == nil {
			ops = []Filter{f}
		}
		ops = append(ops, g)
	}
	switch {
	case ops == nil:
		return f, nil
	case keyword == "or":
		return &Or{At: f.Offset(), Operands: ops}, nil
	default:
		return &And{At: f.Offset(), Operands: ops}, nil
	}
}

func (p *parser) not(d int) (Filter, *SyntaxError) {
	if err := p.depth(d); err != nil {
		return nil, err
	}
	if p.t.hasNext() && p.t.peek() == "!" {
		bang, err := p.t.take()
		if err != nil {
			return nil, err
		}
		f, err := p.primary(d + 1)
		if err != nil {
			return nil, err
		}
		return &Not{At: p.t.runeOffset(bang.off), Operand: f}, nil
	}
	return p.primary(d + 1)
}

func (p *parser) primary(d int) (Filter, *SyntaxError) {
	if err := p.depth(d); err != nil {
		return nil, err
	}
	t := p.t
	if !t.hasNext() {
		return nil, t.errHere("expected a filter")
	}
	tok, err := t.take()
	if err != nil {
		return nil, err
	}
	at := t.runeOffset(tok.off)
	switch {
	case tok.text == "(":
		f, err := p.or(d + 1)
		if err != nil {
			return nil, err
		}
		if !t.hasNext() || t.peek() != ")" {
			return nil, t.errHere("expected ')' to close the '(' at offset %d", at)
		}
		if _, err := t.take(); err != nil {
			return nil, err
		}
		return f, nil
	case javaEqualFold(tok.text, "true"):
		return &Literal{At: at, Value: true}, nil
	case javaEqualFold(tok.text, "false"):
		return &Literal{At: at, Value: false}, nil
	case tok.text == `"`:
		return nil, t.errAt(tok.off, "expected a field, not a quoted string")
	}
	field, perr := parsePointer(tok.text)
	if perr != nil {
		return nil, t.errAt(tok.off+perr.off, "invalid field %q: %s", tok.text, perr.msg)
	}
	if !t.hasNext() {
		return nil, t.errHere("expected an operator after the field %q", tok.text)
	}
	opTok, err := t.take()
	if err != nil {
		return nil, err
	}
	if javaEqualFold(opTok.text, "pr") {
		return &Present{At: at, Field: field}, nil
	}
	// ForgeRock reads the value before it checks the operator.
	if !t.hasNext() {
		return nil, t.errHere("expected a value after the operator %q", opTok.text)
	}
	valTok, err := t.take()
	if err != nil {
		return nil, err
	}
	var v Value
	switch {
	case valTok.text == `"` || valTok.text == "'":
		if !t.hasNext() {
			return nil, t.errHere("expected the string opened at offset %d", t.runeOffset(valTok.off))
		}
		content, err := t.take()
		if err != nil {
			return nil, err
		}
		if !t.hasNext() || t.peek() != valTok.text {
			return nil, t.errAt(valTok.off, "unterminated string: expected a closing %s", valTok.text)
		}
		if _, err := t.take(); err != nil {
			return nil, err
		}
		v = Value{Kind: KindString, Str: content.text}
	case javaEqualFold(valTok.text, "true"), javaEqualFold(valTok.text, "false"):
		v = Value{Kind: KindBool, Bool: javaEqualFold(valTok.text, "true")}
	case strings.IndexByte(valTok.text, '.') >= 0:
		f, msg := parseJavaDouble(valTok.text)
		if msg != "" {
			return nil, t.errAt(valTok.off, "%s", msg)
		}
		v = Value{Kind: KindDouble, Double: f}
	default:
		n, ok := parseJavaLong(valTok.text)
		if !ok {
			return nil, t.errAt(valTok.off, "for input string: %q (a value is a quoted string, true, false or a number)", valTok.text)
		}
		v = Value{Kind: KindLong, Long: n}
	}
	op, ok := operatorOf(opTok.text)
	if !ok {
		return nil, t.errAt(opTok.off, "%q is not a valid filter operator (eq, co, sw, gt, ge, lt, le, pr or [a-zA-Z_0-9.]+)", opTok.text)
	}
	return &Comparison{At: at, Field: field, Operator: op, Value: v}, nil
}

// operatorOf maps an operator token to a core operator (case-insensitive)
// or an extended one (as written).
func operatorOf(s string) (Operator, bool) {
	for _, c := range coreOperators {
		if javaEqualFold(s, string(c)) {
			return c, true
		}
	}
	if s == "" {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
			return "", false
		}
	}
	return Operator(s), true
}

// javaEqualFold is Java's String.equalsIgnoreCase: code units equal, or
// equal after toUpperCase, or after toUpperCase then toLowerCase. So "ſw"
// is "sw" (ſ upper-cases to S).
func javaEqualFold(s, ascii string) bool {
	i := 0
	for _, r := range s {
		if i == len(ascii) {
			return false
		}
		c := rune(ascii[i])
		i++
		if r == c {
			continue
		}
		u1, u2 := unicode.ToUpper(r), unicode.ToUpper(c)
		if u1 == u2 || unicode.ToLower(u1) == unicode.ToLower(u2) {
			continue
		}
		return false
	}
	return i == len(ascii)
}
