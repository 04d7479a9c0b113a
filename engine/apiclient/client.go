// Package apiclient is a client of Sundial's REST API (the ForgeRock-style
// /openidm endpoints): a base URL and a client's credentials, exchanged for
// a bearer token at POST /oauth2/token and fetched again when the server
// answers 401, a timeout per request, Accept-API-Version on every request,
// and CREST error bodies turned into *Error. The CLI's commands that talk
// to a running daemon share it.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// DefaultTimeout bounds one request when Options.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// DefaultAPIVersion is sent as Accept-API-Version when Options.APIVersion
// is empty: the scheduler's resource version.
const DefaultAPIVersion = "resource=2.0"

// maxBody bounds the answers read (a query of every schedule included).
const maxBody = 256 << 20

// tokenMargin is how long before its expiry a token is fetched again.
const tokenMargin = 30 * time.Second

// Options configure New.
type Options struct {
	// BaseURL is the daemon's address, e.g. http://127.0.0.1:8080; a path
	// in it prefixes every request's.
	BaseURL string
	// ClientID and Secret are the API client's credentials; no ClientID
	// sends requests without credentials.
	ClientID, Secret string
	// Timeout bounds each request, the token fetch included; 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// APIVersion is the Accept-API-Version header; "" means
	// DefaultAPIVersion.
	APIVersion string
	// HTTPClient sends the requests; nil means a client of its own with
	// keep-alive connections.
	HTTPClient *http.Client
}

// Client sends requests to one daemon. It is safe for concurrent use.
type Client struct {
	base       *url.URL
	clientID   string
	secret     string
	timeout    time.Duration
	apiVersion string
	http       *http.Client

	mu     sync.Mutex
	token  string
	expiry time.Time
}

// New checks the options and returns a client; it sends nothing.
func New(o Options) (*Client, error) {
	u, err := url.Parse(o.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("api url %q: %w", o.BaseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("api url %q: want http://host:port or https://host:port", o.BaseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("api url %q: no query or fragment allowed", o.BaseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	c := &Client{base: u, clientID: o.ClientID, secret: o.Secret, timeout: o.Timeout, apiVersion: o.APIVersion, http: o.HTTPClient}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.apiVersion == "" {
		c.apiVersion = DefaultAPIVersion
	}
	if c.http == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64
		c.http = &http.Client{Transport: t}
	}
	return c, nil
}

// Request is one request: Path is under the base URL, escaped (e.g.
// "/openidm/scheduler/job/" + url.PathEscape(id)), Query its parameters, Body a JSON
// document or nil, Header extra headers (If-Match, If-None-Match...).
type Request struct {
	Method string
	Path   string
	Query  url.Values
	Body   []byte
	Header http.Header
}

// Response is a 2xx answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Error is an answer of 4xx or 5xx: CREST's {"code", "reason",
// "message"} body, an OAuth 2 {"error", "error_description"} of the token
// endpoint, or for a body of neither kind its first line.
type Error struct {
	Code    int
	Reason  string
	Message string
	// Detail is CREST's "detail", when the body has one.
	Detail json.RawMessage
	// Body is the answer as received.
	Body []byte
}

// Error reads "404 Not Found: Schedule does not exist: x".
func (e *Error) Error() string {
	reason := e.Reason
	if reason == "" {
		reason = http.StatusText(e.Code)
	}
	if e.Message == "" {
		return fmt.Sprintf("%d %s", e.Code, reason)
	}
	return fmt.Sprintf("%d %s: %s", e.Code, reason, e.Message)
}

// Do sends r and returns its 2xx answer, or an *Error for a 4xx or 5xx
// answer; other errors are the transport's (daemon unreachable, timeout).
// A 401 to a request with a bearer token fetches a new token and sends
// the request once more.
func (c *Client) Do(ctx context.Context, r Request) (*Response, error) {
	tok, err := c.bearer(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := c.send(ctx, r, tok)
	var e *Error
	if tok != "" && errors.As(err, &e) && e.Code == http.StatusUnauthorized {
		c.dropToken(tok)
		if tok, err = c.bearer(ctx); err != nil {
			return nil, err
		}
		return c.send(ctx, r, tok)
	}
	return resp, err
}

// Get, Post, Put and Delete are Do with the method and no extra headers.
func (c *Client) Get(ctx context.Context, path string, q url.Values) (*Response, error) {
	return c.Do(ctx, Request{Method: http.MethodGet, Path: path, Query: q})
}

func (c *Client) Post(ctx context.Context, path string, q url.Values, body []byte) (*Response, error) {
	return c.Do(ctx, Request{Method: http.MethodPost, Path: path, Query: q, Body: body})
}

func (c *Client) Put(ctx context.Context, path string, body []byte, h http.Header) (*Response, error) {
	return c.Do(ctx, Request{Method: http.MethodPut, Path: path, Body: body, Header: h})
}

func (c *Client) Delete(ctx context.Context, path string) (*Response, error) {
	return c.Do(ctx, Request{Method: http.MethodDelete, Path: path})
}

// Action posts ?_action=action on path with body (nil for none).
func (c *Client) Action(ctx context.Context, path, action string, body []byte) (*Response, error) {
	return c.Post(ctx, path, url.Values{"_action": {action}}, body)
}

func (c *Client) url(path string, q url.Values) string {
	s := c.base.String() + path
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s
}

func (c *Client) send(ctx context.Context, r Request, token string) (*Response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, c.url(r.Path, r.Query), body)
	if err != nil {
		return nil, err
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	req.Header.Set("Accept-API-Version", c.apiVersion)
	req.Header.Set("Accept", "application/json")
	if r.Body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return c.exchange(req)
}

// exchange sends req and reads its answer whole.
func (c *Client) exchange(req *http.Request) (*Response, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, redact(req.URL), unwrapURLError(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", req.Method, redact(req.URL), err)
	}
	if len(data) > maxBody {
		return nil, fmt.Errorf("%s %s: answer larger than %d bytes", req.Method, redact(req.URL), maxBody)
	}
	if resp.StatusCode >= 400 {
		return nil, decodeError(resp.StatusCode, data)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func redact(u *url.URL) string {
	v := *u
	v.User = nil
	v.RawQuery = ""
	return v.String()
}

// decodeError reads an error answer's body.
func decodeError(status int, data []byte) *Error {
	e := &Error{Code: status, Reason: http.StatusText(status), Body: data}
	var crest struct {
		Code    int             `json:"code"`
		Reason  string          `json:"reason"`
		Message *string         `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	}
	var oauth struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	switch {
	case json.Unmarshal(data, &crest) == nil && crest.Message != nil:
		if crest.Reason != "" {
			e.Reason = crest.Reason
		}
		e.Message = html.UnescapeString(*crest.Message)
		e.Detail = crest.Detail
	case json.Unmarshal(data, &oauth) == nil && oauth.Error != "":
		e.Message = oauth.Error
		if oauth.Description != "" {
			e.Message = oauth.Description + " (" + oauth.Error + ")"
		}
	default:
		line, _, _ := strings.Cut(strings.TrimSpace(string(data)), "\n")
		if len(line) > 200 {
			line = line[:200] + "…"
		}
		e.Message = line
	}
	return e
}
