package apiclient

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func golden(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// daemon answers as the REST API does, with the guide's shapes: tokens
// for client "admin" with secret "s:e%cret x" at /oauth2/token, and the
// job of testdata/job.json to a request bearing a current token.
type daemon struct {
	t      *testing.T
	mu     sync.Mutex
	tokens map[string]bool
	issued atomic.Int32
	// lifetime is the expires_in of new tokens.
	lifetime int
	// handle answers the authenticated requests.
	handle func(w http.ResponseWriter, r *http.Request)
}

func newDaemon(t *testing.T, handle func(w http.ResponseWriter, r *http.Request)) (*daemon, *httptest.Server) {
	d := &daemon{t: t, tokens: map[string]bool{}, lifetime: 3600, handle: handle}
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	return d, srv
}

func (d *daemon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == TokenPath {
		id, secret, _ := r.BasicAuth()
		if r.Method != http.MethodPost || r.FormValue("grant_type") != "client_credentials" || id != "admin" || secret != "s%3Ae%25cret%20x" {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write(golden(d.t, "token-invalid-client.json"))
			return
		}
		n := d.issued.Add(1)
		tok := "tok" + string(rune('0'+n))
		d.mu.Lock()
		d.tokens[tok] = true
		d.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"` + tok + `","token_type":"Bearer","expires_in":` + strconv.Itoa(d.lifetime) + `}`))
		return
	}
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	d.mu.Lock()
	ok := d.tokens[tok]
	d.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"code":401,"reason":"Unauthorized","message":"Access Denied"}`))
		return
	}
	d.handle(w, r)
}

// revoke makes every token issued so far refused.
func (d *daemon) revoke() {
	d.mu.Lock()
	clear(d.tokens)
	d.mu.Unlock()
}

func newClient(t *testing.T, base string, o Options) *Client {
	t.Helper()
	o.BaseURL = base
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDoSendsTokenAndAPIVersion(t *testing.T) {
	var got http.Header
	var gotURL string
	_, srv := newDaemon(t, func(w http.ResponseWriter, r *http.Request) {
		got, gotURL = r.Header.Clone(), r.URL.RequestURI()
		w.Write(golden(t, "job.json"))
	})
	c := newClient(t, srv.URL+"/", Options{ClientID: "admin", Secret: "s:e%cret x"})
	resp, err := c.Get(context.Background(), "/openidm/scheduler/job/testlog%20schedule", map[string][]string{"_fields": {"_id,enabled"}})
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.Body) != string(golden(t, "job.json")) || resp.Status != 200 {
		t.Errorf("answer %d %q, want the body as sent", resp.Status, resp.Body)
	}
	if gotURL != "/openidm/scheduler/job/testlog%20schedule?_fields=_id%2Cenabled" {
		t.Errorf("request URI %s", gotURL)
	}
	if v := got.Get("Accept-API-Version"); v != "resource=2.0" {
		t.Errorf("Accept-API-Version %q, want resource=2.0", v)
	}
	if v := got.Get("Authorization"); v != "Bearer tok1" {
		t.Errorf("Authorization %q, want Bearer tok1", v)
	}
}

