package config

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds the nesting of objects and arrays, so that hostile input
// cannot exhaust the stack.
const maxDepth = 200

// syntaxError is a parse error at a position; the loader turns it into a
// *FileError wrapping ErrSyntax.
type syntaxError struct {
	line, col int
	msg       string
}

func (e *syntaxError) Error() string { return e.msg }

// parseJSON parses a JSON document into nodes that remember their line and
// column. Comments (// to end of line, /* */) are whitespace, as with
// Jackson's ALLOW_COMMENTS, which IDM turns on; since the parser skips them
// in place, every position is exactly where the text is.
//
// yaml.v3 is not used for JSON because it rejects valid JSON (the escape \/,
// surrogate pairs) and silently ignores content after the top-level value.
// An empty document (only whitespace and comments) returns nil, nil.
func parseJSON(data []byte) (*node, error) {
	p := &jsonParser{data: data, line: 1}
	// A short document (an invokeContext decoded for a REST answer) gets a
	// first chunk of nodes no larger than it can use: every key follows a
	// colon, and every value other than the top-level one a colon, a
	// bracket or a comma.
	p.slab = make([]node, min(slabSize, 1+2*bytes.Count(data, colon)+bytes.Count(data, bracket)+bytes.Count(data, comma)))
	if err := p.skipSpace(); err != nil {
		return nil, err
	}
	if p.off == len(p.data) {
		return nil, nil
	}
	n, err := p.value(0)
	if err != nil {
		return nil, err
	}
	if err := p.skipSpace(); err != nil {
		return nil, err
	}
	if p.off < len(p.data) {
		return nil, p.errorf("unexpected %s after the end of the top-level value", p.describe())
	}
	return n, nil
}

type jsonParser struct {
	data      []byte
	off       int
	line      int
	lineStart int // offset of the first byte of the current line
	colOff    int // offset up to which colRunes counts the current line
	colRunes  int

	slab  []node  // nodes are carved from chunks, not allocated one by one
	stack []*node // members of the objects and arrays being parsed
}

// slabSize is the number of nodes carved from one chunk.
const slabSize = 32

var colon, bracket, comma = []byte(":"), []byte("["), []byte(",")

// newNode returns a node at the current position.
func (p *jsonParser) newNode(k kind) *node {
	if len(p.slab) == 0 {
		p.slab = make([]node, slabSize)
	}
	n := &p.slab[0]
	p.slab = p.slab[1:]
	n.kind, n.line, n.col = k, p.line, p.col()
	return n
}

// popMembers moves the members pushed since mark into one exact-size slice.
func (p *jsonParser) popMembers(mark int) []*node {
	out := make([]*node, len(p.stack)-mark)
	copy(out, p.stack[mark:])
	p.stack = p.stack[:mark]
	return out
}

func (p *jsonParser) col() int {
	// Columns count characters, as editors and yaml.v3 do. The count is
	// carried forward from the last call, so that a file on one long line
	// is not counted over and over.
	if p.colOff < p.lineStart {
		p.colOff, p.colRunes = p.lineStart, 0
	}
	p.colRunes += utf8.RuneCount(p.data[p.colOff:p.off])
	p.colOff = p.off
	return p.colRunes + 1
}

func (p *jsonParser) errorf(format string, args ...any) error {
	return &syntaxError{line: p.line, col: p.col(), msg: fmt.Sprintf(format, args...)}
}

// describe names the byte at the current offset, for messages.
func (p *jsonParser) describe() string {
	if p.off >= len(p.data) {
		return "end of file"
	}
	r, _ := utf8.DecodeRune(p.data[p.off:])
	return strconv.QuoteRune(r)
}

func (p *jsonParser) newline() {
	p.line++
	p.lineStart = p.off + 1
}

