package ldaptest

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestStartLoadsLDIF(t *testing.T) {
	ldif := "dn: dc=com\nobjectClass: domain\ndc: com\n\n" +
		"dn: dc=example,dc=com\nobjectClass: domain\nobjectClass: top\ndc: example\n\n" +
		"dn: ou=People,dc=example,dc=com\nobjectClass: organizationalUnit\nou: People\n"
	if got := withinSuffix(ldif); strings.Contains(got, "dn: dc=com\n") || !strings.Contains(got, "ou=People") {
		t.Errorf("withinSuffix: %q", got)
	}
	s := Start(t, Options{LDIF: ldif})
	c, err := net.Dial("tcp", net.JoinHostPort(s.Host, strconv.Itoa(s.Port)))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := os.Stat(filepath.Join(s.Dir, "db", "data.mdb")); err != nil {
		t.Error(err)
	}
}

// TestStartTLS: with TLS, the ldaps port completes a handshake whose
// certificate, for 127.0.0.1, is signed by the CA of CAFile.
func TestStartTLS(t *testing.T) {
	s := Start(t, Options{TLS: true})
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", s.CAFile)
	}
	c, err := tls.Dial("tcp", net.JoinHostPort(s.Host, strconv.Itoa(s.LDAPSPort)), &tls.Config{RootCAs: roots, ServerName: s.Host, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("ldaps handshake on %s: %v", s.LDAPSURL, err)
	}
	c.Close()
	if !strings.HasPrefix(s.LDAPSURL, "ldaps://127.0.0.1:") {
		t.Errorf("LDAPSURL %q", s.LDAPSURL)
	}
}
