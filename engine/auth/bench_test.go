package auth

import (
	"log/slog"
	"net/http"
	"testing"

	"sundial/engine/config"
)

// BenchmarkAuthenticate measures one request's check: Basic with a cached
// verification, a bearer token, and Basic against a fresh argon2id hash of
// the default cost (what a wrong secret or the first request pays).
func BenchmarkAuthenticate(b *testing.B) {
	h, _ := newHash("s3cret")
	a, _ := New(Params{SigningKey: testKey, Logger: slog.New(slog.DiscardHandler)})
	a.SetClients([]config.Client{{ID: "ops", Secret: h, Role: string(RoleOperator)}})
	basicReq, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
	basicReq.SetBasicAuth("ops", "s3cret")
	bearerReq, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
	bearerReq.Header.Set("Authorization", "Bearer "+a.signer.sign(tokenClaims{clientID: "ops", role: RoleOperator, expiry: a.clock.Now().Add(a.lifetime)}))
	for _, bc := range []struct {
		name string
		req  *http.Request
		prep func()
	}{
		{"basic-cached", basicReq, func() {}},
		{"bearer", bearerReq, func() {}},
		{"basic-uncached", basicReq, func() { clear(a.verified) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				bc.prep()
				if _, err := a.Authenticate(bc.req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
