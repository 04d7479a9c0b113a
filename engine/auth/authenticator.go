package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"sundial/engine/clock"
	"sundial/engine/config"
)

// Authenticate's errors. The API answers all of them 401 "Access Denied".
var (
	ErrNoCredentials  = errors.New("no credentials")
	ErrBadCredentials = errors.New("invalid credentials")
	ErrThrottled      = errors.New("too many failed attempts; try again later")
)

// DefaultTokenLifetime is how long a token of POST /oauth2/token is valid
// when Params.TokenLifetime is zero.
const DefaultTokenLifetime = time.Hour

// MinSigningKeyLen is the shortest signing key New accepts.
const MinSigningKeyLen = 32

// maxCachedVerifications bounds the cache of successful secret checks.
const maxCachedVerifications = 1024

// Params configures New.
type Params struct {
	// SigningKey signs and checks bearer tokens; every node of a cluster
	// must be given the same one. At least MinSigningKeyLen bytes.
	SigningKey []byte
	// TokenLifetime is the validity of new tokens; 0 means
	// DefaultTokenLifetime.
	TokenLifetime time.Duration
	// Clock tells token expiry and failure delays; nil means clock.Real.
	Clock clock.Clock
	// Logger receives the failure lines; nil discards them.
	Logger *slog.Logger
}

// Authenticator checks the credentials of API requests against the
// current clients. Its methods are safe for concurrent use, SetClients
// included.
type Authenticator struct {
	signer   signer
	lifetime time.Duration
	clock    clock.Clock
	log      *slog.Logger

	clients atomic.Pointer[map[string]config.Client]
	dummy   config.SecretHash // checked for unknown ids, so they cost what a wrong secret costs
	hashing chan struct{}     // bounds concurrent argon2id checks (each takes 19 MiB)

	cacheKey []byte // keys the cache, so its entries say nothing without it
	cacheMu  sync.Mutex
	verified map[[sha256.Size]byte]struct{}

	throttle throttle
}

