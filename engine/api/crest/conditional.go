package crest

import (
	"net/http"
	"strings"
)

// Conditions are a request's If-Match and If-None-Match headers, quotes
// stripped.
type Conditions struct {
	IfMatch, IfNoneMatch       string
	HasIfMatch, HasIfNoneMatch bool
}

// ParseConditions reads r's conditional headers; an empty one is absent.
func ParseConditions(r *http.Request) Conditions {
	var c Conditions
	c.IfMatch = unquote(r.Header.Get("If-Match"))
	c.HasIfMatch = c.IfMatch != ""
	c.IfNoneMatch = unquote(r.Header.Get("If-None-Match"))
	c.HasIfNoneMatch = c.IfNoneMatch != ""
	return c
}

func unquote(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "W/")
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	return s
}

// NotModified is the answer to a read whose If-None-Match is the
// current revision: a 304 with the body {"code":304,"reason":"Not Modified"}.
var NotModified = &Error{Code: http.StatusNotModified}

// CheckRead applies the read rules to a resource at revision rev: an
// If-Match other than * that differs is a 412, If-None-Match: * is a 412,
// an If-None-Match equal to rev is NotModified.
func (c Conditions) CheckRead(rev string) error {
	if c.HasIfMatch && c.IfMatch != "*" && c.IfMatch != rev {
		return PreconditionFailed("The resource revision does not match the If-Match header")
	}
	if c.HasIfNoneMatch {
		if c.IfNoneMatch == "*" {
			return PreconditionFailed("If-None-Match: * is not allowed on a read")
		}
		if c.IfNoneMatch == rev {
			return NotModified
		}
	}
	return nil
}

// CheckNone is the rule of queries, actions and POST creates: either
// header is a 412.
func (c Conditions) CheckNone() error {
	if c.HasIfMatch || c.HasIfNoneMatch {
		return PreconditionFailed("Conditional headers are not allowed on this request")
	}
	return nil
}

// Put is the rule of a PUT: If-None-Match: * makes it create-only, any
// other If-None-Match is a 400, both headers a 412. It returns the
// revision to check ("" for none: no If-Match, or *).
func (c Conditions) Put() (ifMatch string, createOnly bool, err error) {
	if c.HasIfMatch && c.HasIfNoneMatch {
		return "", false, PreconditionFailed("If-Match and If-None-Match cannot be used together")
	}
	if c.HasIfNoneMatch {
		if c.IfNoneMatch != "*" {
			return "", false, BadRequest("If-None-Match on a PUT must be *")
		}
		return "", true, nil
	}
	if c.HasIfMatch && c.IfMatch != "*" {
		return c.IfMatch, false, nil
	}
	return "", false, nil
}

// Delete is the rule of a DELETE: If-Match as on a PUT; If-None-Match is
// a 412.
func (c Conditions) Delete() (ifMatch string, err error) {
	if c.HasIfNoneMatch {
		return "", PreconditionFailed("If-None-Match is not allowed on a delete")
	}
	if c.HasIfMatch && c.IfMatch != "*" {
		return c.IfMatch, nil
	}
	return "", nil
}

// RejectDateConditions answers If-Modified-Since and If-Unmodified-Since
// as CREST does: a 409, since resources have revisions, not dates.
func RejectDateConditions(r *http.Request) error {
	for _, h := range []string{"If-Modified-Since", "If-Unmodified-Since"} {
		if r.Header.Get(h) != "" {
			return Conflict("Header %s is not supported: use If-Match or If-None-Match", h)
		}
	}
	return nil
}