func (p *jsonParser) skipSpace() error {
	for p.off < len(p.data) {
		switch c := p.data[p.off]; c {
		case '\n':
			p.newline()
			p.off++
		case ' ', '\t', '\r':
			p.off++
		case '/':
			if p.off+1 >= len(p.data) {
				return p.errorf("unexpected '/'")
			}
			switch p.data[p.off+1] {
			case '/':
				for p.off < len(p.data) && p.data[p.off] != '\n' {
					p.off++
				}
			case '*':
				line, col := p.line, p.col()
				p.off += 2
				for {
					if p.off+1 >= len(p.data) {
						return &syntaxError{line: line, col: col, msg: "unterminated /* comment"}
					}
					if p.data[p.off] == '*' && p.data[p.off+1] == '/' {
						p.off += 2
						break
					}
					if p.data[p.off] == '\n' {
						p.newline()
					}
					p.off++
				}
			default:
				return p.errorf("unexpected '/'")
			}
		default:
			return nil
		}
	}
	return nil
}

func (p *jsonParser) value(depth int) (*node, error) {
	if depth > maxDepth {
		return nil, p.errorf("nesting deeper than %d levels", maxDepth)
	}
	if p.off >= len(p.data) {
		return nil, p.errorf("unexpected end of file, expected a value")
	}
	n := p.newNode(kindNull)
	switch c := p.data[p.off]; {
	case c == '{':
		return n, p.object(n, depth)
	case c == '[':
		return n, p.array(n, depth)
	case c == '"':
		s, err := p.str()
		n.kind, n.s = kindString, s
		return n, err
	case c == '-' || (c >= '0' && c <= '9'):
		return n, p.number(n)
	case p.literal("true"):
		n.kind, n.b = kindBool, true
		return n, nil
	case p.literal("false"):
		n.kind = kindBool
		return n, nil
	case p.literal("null"):
		return n, nil
	}
	return nil, p.errorf("unexpected %s, expected a value", p.describe())
}

