package crest

import (
	"bytes"
	"encoding/json"
	"errors"
	"html"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strconv"
)

// Writer writes CREST answers: JSON bodies (indented when the request
// asked for _prettyPrint), errors in the one error shape, resources with
// their ETag.
type Writer struct {
	Pretty bool
	// Logger gets the real error behind a 500; nil is slog.Default().
	Logger *slog.Logger
}

// JSON writes v with the status.
func (wr Writer) JSON(w http.ResponseWriter, status int, v any) {
	body, err := marshal(v, wr.Pretty)
	if err != nil {
		wr.Error(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Error writes err in the CREST error shape. An *Error (or an error that
// wraps one) gives its status and message; any other error is a 500 with
// a generic message, the error itself only logged.
func (wr Writer) Error(w http.ResponseWriter, err error) {
	var ce *Error
	if !errors.As(err, &ce) {
		logger := wr.Logger
		if logger == nil {
			logger = slog.Default()
		}
		logger.Error("api internal error", "err", err)
		ce = &Error{Code: http.StatusInternalServerError, Message: "Internal server error"}
	}
	body := errorBody{Code: ce.Code, Reason: http.StatusText(ce.Code), Message: html.EscapeString(ce.Message), Detail: ce.Detail}
	b, merr := marshal(body, wr.Pretty)
	if merr != nil { // a Detail that does not marshal
		body.Detail = nil
		b, _ = marshal(body, wr.Pretty)
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(ce.Code)
	_, _ = w.Write(b)
}

type errorBody struct {
	Code    int    `json:"code"`
	Reason  string `json:"reason"`
	Message string `json:"message,omitempty"`
	Detail  any    `json:"detail,omitempty"`
}

// Resource writes one resource with the status, its ETag "<rev>" when it
// has a revision, projected on fields (nil: every field).
func (wr Writer) Resource(w http.ResponseWriter, status int, res Resource, fields []Field) {
	if res.Rev != "" {
		w.Header().Set("ETag", `"`+res.Rev+`"`)
	}
	wr.JSON(w, status, Project(res, fields))
}

func marshal(v any, pretty bool) ([]byte, error) {
	var buf bytes.Buffer
	enc := newEncoder(&buf)
	var err error
	switch x := v.(type) {
	case Resource:
		err = x.write(enc)
	case QueryResult:
		err = x.write(enc)
	default:
		err = enc.value(v)
	}
	if err != nil {
		return nil, err
	}
	if pretty {
		var out bytes.Buffer
		out.Grow(buf.Len() * 2)
		if err := json.Indent(&out, buf.Bytes(), "", "  "); err != nil {
			return nil, err
		}
		out.WriteByte('\n')
		return out.Bytes(), nil
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// encoder writes JSON into one buffer: resources and query envelopes
// member by member, other values through encoding/json, never HTML-escaped.
// A map met again (the same map, shared by several parts of an answer) is
// copied from where it was first written rather than encoded again: maps
// of resources are not modified while they are written.
type encoder struct {
	buf *bytes.Buffer
	enc *json.Encoder
	// written is where each map written so far is in buf, by its identity.
	written map[uintptr]span
	// sortedKeys holds, by number of keys, the sorted keys of the last map
	// of that size written: the maps of one kind in a list of resources
	// have the same keys, which are then checked rather than sorted again.
	sortedKeys map[int][]string
}

// span is a part of the encoder's buffer: [start, end).
type span struct{ start, end int }

func newEncoder(buf *bytes.Buffer) encoder {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	return encoder{buf: buf, enc: enc, written: make(map[uintptr]span), sortedKeys: make(map[int][]string)}
}

// value writes v without encoding/json's newline, exactly as
// encoding/json would (no HTML escaping). The types resources are made of
// are written directly, the rest through encoding/json, which is several
// times slower on maps (reflection, a sort per map).
func (e encoder) value(v any) error {
	switch x := v.(type) {
	case nil:
		e.buf.WriteString("null")
		return nil
	case bool:
		e.buf.WriteString(strconv.FormatBool(x))
		return nil
	case string:
		return e.str(x)
	case int:
		e.buf.WriteString(strconv.Itoa(x))
		return nil
	case int64:
		e.buf.WriteString(strconv.FormatInt(x, 10))
		return nil
	case map[string]any:
		if len(x) == 0 {
			e.buf.WriteString("{}")
			return nil
		}
		id := reflect.ValueOf(x).Pointer()
		if sp, ok := e.written[id]; ok {
			e.buf.Write(e.buf.Bytes()[sp.start:sp.end])
			return nil
		}
		start := e.buf.Len()
		keys := e.keys(x)
		e.buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				e.buf.WriteByte(',')
			}
			if err := e.str(k); err != nil {
				return err
			}
			e.buf.WriteByte(':')
			if err := e.value(x[k]); err != nil {
				return err
			}
		}
		e.buf.WriteByte('}')
		e.written[id] = span{start, e.buf.Len()}
		return nil
	case []any:
		e.buf.WriteByte('[')
		for i, item := range x {
			if i > 0 {
				e.buf.WriteByte(',')
			}
			if err := e.value(item); err != nil {
				return err
			}
		}
		e.buf.WriteByte(']')
		return nil
	}
	return e.encode(v)
}

// keys returns the keys of m in order, to be read only.
func (e encoder) keys(m map[string]any) []string {
	if keys, ok := e.sortedKeys[len(m)]; ok && hasKeys(m, keys) {
		return keys
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	e.sortedKeys[len(m)] = keys
	return keys
}

// hasKeys reports whether every key is in m: with as many keys as m has,
// whether they are m's keys.
func hasKeys(m map[string]any, keys []string) bool {
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			return false
		}
	}
	return true
}

// str writes a string: as is when it is printable ASCII without a quote
// or a backslash, else through encoding/json (its escapes, U+2028 and
// U+2029, invalid UTF-8).
func (e encoder) str(s string) error {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			return e.encode(s)
		}
	}
	e.buf.WriteByte('"')
	e.buf.WriteString(s)
	e.buf.WriteByte('"')
	return nil
}

// encode writes v through encoding/json, without its newline.
func (e encoder) encode(v any) error {
	if err := e.enc.Encode(v); err != nil {
		return err
	}
	e.buf.Truncate(e.buf.Len() - 1)
	return nil
}

// MarshalJSON writes "_id", then "_rev" when set, then the other fields
// in key order.
func (r Resource) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	if err := r.write(newEncoder(&buf)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (r Resource) write(e encoder) error {
	e.buf.WriteString(`{"_id":`)
	if err := e.value(r.ID); err != nil {
		return err
	}
	if r.Rev != "" {
		e.buf.WriteString(`,"_rev":`)
		if err := e.value(r.Rev); err != nil {
			return err
		}
	}
	for _, k := range e.keys(r.Fields) {
		if k == "_id" || k == "_rev" {
			continue
		}
		e.buf.WriteByte(',')
		if err := e.value(k); err != nil {
			return err
		}
		e.buf.WriteByte(':')
		if err := e.value(r.Fields[k]); err != nil {
			return err
		}
	}
	e.buf.WriteByte('}')
	return nil
}

// Map is the resource as one object, "_id" and "_rev" (when set)
// included: what a query filter is evaluated against.
func (r Resource) Map() map[string]any {
	m := make(map[string]any, len(r.Fields)+2)
	for k, v := range r.Fields {
		m[k] = v
	}
	m["_id"] = r.ID
	if r.Rev != "" {
		m["_rev"] = r.Rev
	}
	return m
}