// New returns an Authenticator with no clients: every request is refused
// until SetClients gives some.
func New(p Params) (*Authenticator, error) {
	if len(p.SigningKey) < MinSigningKeyLen {
		return nil, fmt.Errorf("token signing key of %d bytes: at least %d are needed", len(p.SigningKey), MinSigningKeyLen)
	}
	a := &Authenticator{
		signer:   newSigner(append([]byte(nil), p.SigningKey...)),
		lifetime: p.TokenLifetime,
		clock:    p.Clock,
		log:      p.Logger,
		hashing:  make(chan struct{}, 2*runtime.GOMAXPROCS(0)),
		cacheKey: make([]byte, 32),
		verified: map[[sha256.Size]byte]struct{}{},
	}
	if a.lifetime <= 0 {
		a.lifetime = DefaultTokenLifetime
	}
	if a.clock == nil {
		a.clock = clock.Real{}
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	rand.Read(a.cacheKey)
	dummySecret := make([]byte, 32)
	rand.Read(dummySecret)
	a.dummy, _ = newHash(string(dummySecret))
	a.clients.Store(&map[string]config.Client{})
	return a, nil
}

// SetClients replaces the clients. Tokens of a client that is gone, or
// whose role changed, are refused from now on.
func (a *Authenticator) SetClients(clients []config.Client) {
	m := make(map[string]config.Client, len(clients))
	for _, c := range clients {
		m[c.ID] = c
	}
	a.clients.Store(&m)
}

// Authenticate returns the client a request authenticates as. It reads, in
// this order, Authorization: Bearer, X-OpenIDM-Username and
// X-OpenIDM-Password (RFC 5987 values accepted), and Authorization: Basic.
func (a *Authenticator) Authenticate(r *http.Request) (Principal, error) {
	creds, ok, err := requestCredentials(r)
	remote := remoteHost(r)
	if !ok {
		return Principal{}, ErrNoCredentials
	}
	if err != nil {
		a.failed(remote, "", creds.form, err.Error())
		return Principal{}, ErrBadCredentials
	}
	if creds.token != "" {
		return a.checkToken(creds.token, remote)
	}
	return a.checkSecret(r.Context(), creds.clientID, creds.pass, remote, creds.form)
}

// checkToken checks a bearer token: signature and expiry, then, in
// memory, that its client still exists with the same role.
func (a *Authenticator) checkToken(tok, remote string) (Principal, error) {
	addrKey := "addr:" + remote
	if a.throttle.wait(addrKey, a.clock.Now()) > 0 {
		return Principal{}, ErrThrottled
	}
	claims, err := a.signer.parse(tok, a.clock.Now())
	if err != nil {
		a.failed(remote, "", "bearer", err.Error())
		return Principal{}, ErrBadCredentials
	}
	c, ok := (*a.clients.Load())[claims.clientID]
	switch {
	case !ok:
		a.failed(remote, "", "bearer", "token of a client that no longer exists")
		return Principal{}, ErrBadCredentials
	case Role(c.Role) != claims.role:
		a.failed(remote, "", "bearer", "token of a client whose role changed")
		return Principal{}, ErrBadCredentials
	}
	return Principal{ClientID: c.ID, Role: claims.role}, nil
}

// checkSecret checks a client id and secret.
func (a *Authenticator) checkSecret(ctx context.Context, id, secret, remote, form string) (Principal, error) {
	// A client is slowed down per address: failures from one address
	// never lock the client out of the others.
	idKey, addrKey := "client:"+id+"|"+remote, "addr:"+remote
	now := a.clock.Now()
	if a.throttle.wait(idKey, now) > 0 || a.throttle.wait(addrKey, now) > 0 {
		return Principal{}, ErrThrottled
	}
	c, known := (*a.clients.Load())[id]
	h := c.Secret
	if !known {
		h = a.dummy
	}
	ck := a.cacheEntry(id, secret, h)
	if known && a.cached(ck) {
		a.throttle.succeed(idKey)
		a.throttle.succeed(addrKey)
		return Principal{ClientID: id, Role: Role(c.Role)}, nil
	}
	select {
	case a.hashing <- struct{}{}:
	case <-ctx.Done():
		return Principal{}, ctx.Err()
	}
	match := VerifySecret(secret, h)
	<-a.hashing
	if !known || !match {
		reason := "wrong secret"
		if !known {
			reason = "unknown client"
		}
		a.failed(remote, id, form, reason)
		return Principal{}, ErrBadCredentials
	}
	a.remember(ck)
	a.throttle.succeed(idKey)
	a.throttle.succeed(addrKey)
	return Principal{ClientID: id, Role: Role(c.Role)}, nil
}

func (a *Authenticator) cacheEntry(id, secret string, h config.SecretHash) [sha256.Size]byte {
	m := hmac.New(sha256.New, a.cacheKey)
	fmt.Fprintf(m, "%d:%s%d:%s%s", len(id), id, len(secret), secret, h.String())
	var k [sha256.Size]byte
	copy(k[:], m.Sum(nil))
	return k
}

func (a *Authenticator) cached(k [sha256.Size]byte) bool {
	a.cacheMu.Lock()
	defer a.cacheMu.Unlock()
	_, ok := a.verified[k]
	return ok
}

func (a *Authenticator) remember(k [sha256.Size]byte) {
	a.cacheMu.Lock()
	defer a.cacheMu.Unlock()
	if len(a.verified) >= maxCachedVerifications {
		for old := range a.verified {
			delete(a.verified, old)
			break
		}
	}
	a.verified[k] = struct{}{}
}

// failed records a failure for the remote address and, when known, the
// client id, and logs it: each of the first failures in a row, then at
// every power of two.
func (a *Authenticator) failed(remote, id, form, reason string) {
	now := a.clock.Now()
	n := a.throttle.fail("addr:"+remote, now)
	if id != "" {
		n = max(n, a.throttle.fail("client:"+id+"|"+remote, now))
	}
	if n <= freeFailures+1 || n&(n-1) == 0 {
		if len(id) > 64 {
			id = id[:64] + "…"
		}
		a.log.Warn("authentication failed", "client", id, "remote", remote, "form", form, "reason", reason, "failuresInARow", n)
	}
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
