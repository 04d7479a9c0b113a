package auth

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// credentials are what a request presents.
type credentials struct {
	token          string // a bearer token; or:
	clientID, pass string
	form           string // "bearer", "x-openidm" or "basic", for logs
}

// errMalformed is the error of a credential header that cannot be read.
var errMalformed = errors.New("malformed credentials")

// requestCredentials reads a request's credentials in the order IDM and
// Sundial accept them: a bearer token, then X-OpenIDM-Username and
// X-OpenIDM-Password, then HTTP Basic. ok is false when there are none.
func requestCredentials(r *http.Request) (c credentials, ok bool, err error) {
	authz := r.Header.Get("Authorization")
	scheme, rest, _ := strings.Cut(authz, " ")
	if strings.EqualFold(scheme, "Bearer") {
		tok := strings.TrimSpace(rest)
		if tok == "" {
			return c, true, errMalformed
		}
		return credentials{token: tok, form: "bearer"}, true, nil
	}
	user, hasUser := r.Header["X-Openidm-Username"]
	pass, hasPass := r.Header["X-Openidm-Password"]
	if hasUser || hasPass {
		if len(user) != 1 || len(pass) != 1 {
			return credentials{form: "x-openidm"}, true, errMalformed
		}
		u, err1 := decodeHeaderValue(user[0])
		p, err2 := decodeHeaderValue(pass[0])
		if err1 != nil || err2 != nil || u == "" {
			return credentials{form: "x-openidm"}, true, errMalformed
		}
		return credentials{clientID: u, pass: p, form: "x-openidm"}, true, nil
	}
	if strings.EqualFold(scheme, "Basic") {
		id, secret, err := decodeBasic(strings.TrimSpace(rest))
		if err != nil {
			return credentials{form: "basic"}, true, err
		}
		return credentials{clientID: id, pass: secret, form: "basic"}, true, nil
	}
	if authz != "" {
		return c, true, errMalformed
	}
	return c, false, nil
}

// decodeBasic decodes the credentials of an Authorization: Basic header.
func decodeBasic(b64 string) (id, secret string, err error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", "", errMalformed
	}
	id, secret, ok := strings.Cut(string(raw), ":")
	if !ok || id == "" || !utf8.Valid(raw) {
		return "", "", errMalformed
	}
	return id, secret, nil
}

// decodeHeaderValue decodes an X-OpenIDM-* value: as written, or an RFC
// 5987 ext-value charset'language'percent-encoded (UTF-8 or ISO-8859-1),
// as IDM accepts for names and passwords outside ASCII.
func decodeHeaderValue(v string) (string, error) {
	charset, rest, ok := strings.Cut(v, "'")
	if !ok {
		return v, nil
	}
	_, encoded, ok := strings.Cut(rest, "'")
	if !ok {
		return v, nil
	}
	cs := strings.ToLower(charset)
	if cs != "utf-8" && cs != "iso-8859-1" {
		return v, nil // an apostrophe in a plain value
	}
	for i := 0; i < len(encoded); i++ {
		if !attrChar(encoded[i]) && encoded[i] != '%' {
			return "", errMalformed
		}
	}
	raw, err := url.PathUnescape(encoded)
	if err != nil {
		return "", errMalformed
	}
	if cs == "iso-8859-1" {
		runes := make([]rune, len(raw))
		for i := 0; i < len(raw); i++ {
			runes[i] = rune(raw[i])
		}
		return string(runes), nil
	}
	if !utf8.ValidString(raw) {
		return "", errMalformed
	}
	return raw, nil
}

// attrChar reports the characters RFC 5987 allows unencoded in a value.
func attrChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}
