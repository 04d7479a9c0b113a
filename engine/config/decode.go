package config

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxFileSize is the largest configuration file Sundial reads.
const maxFileSize = 1 << 20

// fileCtx collects the errors and warnings of one file, with positions.
type fileCtx struct {
	file  string // path shown in messages
	errs  []error
	warns []error
	root  *node // the decoded document
	// cache shares strings between the files of a Load (nil: none); value
	// is root as the schema validator saw it, built with it.
	cache *loadCache
	value any
	// failed holds the nodes whose substitution or coercion failed: their
	// value is meaningless, so later checks do not report it again.
	failed map[*node]bool
}

func (c *fileCtx) fileError(n *node, ptr string, err error) *FileError {
	fe := &FileError{File: c.file, Pointer: ptr, Err: err}
	if n != nil {
		fe.Line, fe.Col = n.line, n.col
	}
	return fe
}

// maxProblems bounds the errors and the warnings reported for one file, so
// that a hostile file cannot make the report (or its positions) huge.
const maxProblems = 100

var errTooMany = errorf(ErrInvalidValue, "too many problems; the rest of the file is not checked")

// full reports whether no more errors are recorded.
func (c *fileCtx) full() bool { return len(c.errs) > maxProblems }

// errAt records an error at node n (nil: the whole file).
func (c *fileCtx) errAt(n *node, ptr string, err error) {
	switch {
	case n != nil && c.failed[n], len(c.errs) > maxProblems:
	case len(c.errs) == maxProblems:
		c.errs = append(c.errs, &FileError{File: c.file, Err: errTooMany})
	default:
		c.errs = append(c.errs, c.fileError(n, ptr, err))
	}
}

// errNode records an error at a node of the document, computing its pointer
// only when the error is recorded.
func (c *fileCtx) errNode(n *node, err error) {
	if !c.full() {
		c.errAt(n, pointerTo(c.root, n), err)
	}
}

// fail records an error at n and marks n as failed.
func (c *fileCtx) fail(n *node, err error) {
	c.errNode(n, err)
	if c.failed == nil {
		c.failed = map[*node]bool{}
	}
	c.failed[n] = true
}

// warnAt records a warning at node n (nil: the whole file).
func (c *fileCtx) warnAt(n *node, ptr string, err error) {
	if len(c.warns) < maxProblems {
		c.warns = append(c.warns, c.fileError(n, ptr, err))
	}
}

// decode parses data (YAML when isYAML, else JSON with comments), reports
// duplicate keys, and, when props is not nil, substitutes &{property}
// references and applies {"$bool"|"$int"|"$number": …} coercions. It
// returns nil for an empty document or when the document cannot be parsed
// (the reason is in c.errs).
func (c *fileCtx) decode(data []byte, isYAML bool, props *properties, used substituted) *node {
	if len(data) > maxFileSize {
		c.errAt(nil, "", errorf(ErrTooLarge, "file is larger than %d bytes (1 MiB)", maxFileSize))
		return nil
	}
	data = bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))
	if !utf8.Valid(data) {
		line, col := invalidUTF8Position(data)
		c.errs = append(c.errs, &FileError{File: c.file, Line: line, Col: col, Err: errorf(ErrEncoding, "file is not valid UTF-8")})
		return nil
	}
	var (
		root *node
		err  error
	)
	if isYAML {
		root, err = parseYAML(data)
	} else {
		root, err = parseJSON(data)
	}
	if err != nil {
		se := err.(*syntaxError)
		c.errs = append(c.errs, &FileError{File: c.file, Line: se.line, Col: se.col, Err: errorf(ErrSyntax, "syntax error: %s", se.msg)})
		return nil
	}
	if root == nil {
		return nil
	}
	c.root = root
	c.dedupe(root)
	if props != nil {
		c.resolve(root, props, used)
	}
	return root
}

// invalidUTF8Position returns the line and column of the first byte that is
// not valid UTF-8.
func invalidUTF8Position(data []byte) (line, col int) {
	line, col = 1, 1
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		if r == utf8.RuneError && size <= 1 {
			return line, col
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		data = data[size:]
	}
	return line, col
}

// pointerTo returns the JSON pointer of target (a value or a key node)
// under root. It searches the tree, which is only done to report an error,
// so the happy path builds no pointer strings.
func pointerTo(root, target *node) string {
	if root == target {
		return ""
	}
	switch root.kind {
	case kindObject:
		for i, k := range root.keys {
			tok := "/" + escapePointerToken(k.s)
			if k == target || root.items[i] == target {
				return tok
			}
			if p := pointerTo(root.items[i], target); p != "\x00" {
				return tok + p
			}
		}
	case kindArray:
		for i, it := range root.items {
			tok := "/" + strconv.Itoa(i)
			if it == target {
				return tok
			}
			if p := pointerTo(it, target); p != "\x00" {
				return tok + p
			}
		}
	}
	return "\x00" // not found
}

