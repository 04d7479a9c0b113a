package auth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"sundial/engine/clock"
	"sundial/engine/config"
	"sundial/internal/syncbuf"
)

var testKey = bytes.Repeat([]byte("k"), 32)

// cheapHash hashes with small parameters, so tests run fast.
func cheapHash(secret string) config.SecretHash {
	salt := []byte("saltsaltsalt")
	return config.SecretHash{Memory: 64, Time: 1, Threads: 1, Salt: salt, Key: argon2.IDKey([]byte(secret), salt, 1, 64, 1, 32)}
}

func client(id, secret string, role Role) config.Client {
	return config.Client{ID: id, Secret: cheapHash(secret), Role: string(role)}
}

type fixture struct {
	a     *Authenticator
	clock *clock.Fake
	srv   *httptest.Server
	logs  *syncbuf.Buffer
}

// newFixture serves /whoami (a handler calling Authenticate that answers
// "<client> <role>" or "401 <error>") and /oauth2/token.
func newFixture(t *testing.T, clients ...config.Client) *fixture {
	t.Helper()
	f := &fixture{clock: clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), logs: &syncbuf.Buffer{}}
	a, err := New(Params{SigningKey: testKey, Clock: f.clock, Logger: slog.New(slog.NewTextHandler(f.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	a.SetClients(clients)
	f.a = a
	mux := http.NewServeMux()
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Authenticate(r)
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, err.Error())
			return
		}
		io.WriteString(w, p.ClientID+" "+string(p.Role))
	})
	mux.Handle("/oauth2/token", a.TokenHandler())
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// do sends req with the header added and returns the status and body.
func do(t *testing.T, req *http.Request, header http.Header) (int, []byte) {
	t.Helper()
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (f *fixture) whoami(t *testing.T, header http.Header) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/whoami", nil)
	code, b := do(t, req, header)
	return code, string(b)
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func (f *fixture) token(t *testing.T, form url.Values, header http.Header) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	code, b := do(t, req, header)
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("%d %s: %v", code, b, err)
	}
	return code, body
}

