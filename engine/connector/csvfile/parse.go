package csvfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
)

// cell is one field of a record: null is an empty field without quotes,
// which an object leaves out; "" between quotes is an empty string.
type cell struct {
	value string
	null  bool
}

// reader reads records one at a time: fields separated by delim, each
// optionally between quote characters (a doubled quote inside is one
// quote; delimiters and newlines inside are data). Whitespace around a
// field is trimmed, as the OpenICF connector trims values; inside quotes it
// is kept. \n, \r\n and \r all end a record; blank lines are skipped.
type reader struct {
	r      *bufio.Reader
	quote  rune
	delim  rune
	line   int // the line the next record starts on, 1-based
	fields []cell
	b      strings.Builder
}

func newReader(r io.Reader, quote, delim rune) *reader {
	return &reader{r: bufio.NewReaderSize(r, 64<<10), quote: quote, delim: delim, line: 1}
}

// errRecord is a malformed record, with its line.
type errRecord struct {
	line int
	msg  string
}

func (e *errRecord) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// next returns the next record (valid until the following call), or io.EOF.
func (rd *reader) next() ([]cell, error) {
	for {
		rec, blank, err := rd.record()
		if err != nil {
			return nil, err
		}
		if !blank {
			return rec, nil
		}
	}
}

// record reads one line's record; blank reports an empty line.
func (rd *reader) record() (rec []cell, blank bool, err error) {
	rd.fields = rd.fields[:0]
	start := rd.line
	sawAny := false
	for {
		c, end, err := rd.field(start)
		if err != nil {
			if errors.Is(err, io.EOF) && (sawAny || !c.null || end == endDelim) {
				rd.fields = append(rd.fields, c)
				return rd.fields, false, nil
			}
			return nil, false, err
		}
		sawAny = true
		rd.fields = append(rd.fields, c)
		if end == endRecord {
			if len(rd.fields) == 1 && rd.fields[0].null {
				return nil, true, nil
			}
			return rd.fields, false, nil
		}
	}
}

type fieldEnd uint8

const (
	endDelim fieldEnd = iota
	endRecord
)

// field reads one field and what ended it; io.EOF ends the input.
func (rd *reader) field(start int) (cell, fieldEnd, error) {
	rd.b.Reset()
	// leading whitespace (not the delimiter nor a newline)
	r, err := rd.skipSpace()
	if err != nil {
		return cell{null: true}, endRecord, err
	}
	if r == rd.quote {
		for {
			r, _, err := rd.r.ReadRune()
			if err != nil {
				return cell{}, endRecord, &errRecord{start, "a quoted field is not closed"}
			}
			if r == '\n' {
				rd.line++
			}
			if r != rd.quote {
				rd.b.WriteRune(r)
				continue
			}
			r2, _, err := rd.r.ReadRune()
			if err == nil && r2 == rd.quote {
				rd.b.WriteRune(r)
				continue
			}
			if err == nil {
				_ = rd.r.UnreadRune()
			}
			break
		}
		val := rd.b.String()
		// after the closing quote: spaces, then a delimiter or the end
		r, err := rd.skipSpace()
		if err != nil {
			return cell{value: val}, endRecord, err
		}
		switch {
		case r == rd.delim:
			return cell{value: val}, endDelim, nil
		case r == '\n' || r == '\r':
			rd.endLine(r)
			return cell{value: val}, endRecord, nil
		}
		return cell{}, endRecord, &errRecord{rd.line, fmt.Sprintf("%q after a closing quote", r)}
	}
	for {
		switch {
		case r == rd.delim:
			return trimmed(rd.b.String()), endDelim, nil
		case r == '\n' || r == '\r':
			rd.endLine(r)
			return trimmed(rd.b.String()), endRecord, nil
		}
		rd.b.WriteRune(r)
		r, _, err = rd.r.ReadRune()
		if err != nil {
			return trimmed(rd.b.String()), endRecord, io.EOF
		}
	}
}

// skipSpace returns the first rune that is not blank space.
func (rd *reader) skipSpace() (rune, error) {
	for {
		r, _, err := rd.r.ReadRune()
		if err != nil {
			return 0, io.EOF
		}
		if r != rd.delim && r != '\n' && r != '\r' && unicode.IsSpace(r) {
			continue
		}
		return r, nil
	}
}

// endLine consumes the \n of a \r\n and counts the line.
func (rd *reader) endLine(r rune) {
	rd.line++
	if r == '\r' {
		if r2, _, err := rd.r.ReadRune(); err == nil && r2 != '\n' {
			_ = rd.r.UnreadRune()
		}
	}
}

func trimmed(s string) cell {
	s = strings.TrimRightFunc(s, unicode.IsSpace)
	return cell{value: s, null: s == ""}
}

// writer writes records with every field between quotes (an absent value
// as an empty field without), so that any value reads back as written.
type writer struct {
	w       *bufio.Writer
	quote   string
	doubled string
	delim   string
	newline string
}

func newWriter(w io.Writer, quote, delim rune, newline string) *writer {
	q := string(quote)
	return &writer{w: bufio.NewWriterSize(w, 64<<10), quote: q, doubled: q + q, delim: string(delim), newline: newline}
}

func (wr *writer) write(rec []cell) error {
	for i, c := range rec {
		if i > 0 {
			wr.w.WriteString(wr.delim)
		}
		if c.null {
			continue
		}
		wr.w.WriteString(wr.quote)
		wr.w.WriteString(strings.ReplaceAll(c.value, wr.quote, wr.doubled))
		wr.w.WriteString(wr.quote)
	}
	_, err := wr.w.WriteString(wr.newline)
	return err
}

func (wr *writer) flush() error { return wr.w.Flush() }
