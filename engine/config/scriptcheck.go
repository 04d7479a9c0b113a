package config

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// positioned is an error that knows where in a script it is: line and
// column, 1-based, the column counted in bytes of the line, as goja counts
// it. (script.Check's errors have it; config declares the method it needs
// rather than import the script engine.)
type positioned interface {
	Position() (line, col int)
}

// scriptChecks remembers, for one Load, the check of each script file, so
// that a file used by many schedules is read and compiled once.
type scriptChecks struct {
	mu   sync.Mutex
	done map[string]*scriptCheck // by resolved path
}

type scriptCheck struct {
	once      sync.Once
	readErr   error // the file could not be read (not regular, too large, …)
	checkErr  error // what CheckScript returned
	line, col int   // where checkErr is in the file (col in characters); 0 when unknown
}

func (c *scriptChecks) check(path string, fn func(name string, src []byte) error) *scriptCheck {
	r := &scriptCheck{}
	if c != nil {
		c.mu.Lock()
		if c.done == nil {
			c.done = map[string]*scriptCheck{}
		}
		if done := c.done[path]; done != nil {
			r = done
		} else {
			c.done[path] = r
		}
		c.mu.Unlock()
	}
	r.once.Do(func() {
		src, err := readFile(path, nil)
		if err != nil {
			r.readErr = err
			return
		}
		if r.checkErr = fn(path, src); r.checkErr != nil {
			var p positioned
			if errors.As(r.checkErr, &p) {
				line, col := p.Position()
				r.line, r.col = line, runesIn(lineText(bytes.TrimPrefix(src, utf8BOM), line), col-1)+1
			}
		}
	})
	return r
}

var utf8BOM = []byte("\xEF\xBB\xBF")

// scriptMessage is the text of a CheckScript error without the
// "name:line:col: " it may start with (the position is the FileError's).
func scriptMessage(name string, err error) string {
	msg := err.Error()
	var p positioned
	if errors.As(err, &p) {
		line, col := p.Position()
		msg = strings.TrimPrefix(msg, fmt.Sprintf("%s:%d:%d: ", name, line, col))
	}
	return msg
}

// checkInlineScript runs CheckScript on the inline source n and reports its
// error at the position in the schedule file that the script's position
// maps to (see sourcePosition).
func (b *builder) checkInlineScript(n *node, ptr string) {
	err := b.env.checkScript(b.file, []byte(n.s))
	if err == nil || b.full() {
		return
	}
	line, col := n.line, n.col
	var p positioned
	if errors.As(err, &p) {
		jsLine, jsCol := p.Position()
		line, col = sourcePosition(b.data, n, jsLine, jsCol)
	}
	b.errs = append(b.errs, &FileError{File: b.file, Line: line, Col: col, Pointer: ptr,
		Err: errorw(ErrScript, err, "%s: %s", dottedPath(ptr), scriptMessage(b.file, err))})
}

// checkScriptFile reads the script file at path with the rules of config
// files (a regular file of at most 1 MiB), runs CheckScript on it and
// reports its error at path:line:col, in the schedule file's errors. n is
// the file key's value, where a read error is reported.
func (b *builder) checkScriptFile(n *node, ptr, path string) {
	r := b.env.cache.scriptChecks().check(path, b.env.checkScript)
	switch {
	case r.readErr != nil:
		b.errAt(n, ptr, errorw(ErrRead, r.readErr, "%s: script file %s: %v", dottedPath(ptr), path, r.readErr))
	case r.checkErr != nil && !b.full():
		b.errs = append(b.errs, &FileError{File: path, Line: r.line, Col: r.col, Pointer: ptr,
			Err: errorw(ErrScript, r.checkErr, "%s (the %s of %s)", scriptMessage(path, r.checkErr), dottedPath(ptr), b.file)})
	}
}

// sourcePosition maps a position in an inline script (jsLine, and jsCol in
// bytes of that line) to the position in the schedule file (data) of the
// string value n that holds the script.
//
//   - A JSON string (and a YAML double-quoted one) sits on one line of the
//     file: line 1 of the script starts one column after the opening quote,
//     and the walk through the raw text counts each escape (\n ends a script
//     line, \" \\ \t and \uXXXX are one character each, a surrogate pair
//     one) as it is written. Exact, except after an &{property} reference,
//     whose value replaced the text written (and for YAML's line folding).
//   - A YAML literal block (|) maps line for line: script line k is file
//     line L+k, shifted by the block's indentation. Exact; a folded block
//     (>) is mapped the same way, which is exact only for its first line.
//   - A plain or single-quoted YAML scalar is one script line starting at
//     the value (after the quote); ” counts as one character.
func sourcePosition(data []byte, n *node, jsLine, jsCol int) (line, col int) {
	data = bytes.TrimPrefix(data, utf8BOM)
	off := offsetOf(data, n.line, n.col)
	if off < 0 || off >= len(data) {
		return n.line, n.col
	}
	switch data[off] {
	case '"':
		return walkQuoted(data, off, n.line, n.col, jsLine, jsCol, '"')
	case '\'':
		return walkQuoted(data, off, n.line, n.col, jsLine, jsCol, '\'')
	case '|', '>':
		indent := blockIndent(data, off)
		text := lineText([]byte(n.s), jsLine)
		return n.line + jsLine, indent + runesIn(text, jsCol-1) + 1
	}
	return n.line, n.col + runesIn(lineText([]byte(n.s), 1), jsCol-1)
}