// dedupe reports keys that appear twice in one object and keeps the first
// occurrence, so that a duplicate can never silently override a value.
func (c *fileCtx) dedupe(n *node) {
	switch n.kind {
	case kindObject:
		var seen map[string]*node
		if len(n.keys) > 8 {
			seen = make(map[string]*node, len(n.keys))
		}
		dup := false
		for i, k := range n.keys {
			var first *node
			if seen != nil {
				if first = seen[k.s]; first == nil {
					seen[k.s] = k
				}
			} else {
				for _, prev := range n.keys[:i] {
					if prev.s == k.s {
						first = prev
						break
					}
				}
			}
			if first != nil {
				dup = true
				c.errNode(k, errorf(ErrDuplicateKey, "duplicate key %q (first at line %d, column %d)", k.s, first.line, first.col))
			}
		}
		if dup {
			c.dropDuplicates(n)
		}
		for _, v := range n.items {
			if v.kind == kindObject || v.kind == kindArray {
				c.dedupe(v)
			}
		}
	case kindArray:
		for _, it := range n.items {
			if it.kind == kindObject || it.kind == kindArray {
				c.dedupe(it)
			}
		}
	}
}

// dropDuplicates keeps the first occurrence of every key of n.
func (c *fileCtx) dropDuplicates(n *node) {
	seen := make(map[string]bool, len(n.keys))
	keys, items := n.keys[:0], n.items[:0]
	for i, k := range n.keys {
		if seen[k.s] {
			continue
		}
		seen[k.s] = true
		keys, items = append(keys, k), append(items, n.items[i])
	}
	n.keys, n.items = keys, items
}

// resolve substitutes property references in every string value and applies
// coercion objects, depth first (so {"$int": "&{x}"} sees the substituted
// string).
func (c *fileCtx) resolve(n *node, props *properties, used substituted) {
	switch n.kind {
	case kindString:
		s, err := props.substitute(n.s, used)
		if err != nil {
			c.fail(n, err)
			return
		}
		n.s = s
	case kindArray:
		for _, it := range n.items {
			c.resolve(it, props, used)
		}
	case kindObject:
		for _, it := range n.items {
			c.resolve(it, props, used)
		}
		if len(n.keys) == 1 {
			switch op := n.keys[0].s; op {
			case "$bool", "$int", "$number":
				if err := coerce(n, op); err != nil {
					c.fail(n.items[0], err)
					c.failed[n] = true
				}
			}
		}
	}
}

// coerce replaces the object node n ({op: value}) by the coerced scalar, at
// the object's position.
func coerce(n *node, op string) error {
	v := n.items[0]
	out := node{line: n.line, col: n.col}
	text := strings.TrimSpace(v.s)
	switch op {
	case "$bool":
		switch {
		case v.kind == kindBool:
			out.kind, out.b = kindBool, v.b
		case v.kind == kindString && strings.EqualFold(text, "true"):
			out.kind, out.b = kindBool, true
		case v.kind == kindString && strings.EqualFold(text, "false"):
			out.kind = kindBool
		default:
			return errorf(ErrInvalidValue, "$bool: cannot convert %s to a boolean", render(v))
		}
	case "$int":
		switch {
		case v.kind == kindInt:
			out.kind, out.i = kindInt, v.i
		case v.kind == kindFloat && v.f == math.Trunc(v.f) && math.Abs(v.f) < 1<<63:
			out.kind, out.i = kindInt, int64(v.f)
		case v.kind == kindString:
			i, err := strconv.ParseInt(text, 10, 64)
			if err != nil {
				return errorf(ErrInvalidValue, "$int: cannot convert %s to an integer", render(v))
			}
			out.kind, out.i = kindInt, i
		default:
			return errorf(ErrInvalidValue, "$int: cannot convert %s to an integer", render(v))
		}
	case "$number":
		switch {
		case v.kind == kindInt || v.kind == kindFloat:
			out.kind, out.i, out.f = v.kind, v.i, v.f
		case v.kind == kindString:
			if i, err := strconv.ParseInt(text, 10, 64); err == nil {
				out.kind, out.i = kindInt, i
				break
			}
			f, err := strconv.ParseFloat(text, 64)
			if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				return errorf(ErrInvalidValue, "$number: cannot convert %s to a number", render(v))
			}
			out.kind, out.f = kindFloat, f
		default:
			return errorf(ErrInvalidValue, "$number: cannot convert %s to a number", render(v))
		}
	}
	*n = out
	return nil
}

// render shows a value in a message: scalars as JSON, containers by type.
func render(n *node) string {
	if n == nil {
		return "nothing"
	}
	switch n.kind {
	case kindString:
		s := n.s
		if utf8.RuneCountInString(s) > 60 {
			s = string([]rune(s)[:57]) + "..."
		}
		return strconv.Quote(s)
	case kindBool:
		return strconv.FormatBool(n.b)
	case kindInt:
		return strconv.FormatInt(n.i, 10)
	case kindFloat:
		return strconv.FormatFloat(n.f, 'g', -1, 64)
	case kindNull:
		return "null"
	}
	return fmt.Sprintf("an %s", n.typeName())
}