func TestHashSecret(t *testing.T) {
	h, err := HashSecret("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := config.ParseSecretHash(h)
	if err != nil {
		t.Fatalf("HashSecret gave %q: %v", h, err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") || !VerifySecret("s3cret", parsed) || VerifySecret("s3cret!", parsed) {
		t.Fatalf("hash %q does not verify as it should", h)
	}
	if h2, _ := HashSecret("s3cret"); h2 == h {
		t.Error("two hashes of one secret share a salt")
	}
	if _, err := HashSecret(""); !errors.Is(err, ErrEmptySecret) {
		t.Errorf("empty secret: %v", err)
	}
	if VerifySecret("", config.SecretHash{}) {
		t.Error("an empty hash verified")
	}
}

func TestCredentialForms(t *testing.T) {
	f := newFixture(t, client("ops", "s3cret", RoleOperator), client("jürgen", "pässwörd€", RoleReader), client("admin", "a:b c", RoleAdmin))
	for _, tc := range []struct {
		name   string
		header http.Header
		want   string
	}{
		{"basic", hdr("Authorization", basic("ops", "s3cret")), "ops sundial-operator"},
		{"basic with a colon in the secret", hdr("Authorization", basic("admin", "a:b c")), "admin openidm-admin"},
		{"basic lower-case scheme", hdr("Authorization", "basic "+base64.StdEncoding.EncodeToString([]byte("ops:s3cret"))), "ops sundial-operator"},
		{"x-openidm", hdr("X-OpenIDM-Username", "ops", "X-OpenIDM-Password", "s3cret"), "ops sundial-operator"},
		{"x-openidm rfc 5987 utf-8", hdr("X-OpenIDM-Username", "UTF-8''j%C3%BCrgen", "X-OpenIDM-Password", "utf-8''p%C3%A4ssw%C3%B6rd%E2%82%AC"), "jürgen sundial-reader"},
		{"x-openidm rfc 5987 latin-1 with a language", hdr("X-OpenIDM-Username", "iso-8859-1'de'j%FCrgen", "X-OpenIDM-Password", "utf-8''p%C3%A4ssw%C3%B6rd%E2%82%AC"), "jürgen sundial-reader"},
		{"x-openidm before basic", hdr("X-OpenIDM-Username", "ops", "X-OpenIDM-Password", "s3cret", "Authorization", basic("admin", "a:b c")), "ops sundial-operator"},
		{"x-openidm bad rfc 5987", hdr("X-OpenIDM-Username", "utf-8''%ZZ", "X-OpenIDM-Password", "s3cret"), "401 invalid credentials"},
		{"x-openidm without password", hdr("X-OpenIDM-Username", "ops"), "401 invalid credentials"},
		{"wrong secret", hdr("Authorization", basic("ops", "nope")), "401 invalid credentials"},
		{"unknown client", hdr("Authorization", basic("nobody", "s3cret")), "401 invalid credentials"},
		{"no credentials", nil, "401 no credentials"},
		{"malformed basic", hdr("Authorization", "Basic !!!"), "401 invalid credentials"},
		{"basic without colon", hdr("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("ops"))), "401 invalid credentials"},
		{"unknown scheme", hdr("Authorization", "Digest x"), "401 invalid credentials"},
		{"bad bearer", hdr("Authorization", "Bearer xyz"), "401 invalid credentials"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.a.throttle = throttle{} // each case from a clean slate
			code, body := f.whoami(t, tc.header)
			if got := body; code == 401 {
				got = "401 " + body
				body = got
			}
			if body != tc.want {
				t.Fatalf("got %d %q, want %q", code, body, tc.want)
			}
		})
	}
	if strings.Contains(f.logs.String(), "s3cret") || strings.Contains(f.logs.String(), "nope") {
		t.Errorf("a secret is in the logs:\n%s", f.logs)
	}
}

func TestTokens(t *testing.T) {
	f := newFixture(t, client("ops", "s3cret", RoleOperator), client("reader", "r", RoleReader))
	grant := url.Values{"grant_type": {"client_credentials"}}

	code, body := f.token(t, grant, hdr("Authorization", basic("ops", "s3cret")))
	if code != 200 || body["token_type"] != "Bearer" || body["expires_in"] != float64(3600) || body["access_token"] == "" {
		t.Fatalf("token by basic: %d %v", code, body)
	}
	tok := body["access_token"].(string)
	if c, b := f.whoami(t, hdr("Authorization", "Bearer "+tok)); c != 200 || b != "ops sundial-operator" {
		t.Fatalf("bearer: %d %s", c, b)
	}
	// The bearer token wins over other credentials.
	if c, b := f.whoami(t, hdr("Authorization", "Bearer "+tok, "X-OpenIDM-Username", "reader", "X-OpenIDM-Password", "r")); b != "ops sundial-operator" {
		t.Fatalf("bearer with x-openidm: %d %s", c, b)
	}

	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"reader"}, "client_secret": {"r"}}
	code, body = f.token(t, form, nil)
	if code != 200 {
		t.Fatalf("token by form: %d %v", code, body)
	}
	readerTok := body["access_token"].(string)

	// A token of another node with the same key works; with another key not.
	other, _ := New(Params{SigningKey: testKey, Clock: f.clock})
	other.SetClients([]config.Client{client("ops", "s3cret", RoleOperator)})
	if p, err := other.checkToken(tok, "x"); err != nil || p.ClientID != "ops" {
		t.Fatalf("token on a second node: %v %v", p, err)
	}
	foreign, _ := New(Params{SigningKey: bytes.Repeat([]byte("z"), 32), Clock: f.clock})
	foreign.SetClients([]config.Client{client("ops", "s3cret", RoleOperator)})
	if _, err := foreign.checkToken(tok, "x"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("token under another key: %v", err)
	}

	// Tampered: change the role in the payload, keep the signature.
	p64, mac, _ := strings.Cut(tok, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(p64)
	forged := base64.RawURLEncoding.EncodeToString(bytes.Replace(payload, []byte("sundial-operator"), []byte("openidm-admin"), 1)) + "." + mac
	if c, _ := f.whoami(t, hdr("Authorization", "Bearer "+forged)); c != 401 {
		t.Fatalf("tampered token accepted")
	}
	f.a.throttle = throttle{}

	// Role change and removal refuse existing tokens.
	f.a.SetClients([]config.Client{client("ops", "s3cret", RoleReader), client("reader", "r", RoleReader)})
	if c, _ := f.whoami(t, hdr("Authorization", "Bearer "+tok)); c != 401 {
		t.Fatal("token of a client whose role changed accepted")
	}
	f.a.SetClients([]config.Client{client("ops", "s3cret", RoleOperator)})
	if c, _ := f.whoami(t, hdr("Authorization", "Bearer "+readerTok)); c != 401 {
		t.Fatal("token of a removed client accepted")
	}
	if c, _ := f.whoami(t, hdr("Authorization", "Bearer "+tok)); c != 200 {
		t.Fatal("token refused after its role came back")
	}
	f.a.throttle = throttle{}

	// Expiry.
	f.clock.Advance(time.Hour - time.Second)
	if c, _ := f.whoami(t, hdr("Authorization", "Bearer "+tok)); c != 200 {
		t.Fatal("token refused before its expiry")
	}
	f.clock.Advance(time.Second)
	if c, _ := f.whoami(t, hdr("Authorization", "Bearer "+tok)); c != 401 {
		t.Fatal("expired token accepted")
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	f := newFixture(t, client("ops", "s3cret", RoleOperator))
	for _, tc := range []struct {
		name   string
		form   url.Values
		header http.Header
		status int
		err    string
	}{
		{"wrong secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {"ops"}, "client_secret": {"x"}}, nil, 401, "invalid_client"},
		{"unknown client", url.Values{"grant_type": {"client_credentials"}}, hdr("Authorization", basic("who", "x")), 401, "invalid_client"},
		{"no client", url.Values{"grant_type": {"client_credentials"}}, nil, 401, "invalid_client"},
		{"password grant", url.Values{"grant_type": {"password"}}, hdr("Authorization", basic("ops", "s3cret")), 400, "unsupported_grant_type"},
		{"no grant", url.Values{}, hdr("Authorization", basic("ops", "s3cret")), 400, "invalid_request"},
		{"both forms", url.Values{"grant_type": {"client_credentials"}, "client_id": {"ops"}}, hdr("Authorization", basic("ops", "s3cret")), 400, "invalid_request"},
		{"repeated", url.Values{"grant_type": {"client_credentials", "client_credentials"}}, hdr("Authorization", basic("ops", "s3cret")), 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.a.throttle = throttle{}
			code, body := f.token(t, tc.form, tc.header)
			if code != tc.status || body["error"] != tc.err {
				t.Fatalf("got %d %v, want %d %s", code, body, tc.status, tc.err)
			}
		})
	}
	resp, err := http.Get(f.srv.URL + "/oauth2/token")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("GET: %d", resp.StatusCode)
	}
	resp, err = http.Post(f.srv.URL+"/oauth2/token", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("JSON body: %d", resp.StatusCode)
	}
}

func TestFailureSlowDown(t *testing.T) {
	f := newFixture(t, client("ops", "s3cret", RoleOperator))
	good, bad := hdr("Authorization", basic("ops", "s3cret")), hdr("Authorization", basic("ops", "guess"))
	for i := range freeFailures {
		if _, b := f.whoami(t, bad); b != "invalid credentials" {
			t.Fatalf("failure %d: %s", i+1, b)
		}
	}
	if _, b := f.whoami(t, good); b != "ops sundial-operator" {
		t.Fatalf("the right secret after %d failures: %s", freeFailures, b)
	}
	// The success cleared the count: freeFailures more, then one that
	// starts the delay.
	for range freeFailures + 1 {
		f.whoami(t, bad)
	}
	if _, b := f.whoami(t, good); b != ErrThrottled.Error() {
		t.Fatalf("during the delay: %s", b)
	}
	f.clock.Advance(firstDelay)
	f.whoami(t, bad) // the fifth: two seconds
	f.clock.Advance(firstDelay)
	if _, b := f.whoami(t, good); b != ErrThrottled.Error() {
		t.Fatalf("the delay did not double: %s", b)
	}
	f.clock.Advance(firstDelay)
	if _, b := f.whoami(t, good); b != "ops sundial-operator" {
		t.Fatalf("after the delay: %s", b)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "level=WARN msg=\"authentication failed\" client=ops") || strings.Contains(logs, "guess") {
		t.Errorf("logs:\n%s", logs)
	}

	// The delay caps at maxDelay, and the table stays bounded.
	var th throttle
	now := f.clock.Now()
	for range 100 {
		th.fail("k", now)
	}
	if w := th.wait("k", now); w != maxDelay {
		t.Errorf("delay after 100 failures: %v", w)
	}
	for i := range maxThrottleKeys + 10 {
		th.fail(string(rune(i)), now)
	}
	if len(th.keys) > maxThrottleKeys {
		t.Errorf("%d keys", len(th.keys))
	}
}

func TestVerificationCache(t *testing.T) {
	f := newFixture(t, client("ops", "s3cret", RoleOperator))
	for range 3 {
		if _, b := f.whoami(t, hdr("Authorization", basic("ops", "s3cret"))); b != "ops sundial-operator" {
			t.Fatal(b)
		}
	}
	if n := len(f.a.verified); n != 1 {
		t.Fatalf("%d cache entries after three requests", n)
	}
	// A new hash for the client (its secret changed) is not served by the
	// old entry.
	f.a.SetClients([]config.Client{client("ops", "new", RoleOperator)})
	if c, _ := f.whoami(t, hdr("Authorization", basic("ops", "s3cret"))); c != 401 {
		t.Fatal("the old secret still works from the cache")
	}
	for i := range maxCachedVerifications + 5 {
		f.a.remember(f.a.cacheEntry("ops", string(rune(i)), cheapHash("x")))
	}
	if n := len(f.a.verified); n > maxCachedVerifications {
		t.Fatalf("%d cache entries", n)
	}
}

// TestSetClientsDuringRequests runs requests while the clients change
// (run it with -race).
func TestSetClientsDuringRequests(t *testing.T) {
	f := newFixture(t, client("ops", "s3cret", RoleOperator))
	_, body := f.token(t, url.Values{"grant_type": {"client_credentials"}}, hdr("Authorization", basic("ops", "s3cret")))
	tok := body["access_token"].(string)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			// The other client comes and goes; ops stays as it is, so
			// every request must pass (a failure would also start the
			// slow-down for the address all requests share).
			clients := []config.Client{client("ops", "s3cret", RoleOperator)}
			if i%2 == 1 {
				clients = append(clients, client("other", "x", RoleReader))
			}
			f.a.SetClients(clients)
		}
	})
	for range 4 {
		wg.Go(func() {
			for range 50 {
				code, b := f.whoami(t, hdr("Authorization", "Bearer "+tok))
				if code != 200 || b != "ops sundial-operator" {
					t.Errorf("bearer: %s", b)
				}
				code, b = f.whoami(t, hdr("Authorization", basic("ops", "s3cret")))
				if code != 200 {
					t.Errorf("basic: %d %s", code, b)
				}
			}
		})
	}
	for range 200 {
		f.whoami(t, hdr("Authorization", basic("ops", "s3cret")))
	}
	close(stop)
	wg.Wait()
}

