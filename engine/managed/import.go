package managed

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"sundial/engine/store"
)

// Format is the layout of an import file.
type Format string

// The import formats.
const (
	// FormatJSONArray: one JSON array of objects.
	FormatJSONArray Format = "json"
	// FormatJSONLines: one JSON object per line (blank lines skipped).
	FormatJSONLines Format = "jsonl"
	// FormatCSV: a header line of field names, then one object per line;
	// every value is a string, and an empty value leaves its field out.
	FormatCSV Format = "csv"
)

// DefaultBatchSize is how many objects an import writes per transaction.
const DefaultBatchSize = 1000

// ImportParams describe an import.
type ImportParams struct {
	Objects store.Objects
	Type    string
	Input   io.Reader
	// Format of Input; "" looks at its first non-space byte: '[' is a
	// JSON array, anything else JSON lines.
	Format Format
	// BatchSize objects are written per transaction (DefaultBatchSize when
	// 0): a batch is written whole or not at all.
	BatchSize int
	// IDField, when set, names the field holding an object's id when it
	// has no "_id" (a CSV's uid column, say); the field stays in the object.
	IDField string
	// Progress, when set, is called after each batch.
	Progress func(ImportProgress)
}

// ImportProgress is where an import is.
type ImportProgress struct {
	Line     int   // the last line read
	Bytes    int64 // bytes of Input read
	Imported int
	Rejected int
}

// Rejection is an input line that was not imported.
type Rejection struct {
	Line   int
	Reason string
}

// ImportResult is what an import did.
type ImportResult struct {
	Imported int
	Rejected []Rejection
}

// Import streams objects from Input into the store, in batches of one
// transaction each. An object's "_id" is its id (a UUID is given to one
// without); "_rev" is ignored. A line that is not an object, or whose id
// exists, is rejected and reported with its line number; the others of its
// batch are written. Reading stops at a JSON array's syntax error (after
// it nothing can be trusted), which is an error after the batches before
// it were written. A failing write is an error too: the batches before it
// are written, its own is not.
func Import(ctx context.Context, p ImportParams) (ImportResult, error) {
	var res ImportResult
	counter := &countingReader{r: p.Input}
	in := bufio.NewReaderSize(counter, 64<<10)
	format := p.Format
	if format == "" {
		format = FormatJSONLines
		if b, err := peekNonSpace(in); err == nil && b == '[' {
			format = FormatJSONArray
		}
	}
	size := p.BatchSize
	if size <= 0 {
		size = DefaultBatchSize
	}
	var (
		batch []store.NewObject
		lines []int
		last  int
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		out, err := p.Objects.CreateObjects(ctx, store.CreateObjectsParams{Type: p.Type, Objects: batch})
		if err != nil {
			return fmt.Errorf("write the objects of lines %d-%d: %w", lines[0], lines[len(lines)-1], err)
		}
		for i, r := range out {
			if r.Err != nil {
				res.Rejected = append(res.Rejected, Rejection{Line: lines[i], Reason: rejectReason(r.Err)})
				continue
			}
			res.Imported++
		}
		batch, lines = batch[:0], lines[:0]
		if p.Progress != nil {
			p.Progress(ImportProgress{Line: last, Bytes: counter.n, Imported: res.Imported, Rejected: len(res.Rejected)})
		}
		return nil
	}
	emit := func(line int, v any, err error) error {
		last = line
		if err == nil {
			var obj store.NewObject
			if obj, err = newObject(v, p.IDField); err == nil {
				batch = append(batch, obj)
				lines = append(lines, line)
				if len(batch) >= size {
					return flush()
				}
				return ctx.Err()
			}
		}
		res.Rejected = append(res.Rejected, Rejection{Line: line, Reason: err.Error()})
		return ctx.Err()
	}
	var err error
	switch format {
	case FormatJSONArray:
		err = readJSONArray(in, emit)
	case FormatJSONLines:
		err = readJSONLines(in, emit)
	case FormatCSV:
		err = readCSV(in, emit)
	default:
		err = fmt.Errorf("unknown import format %q (want json, jsonl or csv)", format)
	}
	if err != nil {
		return res, err
	}
	return res, flush()
}

func rejectReason(err error) string {
	if errors.Is(err, store.ErrConflict) {
		return "an object with this id exists already"
	}
	return err.Error()
}

