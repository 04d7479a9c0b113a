package auth

import (
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func FuzzParseToken(f *testing.F) {
	s := newSigner(testKey)
	now := time.Unix(1_700_000_000, 0)
	f.Add(s.sign(tokenClaims{clientID: "ops", role: RoleOperator, expiry: now.Add(time.Hour)}))
	f.Add("a.b")
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := s.parse(tok, now)
		if err != nil {
			return
		}
		// Only a token this signer made parses: signing its claims again
		// gives it back.
		if again := s.sign(c); again != tok {
			t.Fatalf("%q parsed to %+v, which signs as %q", tok, c, again)
		}
	})
}

func FuzzHeaderCredentials(f *testing.F) {
	f.Add("utf-8''j%C3%BCrgen", "p%ZZ", "Basic b3BzOnMzY3JldA==")
	f.Add("iso-8859-1'de'%FC", "x", "Bearer abc")
	f.Add("", "", "Basic !!")
	f.Fuzz(func(t *testing.T, user, pass, authz string) {
		if v, err := decodeHeaderValue(user); err == nil && strings.HasPrefix(strings.ToLower(user), "utf-8'") && !utf8.ValidString(v) {
			t.Fatalf("%q decoded to invalid UTF-8 %q", user, v)
		}
		r, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
		r.Header["Authorization"] = []string{authz}
		r.Header["X-Openidm-Username"] = []string{user}
		r.Header["X-Openidm-Password"] = []string{pass}
		c, ok, err := requestCredentials(r)
		if !ok {
			t.Fatal("credentials present but not seen")
		}
		if err == nil && c.token == "" && c.clientID == "" {
			t.Fatalf("accepted credentials without a client: %+v", c)
		}
	})
}