func TestNewRefusesShortKey(t *testing.T) {
	if _, err := New(Params{SigningKey: []byte("short")}); err == nil {
		t.Fatal("a 5-byte signing key was accepted")
	}
}

// TestFailuresSlowOneAddressOnly: failures for a client from one address
// slow that address down, not the client's requests from another.
func TestFailuresSlowOneAddressOnly(t *testing.T) {
	f := newFixture(t, client("ops", "s3cret", RoleOperator))
	from := func(addr, secret string) error {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = addr
		r.SetBasicAuth("ops", secret)
		_, err := f.a.Authenticate(r)
		return err
	}
	for range freeFailures + 1 {
		_ = from("192.0.2.1:4000", "guess")
	}
	if err := from("192.0.2.1:4001", "s3cret"); err != ErrThrottled {
		t.Fatalf("the failing address: %v, want throttled", err)
	}
	if err := from("198.51.100.7:5000", "s3cret"); err != nil {
		t.Fatalf("another address: %v, want the client let in", err)
	}
}

// TestSignIn: the web page's sign-in gives a token the API accepts, valid
// for the token lifetime, and is throttled as the token endpoint is.
func TestSignIn(t *testing.T) {
	f := newFixture(t, client("ops", "s3cret", RoleOperator))
	req := httptest.NewRequest("POST", "/ui/login", nil)
	p, tok, exp, err := f.a.SignIn(req, "ops", "s3cret")
	if err != nil || p.ClientID != "ops" || p.Role != RoleOperator || !exp.Equal(f.clock.Now().Add(time.Hour)) {
		t.Fatalf("sign in: %v %v %v", p, exp, err)
	}
	if c, b := f.whoami(t, hdr("Authorization", "Bearer "+tok)); c != 200 || b != "ops sundial-operator" {
		t.Fatalf("the sign-in's token: %d %s", c, b)
	}
	if _, _, _, err := f.a.SignIn(req, "", ""); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("no client id: %v", err)
	}
	var last error
	for range freeFailures + 1 {
		_, _, _, last = f.a.SignIn(req, "ops", "wrong")
	}
	if _, _, _, err := f.a.SignIn(req, "ops", "s3cret"); !errors.Is(err, ErrThrottled) {
		t.Fatalf("after %d failures (last %v) the right secret gives %v, want throttled", freeFailures+1, last, err)
	}
	if !strings.Contains(f.logs.String(), "form=web") {
		t.Errorf("failures not logged with form=web:\n%s", f.logs.String())
	}
}