// newObject makes a new object of a decoded value.
func newObject(v any, idField string) (store.NewObject, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return store.NewObject{}, fmt.Errorf("not a JSON object")
	}
	var id string
	raw, has := m["_id"]
	if !has && idField != "" {
		if raw, has = m[idField]; !has {
			return store.NewObject{}, fmt.Errorf("no %s field for the id", idField)
		}
	}
	if has {
		s, ok := raw.(string)
		if !ok || s == "" {
			return store.NewObject{}, fmt.Errorf("_id is not a non-empty string")
		}
		if strings.ContainsAny(s, "/\x00") {
			return store.NewObject{}, fmt.Errorf("_id %q holds '/' or NUL", s)
		}
		id = s
	}
	delete(m, "_id")
	delete(m, "_rev")
	return store.NewObject{ID: id, Content: m}, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func peekNonSpace(in *bufio.Reader) (byte, error) {
	for i := 1; ; i++ {
		b, err := in.Peek(i)
		if err != nil {
			return 0, err
		}
		switch c := b[i-1]; c {
		case ' ', '\t', '\r', '\n':
			if i >= in.Size() {
				return 0, io.EOF
			}
			continue
		default:
			return c, nil
		}
	}
}

func decodeValue(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	if d.More() {
		return nil, fmt.Errorf("not valid JSON: text after the object")
	}
	return v, nil
}

func readJSONLines(in *bufio.Reader, emit func(int, any, error) error) error {
	for line := 1; ; line++ {
		b, err := in.ReadBytes('\n')
		if len(bytes.TrimSpace(b)) > 0 {
			v, derr := decodeValue(b)
			if e := emit(line, v, derr); e != nil {
				return e
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read line %d: %w", line, err)
		}
	}
}

// lineTracker turns offsets into the input, asked in increasing order, into
// line numbers, keeping only the newlines not yet passed.
type lineTracker struct {
	r        *bufio.Reader
	read     int64   // bytes read through the tracker
	newlines []int64 // offsets of newlines read but not passed
	line     int     // line of the last offset asked
}

func (t *lineTracker) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	for i, c := range p[:n] {
		if c == '\n' {
			t.newlines = append(t.newlines, t.read+int64(i))
		}
	}
	t.read += int64(n)
	return n, err
}

func (t *lineTracker) lineAt(off int64) int {
	i := 0
	for i < len(t.newlines) && t.newlines[i] < off {
		i++
	}
	t.line += i
	t.newlines = t.newlines[i:]
	return t.line + 1
}

func readJSONArray(in *bufio.Reader, emit func(int, any, error) error) error {
	t := &lineTracker{r: in}
	d := json.NewDecoder(t)
	d.UseNumber()
	tok, err := d.Token()
	if err != nil {
		return fmt.Errorf("line 1: not a JSON array: %v", err)
	}
	if delim, ok := tok.(json.Delim); !ok || delim != '[' {
		return fmt.Errorf("line 1: not a JSON array")
	}
	for d.More() {
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			return fmt.Errorf("line %d: the JSON array is broken here, nothing after it is read: %v", t.lineAt(d.InputOffset()), err)
		}
		// The element ends where the decoder is.
		line := t.lineAt(d.InputOffset() - int64(len(raw)))
		v, derr := decodeValue(raw)
		if e := emit(line, v, derr); e != nil {
			return e
		}
	}
	if _, err := d.Token(); err != nil {
		return fmt.Errorf("line %d: the JSON array does not end: %v", t.lineAt(d.InputOffset()), err)
	}
	return nil
}

func readCSV(in *bufio.Reader, emit func(int, any, error) error) error {
	r := csv.NewReader(in)
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	r.TrimLeadingSpace = true // IDM's sample files write `"a", "b"`
	header, err := r.Read()
	if err != nil {
		return fmt.Errorf("line 1: no CSV header: %v", err)
	}
	header = append([]string(nil), header...)
	for i, h := range header {
		header[i] = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				if e := emit(pe.StartLine, nil, fmt.Errorf("not valid CSV: %v", pe.Err)); e != nil {
					return e
				}
				continue
			}
			return err
		}
		if len(rec) != len(header) {
			if e := emit(line, nil, fmt.Errorf("%d fields, the header has %d", len(rec), len(header))); e != nil {
				return e
			}
			continue
		}
		obj := make(map[string]any, len(rec))
		for i, v := range rec {
			if v != "" {
				obj[header[i]] = v
			}
		}
		if e := emit(line, obj, nil); e != nil {
			return e
		}
	}
}
