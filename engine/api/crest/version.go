package crest

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Version is a CREST protocol or resource version.
type Version struct {
	Major, Minor int
}

func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Serves reports whether a route at version v answers a request for
// version req: the same major, and the route's minor at least the one
// requested.
func (v Version) Serves(req Version) bool {
	return v.Major == req.Major && v.Minor >= req.Minor
}

// The protocol this package speaks, and the default of requests that do
// not say.
var Protocol = Version{2, 1}

// APIVersion is a parsed Accept-API-Version header.
type APIVersion struct {
	Protocol Version // Protocol (2.1) when not given
	// Resource is the resource version asked for; HasResource false when
	// the header did not name one.
	Resource    Version
	HasResource bool
}

// ParseAcceptAPIVersion reads r's Accept-API-Version:
// "protocol=X[.Y]" and/or "resource=X[.Y]", comma-separated, in either
// order. A malformed header is a 400, as is a protocol this package does
// not speak ("Unsupported major version" above 2, "Unsupported minor
// version" above 1).
func ParseAcceptAPIVersion(r *http.Request) (APIVersion, error) {
	return parseAcceptAPIVersion(r.Header.Get("Accept-API-Version"))
}

func parseAcceptAPIVersion(h string) (APIVersion, error) {
	out := APIVersion{Protocol: Protocol}
	if strings.TrimSpace(h) == "" {
		return out, nil
	}
	var seenProtocol bool
	for _, part := range strings.Split(h, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return out, BadRequest("Malformed Accept-API-Version header: '%s'", h)
		}
		v, ok := parseVersion(strings.TrimSpace(value))
		if !ok {
			return out, BadRequest("Malformed Accept-API-Version header: '%s'", h)
		}
		switch strings.TrimSpace(name) {
		case "protocol":
			if seenProtocol {
				return out, BadRequest("Malformed Accept-API-Version header: '%s'", h)
			}
			seenProtocol = true
			out.Protocol = v
		case "resource":
			if out.HasResource {
				return out, BadRequest("Malformed Accept-API-Version header: '%s'", h)
			}
			out.Resource, out.HasResource = v, true
		default:
			return out, BadRequest("Malformed Accept-API-Version header: '%s'", h)
		}
	}
	if out.Protocol.Major > Protocol.Major {
		return out, BadRequest("Unsupported major version: %s", out.Protocol)
	}
	if out.Protocol.Minor > Protocol.Minor {
		return out, BadRequest("Unsupported minor version: %s", out.Protocol)
	}
	return out, nil
}

func parseVersion(s string) (Version, bool) {
	maj, min, hasMinor := strings.Cut(s, ".")
	a, ok := parseUint(maj)
	if !ok {
		return Version{}, false
	}
	b := 0
	if hasMinor {
		if b, ok = parseUint(min); !ok {
			return Version{}, false
		}
	}
	return Version{a, b}, true
}

func parseUint(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// ContentAPIVersion is the Content-API-Version value of an answer.
func ContentAPIVersion(protocol, resource Version) string {
	return "protocol=" + protocol.String() + ",resource=" + resource.String()
}