func (p *jsonParser) literal(word string) bool {
	if len(p.data)-p.off < len(word) || string(p.data[p.off:p.off+len(word)]) != word {
		return false
	}
	end := p.off + len(word)
	if end < len(p.data) && isIdentByte(p.data[end]) {
		return false
	}
	p.off = end
	return true
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (p *jsonParser) object(n *node, depth int) error {
	n.kind = kindObject
	p.off++ // {
	if err := p.skipSpace(); err != nil {
		return err
	}
	if p.off < len(p.data) && p.data[p.off] == '}' {
		p.off++
		return nil
	}
	mark := len(p.stack)
	for {
		if p.off >= len(p.data) || p.data[p.off] != '"' {
			return p.errorf("unexpected %s, expected a key in double quotes", p.describe())
		}
		k := p.newNode(kindString)
		s, err := p.str()
		if err != nil {
			return err
		}
		k.s = s
		if err := p.skipSpace(); err != nil {
			return err
		}
		if p.off >= len(p.data) || p.data[p.off] != ':' {
			return p.errorf("unexpected %s, expected ':' after key %q", p.describe(), s)
		}
		p.off++
		if err := p.skipSpace(); err != nil {
			return err
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return err
		}
		p.stack = append(p.stack, k, v)
		if err := p.skipSpace(); err != nil {
			return err
		}
		if p.off >= len(p.data) {
			return p.errorf("unexpected end of file, expected ',' or '}'")
		}
		switch p.data[p.off] {
		case ',':
			p.off++
			if err := p.skipSpace(); err != nil {
				return err
			}
			if p.off < len(p.data) && p.data[p.off] == '}' {
				return p.errorf("trailing comma before '}'")
			}
		case '}':
			p.off++
			members := p.stack[mark:]
			half := len(members) / 2
			buf := make([]*node, 2*half)
			n.keys, n.items = buf[:half:half], buf[half:]
			for i := range half {
				n.keys[i], n.items[i] = members[2*i], members[2*i+1]
			}
			p.stack = p.stack[:mark]
			return nil
		default:
			return p.errorf("unexpected %s, expected ',' or '}'", p.describe())
		}
	}
}

func (p *jsonParser) array(n *node, depth int) error {
	n.kind = kindArray
	p.off++ // [
	if err := p.skipSpace(); err != nil {
		return err
	}
	if p.off < len(p.data) && p.data[p.off] == ']' {
		p.off++
		return nil
	}
	mark := len(p.stack)
	for {
		v, err := p.value(depth + 1)
		if err != nil {
			return err
		}
		p.stack = append(p.stack, v)
		if err := p.skipSpace(); err != nil {
			return err
		}
		if p.off >= len(p.data) {
			return p.errorf("unexpected end of file, expected ',' or ']'")
		}
		switch p.data[p.off] {
		case ',':
			p.off++
			if err := p.skipSpace(); err != nil {
				return err
			}
			if p.off < len(p.data) && p.data[p.off] == ']' {
				return p.errorf("trailing comma before ']'")
			}
		case ']':
			p.off++
			n.items = p.popMembers(mark)
			return nil
		default:
			return p.errorf("unexpected %s, expected ',' or ']'", p.describe())
		}
	}
}

// str parses a string at the opening quote and returns its value.
func (p *jsonParser) str() (string, error) {
	p.off++ // "
	start := p.off
	// Fast path: no escapes.
	for p.off < len(p.data) {
		c := p.data[p.off]
		if c == '"' {
			s := string(p.data[start:p.off])
			p.off++
			return s, nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		p.off++
	}
	buf := append([]byte(nil), p.data[start:p.off]...)
	for p.off < len(p.data) {
		c := p.data[p.off]
		switch {
		case c == '"':
			p.off++
			return string(buf), nil
		case c == '\n':
			return "", p.errorf("unterminated string")
		case c < 0x20:
			return "", p.errorf("control character %U in string: escape it", rune(c))
		case c != '\\':
			buf = append(buf, c)
			p.off++
			continue
		}
		if p.off+1 >= len(p.data) {
			break
		}
		e := p.data[p.off+1]
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := p.hex4(p.off + 2)
			if !ok {
				return "", p.errorf("invalid \\u escape")
			}
			p.off += 6
			if utf16.IsSurrogate(r) {
				if r2, ok := p.hex4(p.off + 2); ok && p.off+1 < len(p.data) && p.data[p.off] == '\\' && p.data[p.off+1] == 'u' {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						p.off += 6
						r = d
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			buf = utf8.AppendRune(buf, r)
			continue
		default:
			return "", p.errorf("invalid escape \\%c in string", e)
		}
		p.off += 2
	}
	return "", p.errorf("unterminated string")
}

func (p *jsonParser) hex4(at int) (rune, bool) {
	if at+4 > len(p.data) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(p.data[at:at+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	return rune(v), true
}

// number parses a JSON number into n: an int64 when it is written as an
// integer that fits, a float64 otherwise.
func (p *jsonParser) number(n *node) error {
	start := p.off
	isInt := true
	if p.data[p.off] == '-' {
		p.off++
	}
	digits := func() int {
		s := p.off
		for p.off < len(p.data) && p.data[p.off] >= '0' && p.data[p.off] <= '9' {
			p.off++
		}
		return p.off - s
	}
	if p.off < len(p.data) && p.data[p.off] == '0' {
		p.off++
	} else if digits() == 0 {
		return p.errorf("invalid number")
	}
	if p.off < len(p.data) && p.data[p.off] == '.' {
		isInt = false
		p.off++
		if digits() == 0 {
			return p.errorf("invalid number: digits expected after '.'")
		}
	}
	if p.off < len(p.data) && (p.data[p.off] == 'e' || p.data[p.off] == 'E') {
		isInt = false
		p.off++
		if p.off < len(p.data) && (p.data[p.off] == '+' || p.data[p.off] == '-') {
			p.off++
		}
		if digits() == 0 {
			return p.errorf("invalid number: digits expected in the exponent")
		}
	}
	if p.off < len(p.data) && isIdentByte(p.data[p.off]) {
		return p.errorf("invalid number")
	}
	text := string(p.data[start:p.off])
	if isInt {
		if i, err := strconv.ParseInt(text, 10, 64); err == nil {
			n.kind, n.i = kindInt, i
			return nil
		}
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(f, 0) {
		return &syntaxError{line: n.line, col: n.col, msg: fmt.Sprintf("number %s is out of range", text)}
	}
	n.kind, n.f = kindFloat, f
	return nil
}