// walkQuoted walks the quoted string that starts at data[off] (at line,
// col of the file) until the script position (jsLine, jsCol) and returns
// the file position there: the closing quote when the position is past the
// end.
func walkQuoted(data []byte, off, line, col, jsLine, jsCol int, quote byte) (int, int) {
	i, fline, fcol := off+1, line, col+1
	dl, dc := 1, 1 // script line, and byte column in it
	for i < len(data) {
		if dl > jsLine || dl == jsLine && dc >= jsCol {
			return fline, fcol
		}
		c := data[i]
		switch {
		case c == quote && quote == '\'' && i+1 < len(data) && data[i+1] == '\'':
			i, fcol, dc = i+2, fcol+2, dc+1
		case c == quote:
			return fline, fcol
		case c == '\\' && quote == '"' && i+1 < len(data):
			r, width := unescapeAt(data[i:])
			i, fcol = i+width, fcol+width // escapes are ASCII
			if r == '\n' {
				dl, dc = dl+1, 1
			} else {
				dc += utf8.RuneLen(r)
			}
		case c == '\n': // a YAML quoted scalar continued on the next line
			i, fline, fcol = i+1, fline+1, 1
			dc++
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == '\n' {
				dl, dc = dl+1, 1
			} else {
				dc += size
			}
			i, fcol = i+size, fcol+1
		}
	}
	return fline, fcol
}

// unescapeAt decodes the escape at the start of b (b[0] is '\\') and
// returns the character and how many bytes the escape takes.
func unescapeAt(b []byte) (rune, int) {
	switch b[1] {
	case 'n':
		return '\n', 2
	case 't':
		return '\t', 2
	case 'r':
		return '\r', 2
	case 'b':
		return '\b', 2
	case 'f':
		return '\f', 2
	case 'u':
		if len(b) < 6 {
			return utf8.RuneError, len(b)
		}
		v, err := strconv.ParseUint(string(b[2:6]), 16, 32)
		if err != nil {
			return utf8.RuneError, 6
		}
		r := rune(v)
		if utf16.IsSurrogate(r) && len(b) >= 12 && b[6] == '\\' && b[7] == 'u' {
			if lo, err := strconv.ParseUint(string(b[8:12]), 16, 32); err == nil {
				if pair := utf16.DecodeRune(r, rune(lo)); pair != utf8.RuneError {
					return pair, 12
				}
			}
		}
		return r, 6
	}
	r, size := utf8.DecodeRune(b[1:])
	return r, 1 + size
}

// offsetOf returns the byte offset of line:col (col in characters) in data,
// or -1.
func offsetOf(data []byte, line, col int) int {
	off := 0
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			return -1
		}
		off += i + 1
	}
	for c := 1; c < col && off < len(data); c++ {
		_, size := utf8.DecodeRune(data[off:])
		off += size
	}
	return off
}

// blockIndent returns the indentation of the first non-blank line after the
// one holding data[off], a YAML block scalar's indicator.
func blockIndent(data []byte, off int) int {
	i := bytes.IndexByte(data[off:], '\n')
	if i < 0 {
		return 0
	}
	for _, l := range strings.Split(string(data[off+i+1:]), "\n") {
		if t := strings.TrimLeft(l, " "); strings.TrimSpace(t) != "" {
			return len(l) - len(t)
		}
	}
	return 0
}

// lineText returns line n (1-based) of text, without its newline.
func lineText(text []byte, n int) []byte {
	for l := 1; l < n; l++ {
		i := bytes.IndexByte(text, '\n')
		if i < 0 {
			return nil
		}
		text = text[i+1:]
	}
	if i := bytes.IndexByte(text, '\n'); i >= 0 {
		text = text[:i]
	}
	return bytes.TrimSuffix(text, []byte("\r"))
}

// runesIn counts the characters in the first n bytes of b (all of b when it
// is shorter).
func runesIn(b []byte, n int) int {
	if n < 0 {
		return 0
	}
	return utf8.RuneCount(b[:min(n, len(b))]) + max(n-len(b), 0)
}
