package ldap

import (
	"context"
	"fmt"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"sundial/engine/connector"
	"sundial/internal/ldaptest"
)

// BenchmarkLiveSync1000 reads 1,000 changed entries (a modify each) in one
// timestamp liveSync pass on a real slapd; changes/s is the figure.
func BenchmarkLiveSync1000(b *testing.B) {
	const n = 1000
	var ldif strings.Builder
	ldif.WriteString("dn: dc=example,dc=com\nobjectClass: domain\ndc: example\n\ndn: ou=People,dc=example,dc=com\nobjectClass: organizationalUnit\nou: People\n\n")
	for i := range n {
		fmt.Fprintf(&ldif, "dn: uid=u%d,ou=People,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: u%d\ncn: U %d\nsn: U\nmail: u%d@example.com\ncreateTimestamp: 20200101000000Z\nmodifyTimestamp: 20200101000000Z\n\n", i, i, i, i)
	}
	srv := ldaptest.Start(b, ldaptest.Options{LDIF: ldif.String()})
	cfg, err := ParseConfig(map[string]any{"host": srv.Host, "port": int64(srv.Port), "principal": ldaptest.RootDN, "credentials": ldaptest.RootPass,
		"baseContexts": []any{ldaptest.Suffix}, "uidAttribute": "dn", "usePagedResultControl": true, "blockSize": int64(500)}, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	c, err := New("ldap", cfg, sampleTypes())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	s := set(b, c, "account")
	ctx := context.Background()
	tok, err := s.LatestToken(ctx)
	if err != nil {
		b.Fatal(err)
	}
	// one modify per entry, so all 1,000 carry a timestamp after tok
	conn, err := c.connection()
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		m := goldap.NewModifyRequest(fmt.Sprintf("uid=u%d,ou=People,dc=example,dc=com", i), nil)
		m.Replace("description", []string{"changed"})
		if err := conn.Modify(m); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		got := 0
		if _, err := s.Sync(ctx, tok, func(connector.Delta) error { got++; return nil }); err != nil {
			b.Fatal(err)
		}
		if got != n {
			b.Fatalf("%d changes, want %d", got, n)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "changes/s")
}
