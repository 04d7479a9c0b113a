package crest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
)

// MaxBody is the largest request body read: more is a 413.
const MaxBody = 1 << 20

// BodyRule says whether a request needs a body.
type BodyRule int

const (
	BodyOptional BodyRule = iota
	BodyRequired
)

// ReadBody reads r's body as JSON text of any kind and returns its bytes
// (nil when empty): a body over MaxBody is a 413, a Content-Type other
// than application/json a 415 (no Content-Type is taken as JSON). The
// JSON itself is the caller's to parse.
func ReadBody(r *http.Request) ([]byte, error) {
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
		if err != nil {
			return nil, BadRequest("reading the request body: %v", err)
		}
		if len(b) > MaxBody {
			return nil, Errorf(http.StatusRequestEntityTooLarge, "The request body is over %d bytes", MaxBody)
		}
		body = b
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !strings.EqualFold(mt, "application/json") {
			return nil, Errorf(http.StatusUnsupportedMediaType, "Unsupported content type '%s': the body must be application/json", ct)
		}
	}
	return body, nil
}

// ReadJSON reads r's body as one JSON object and returns its bytes
// (nil when optional and empty), with ReadBody's 413 and 415; invalid
// JSON is a 400 naming the offset, an empty required body a 400.
func ReadJSON(r *http.Request, rule BodyRule) ([]byte, error) {
	body, err := ReadBody(r)
	if err != nil {
		return nil, err
	}
	if body == nil {
		if rule == BodyRequired {
			return nil, BadRequest("The request body is empty: a JSON object is required")
		}
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, jsonError(err, dec)
	}
	if obj == nil {
		return nil, BadRequest("The request body must be a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, BadRequest("The request body has content after its JSON object, at offset %d", dec.InputOffset())
	}
	return body, nil
}

func jsonError(err error, dec *json.Decoder) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return BadRequest("The request body is not valid JSON: %v at offset %d", se, se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return BadRequest("The request body must be a JSON object, not %s", te.Value)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return BadRequest("The request body is not valid JSON: unexpected end at offset %d", dec.InputOffset())
	}
	return BadRequest("The request body is not valid JSON: %v", err)
}

// MethodOverride lets a POST carry another method in
// X-HTTP-Method-Override, as CREST does.
func MethodOverride(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m := r.Header.Get("X-HTTP-Method-Override"); m != "" && r.Method == http.MethodPost {
			r2 := r.Clone(r.Context())
			r2.Method = strings.ToUpper(m)
			r = r2
		}
		next.ServeHTTP(w, r)
	})
}
