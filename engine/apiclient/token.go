package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// TokenPath is where the daemon hands out bearer tokens.
const TokenPath = "/oauth2/token"

// bearer returns the current token, fetching one when there is none or it
// is about to expire; "" when the client has no credentials.
func (c *Client) bearer(ctx context.Context) (string, error) {
	if c.clientID == "" {
		return "", nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && time.Now().Before(c.expiry) {
		return c.token, nil
	}
	tok, lifetime, err := c.fetchToken(ctx)
	if err != nil {
		return "", err
	}
	c.token = tok
	c.expiry = time.Now().Add(lifetime - min(tokenMargin, lifetime/2))
	return tok, nil
}

// dropToken forgets tok after the server refused it, unless another
// request has already replaced it.
func (c *Client) dropToken(tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token == tok {
		c.token = ""
	}
}

// fetchToken is the client credentials grant: the id and secret as HTTP
// Basic, each escaped as RFC 6749 §2.3.1 asks (a ':' in the id included).
func (c *Client) fetchToken(ctx context.Context) (string, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	form := url.Values{"grant_type": {"client_credentials"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url(TokenPath, nil), strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(escapeBasic(c.clientID), escapeBasic(c.secret))
	resp, err := c.exchange(req)
	if err != nil {
		return "", 0, fmt.Errorf("token for client %s: %w", c.clientID, err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal(resp.Body, &tok); err != nil || tok.AccessToken == "" || !strings.EqualFold(tok.TokenType, "Bearer") || tok.ExpiresIn <= 0 {
		return "", 0, fmt.Errorf("token for client %s: %s answered no bearer token", c.clientID, c.url(TokenPath, nil))
	}
	return tok.AccessToken, time.Duration(tok.ExpiresIn) * time.Second, nil
}

// escapeBasic percent-escapes what the token endpoint decodes: every byte
// url.PathEscape escapes, and ':' which would end the id.
func escapeBasic(s string) string {
	return strings.ReplaceAll(url.PathEscape(s), ":", "%3A")
}