// TestTokenRefresh: a 401 fetches a new token and sends the request once
// more; a token is reused while it is valid.
func TestTokenRefresh(t *testing.T) {
	var calls atomic.Int32
	d, srv := newDaemon(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Write([]byte(`{"success":true}`))
	})
	c := newClient(t, srv.URL, Options{ClientID: "admin", Secret: "s:e%cret x"})
	ctx := context.Background()
	for range 3 {
		if _, err := c.Action(ctx, "/openidm/scheduler/job/x", "trigger", nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := d.issued.Load(); n != 1 {
		t.Errorf("%d tokens fetched for 3 requests, want 1", n)
	}
	d.revoke()
	if _, err := c.Action(ctx, "/openidm/scheduler/job/x", "trigger", nil); err != nil {
		t.Fatalf("after the token was refused: %v", err)
	}
	if n := d.issued.Load(); n != 2 {
		t.Errorf("%d tokens fetched, want 2 (one after the 401)", n)
	}
	if n := calls.Load(); n != 4 {
		t.Errorf("%d requests answered, want 4", n)
	}
}

// TestTokenExpiry: a token about to expire is replaced before it is sent.
func TestTokenExpiry(t *testing.T) {
	d, srv := newDaemon(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{}`)) })
	d.lifetime = 0 // expires_in 0: no bearer token
	c := newClient(t, srv.URL, Options{ClientID: "admin", Secret: "s:e%cret x"})
	if _, err := c.Get(context.Background(), "/x", nil); err == nil || !strings.Contains(err.Error(), "answered no bearer token") {
		t.Errorf("expires_in 0: %v, want an error saying no bearer token", err)
	}
	d.lifetime = 3600
	d.issued.Store(0)
	c = newClient(t, srv.URL, Options{ClientID: "admin", Secret: "s:e%cret x"})
	if _, err := c.Get(context.Background(), "/x", nil); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	c.expiry = time.Now().Add(-time.Second)
	c.mu.Unlock()
	if _, err := c.Get(context.Background(), "/x", nil); err != nil {
		t.Fatal(err)
	}
	if n := d.issued.Load(); n != 2 {
		t.Errorf("%d tokens fetched, want 2 (the first expired)", n)
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   []byte
		want   string
	}{
		{"crest", 404, golden(t, "error-404.json"), "404 Not Found: Schedule does not exist"},
		{"escaped message", 400, golden(t, "error-escaped.json"), `400 Bad Request: invalid schedule x: "schedule" <missing>`},
		{"oauth", 401, golden(t, "token-invalid-client.json"), "401 Unauthorized: client authentication failed (invalid_client)"},
		{"not json", 502, []byte("<html>bad gateway</html>\nmore"), "502 Bad Gateway: <html>bad gateway</html>"},
		{"empty", 503, nil, "503 Service Unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, srv := newDaemon(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				w.Write(tc.body)
			})
			c := newClient(t, srv.URL, Options{ClientID: "admin", Secret: "s:e%cret x"})
			_, err := c.Get(context.Background(), "/openidm/scheduler/job/x", nil)
			var e *Error
			if !errors.As(err, &e) || e.Code != tc.status {
				t.Fatalf("error %v, want an *Error of %d", err, tc.status)
			}
			if err.Error() != tc.want {
				t.Errorf("error %q, want %q", err, tc.want)
			}
		})
	}
}

func TestBadCredentials(t *testing.T) {
	_, srv := newDaemon(t, func(w http.ResponseWriter, r *http.Request) { t.Error("request sent without a token") })
	c := newClient(t, srv.URL, Options{ClientID: "admin", Secret: "wrong"})
	_, err := c.Get(context.Background(), "/openidm/scheduler/job/x", nil)
	if err == nil || err.Error() != "token for client admin: 401 Unauthorized: client authentication failed (invalid_client)" {
		t.Errorf("error %v", err)
	}
}

func TestNoCredentials(t *testing.T) {
	_, srv := newDaemon(t, func(w http.ResponseWriter, r *http.Request) { t.Error("answered without credentials") })
	c := newClient(t, srv.URL, Options{})
	_, err := c.Get(context.Background(), "/openidm/scheduler/job/x", nil)
	if err == nil || err.Error() != "401 Unauthorized: Access Denied" {
		t.Errorf("error %v, want the daemon's 401", err)
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	_, srv := newDaemon(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	c := newClient(t, srv.URL, Options{ClientID: "admin", Secret: "s:e%cret x", Timeout: 50 * time.Millisecond})
	if _, err := c.Get(context.Background(), "/x", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want the deadline", err)
	}
}

func TestNewRejects(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:8080", "ftp://h", "http://", "http://h/?a=b", "http://h/#x", "http://%zz"} {
		if _, err := New(Options{BaseURL: u}); err == nil {
			t.Errorf("New(%q): no error", u)
		}
	}
	c, err := New(Options{BaseURL: "https://h:1/prefix/"})
	if err != nil || c.url("/openidm/x", nil) != "https://h:1/prefix/openidm/x" {
		t.Errorf("prefix: %v %v", c, err)
	}
}
