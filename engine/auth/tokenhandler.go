package auth

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxTokenRequest bounds the body of a token request.
const maxTokenRequest = 64 << 10

// TokenHandler serves POST /oauth2/token, the client credentials grant of
// RFC 6749 §4.4: grant_type=client_credentials in a form body, the client
// id and secret as HTTP Basic (form-encoded as §2.3.1 says) or as the form
// fields client_id and client_secret. It answers {"access_token",
// "token_type": "Bearer", "expires_in"}, or an RFC 6749 error
// (invalid_request, invalid_client, unsupported_grant_type).
func (a *Authenticator) TokenHandler() http.Handler {
	return http.HandlerFunc(a.serveToken)
}

func (a *Authenticator) serveToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		tokenError(w, http.StatusMethodNotAllowed, "invalid_request", "use POST")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		tokenError(w, http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxTokenRequest)
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "unreadable form body")
		return
	}
	form := r.PostForm
	for _, k := range []string{"grant_type", "client_id", "client_secret"} {
		if len(form[k]) > 1 {
			tokenError(w, http.StatusBadRequest, "invalid_request", "parameter "+k+" repeated")
			return
		}
	}
	switch g := form.Get("grant_type"); g {
	case "client_credentials":
	case "":
		tokenError(w, http.StatusBadRequest, "invalid_request", "missing grant_type")
		return
	default:
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "only client_credentials is supported")
		return
	}
	id, secret, basic, err := tokenClient(r, form)
	if err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	remote := remoteHost(r)
	if id == "" {
		a.failed(remote, "", "token", "no client credentials")
		unauthorized(w, basic)
		return
	}
	p, err := a.checkSecret(r.Context(), id, secret, remote, "token")
	if err != nil {
		if errors.Is(err, ErrThrottled) {
			w.Header().Set("Retry-After", strconv.Itoa(int(maxDelay.Seconds())))
		}
		unauthorized(w, basic)
		return
	}
	tok := a.signer.sign(tokenClaims{clientID: p.ClientID, role: p.Role, expiry: a.clock.Now().Add(a.lifetime)})
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"access_token": tok,
		"token_type":   "Bearer",
		"expires_in":   int(a.lifetime.Seconds()),
	})
}

// tokenClient reads the client's id and secret from HTTP Basic or from the
// form; using both is an error (RFC 6749 §2.3).
func tokenClient(r *http.Request, form url.Values) (id, secret string, basic bool, err error) {
	scheme, rest, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if strings.EqualFold(scheme, "Basic") {
		if form.Has("client_id") || form.Has("client_secret") {
			return "", "", true, errors.New("client credentials both in Authorization and in the body")
		}
		u, p, err := decodeBasic(strings.TrimSpace(rest))
		if err != nil {
			return "", "", true, nil
		}
		// RFC 6749 §2.3.1 form-encodes both before the Basic encoding;
		// most clients (curl -u) do not. %XX escapes are decoded, a '+'
		// stays a '+', and a value that is not a valid escape is taken
		// as written.
		return unescapeBasic(u), unescapeBasic(p), true, nil
	}
	return form.Get("client_id"), form.Get("client_secret"), false, nil
}

func unauthorized(w http.ResponseWriter, basic bool) {
	if basic {
		w.Header().Set("WWW-Authenticate", `Basic realm="sundial"`)
	}
	tokenError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
}

func tokenError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": description})
}

func unescapeBasic(s string) string {
	if v, err := url.PathUnescape(s); err == nil {
		return v
	}
	return s
}

// SignIn checks a client id and secret as the token endpoint does (the
// same throttle per client and address, the same failure log, form
// "web") and returns the client and a bearer token for it, valid until
// expiry. The web page keeps the token in its session cookie and
// authenticates each request with it, so a session ends when the token
// does, or when the client is removed or changes role.
func (a *Authenticator) SignIn(r *http.Request, clientID, secret string) (p Principal, token string, expiry time.Time, err error) {
	remote := remoteHost(r)
	if clientID == "" {
		a.failed(remote, "", "web", "no client id")
		return Principal{}, "", time.Time{}, ErrBadCredentials
	}
	p, err = a.checkSecret(r.Context(), clientID, secret, remote, "web")
	if err != nil {
		return Principal{}, "", time.Time{}, err
	}
	expiry = a.clock.Now().Add(a.lifetime)
	return p, a.signer.sign(tokenClaims{clientID: p.ClientID, role: p.Role, expiry: expiry}), expiry, nil
}
