// Package crest implements the ForgeRock Common REST (CREST) conventions
// over net/http: the one error shape, revisions and conditional requests,
// Accept-API-Version, query parameters (_queryFilter, _fields, _sortKeys,
// paging), the query envelope and resource bodies with _id and _rev first.
//
// Versions: Accept-API-Version is parsed strictly (ParseAcceptAPIVersion);
// the protocol defaults to 2.1 and a protocol above it is a 400. A resource
// version that no route serves (Version.Serves: the same major, a minor at
// most the route's) is answered as CREST's router does, 404 "Resource
// '<path>' not found", so that a client asking for a version Sundial does
// not have learns it the way it would from IDM. Content-API-Version echoes
// the protocol and resource versions used.
//
// Conditional requests (Conditions) follow CREST's HTTP adapter: reads
// check If-Match and answer 304 (NotModified) to a matching If-None-Match;
// queries, actions and POST creates refuse either header (412); a PUT takes
// If-None-Match: * as create-only.
package crest

import (
	"fmt"
	"net/http"
)

// Error is a CREST error: answered with its HTTP status and the body
// {"code": Code, "reason": <status text>, "message": Message}, the message
// HTML-escaped as CREST does. Services return it to choose the status.
type Error struct {
	Code    int
	Message string
	// Detail, when not nil, is sent as "detail".
	Detail any
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Code, http.StatusText(e.Code), e.Message)
}

// Errorf makes an *Error with the status code and a formatted message.
func Errorf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// BadRequest, NotFound, Conflict and PreconditionFailed are the errors
// services return most.
func BadRequest(format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, format, args...)
}

func NotFound(format string, args ...any) *Error {
	return Errorf(http.StatusNotFound, format, args...)
}

func Conflict(format string, args ...any) *Error {
	return Errorf(http.StatusConflict, format, args...)
}

func PreconditionFailed(format string, args ...any) *Error {
	return Errorf(http.StatusPreconditionFailed, format, args...)
}
