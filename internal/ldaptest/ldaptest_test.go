package ldaptest

import (
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
