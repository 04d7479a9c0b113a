package ldap

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"sundial/internal/ldaptest"
)

// TestTLS: ssl (ldaps) and startTLS against slapd's throwaway CA, trusted
// through trustedCertificates (relative to the project directory) or not;
// a failure names the step, the host and crypto/x509's reason.
func TestTLS(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: testLDIF, TLS: true})
	project := t.TempDir()
	caPEM, err := os.ReadFile(srv.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ldaptest.NewCA("another CA")
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"ca.pem": caPEM, "other.pem": other.PEM, "empty.pem": []byte("not a certificate\n")} {
		if err := os.WriteFile(filepath.Join(project, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ldaps := "connect to ldaps://127.0.0.1:" + strconv.Itoa(srv.LDAPSPort)
	startTLS := "startTLS with 127.0.0.1:" + strconv.Itoa(srv.Port)
	const unknownCA = "the certificate of 127.0.0.1 is not trusted: x509: certificate signed by unknown authority"
	for _, tc := range []struct {
		name  string
		props map[string]any
		want  string // in the error; "" for none
	}{
		{"ssl, trusted", map[string]any{"ssl": true, "port": int64(srv.LDAPSPort), "trustedCertificates": "ca.pem"}, ""},
		{"startTLS, trusted", map[string]any{"startTLS": true, "trustedCertificates": filepath.Join(project, "ca.pem")}, ""},
		{"ssl, system roots", map[string]any{"ssl": true, "port": int64(srv.LDAPSPort)},
			"system/ldap: " + ldaps + ": " + unknownCA + " (trusted: the system's roots (configurationProperties.trustedCertificates adds a PEM file))"},
		{"startTLS, system roots", map[string]any{"startTLS": true}, "system/ldap: " + startTLS + ": " + unknownCA},
		{"ssl, another CA", map[string]any{"ssl": true, "port": int64(srv.LDAPSPort), "trustedCertificates": "other.pem"},
			ldaps + ": " + unknownCA + " (trusted: the system's roots and " + filepath.Join(project, "other.pem") + ")"},
		{"ssl, another host name", map[string]any{"ssl": true, "host": "localhost", "port": int64(srv.LDAPSPort), "trustedCertificates": "ca.pem"},
			"the certificate of localhost is not trusted: x509: certificate is not valid for any names, but wanted to match localhost"},
		{"no TLS on the ldaps port", map[string]any{"port": int64(srv.LDAPSPort)}, "system/ldap: read the root DSE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := connectTo(t, srv, project, tc.props)
			if err != nil {
				t.Fatal(err)
			}
			err = c.Test(context.Background())
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("test: %v", err)
			case tc.want == "":
				if got := ids(t, set(t, c, "account"), `uid eq "jdoe"`, false); strings.Join(got, ",") != "uid=jdoe,ou=People,dc=example,dc=com" {
					t.Errorf("query over TLS: %q", got)
				}
			case err == nil || !strings.Contains(err.Error(), tc.want):
				t.Errorf("test: %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

// TestTrustedCertificatesFile: a trustedCertificates file that cannot be
// read or holds no certificate stops the connector, naming the key.
func TestTrustedCertificatesFile(t *testing.T) {
	project := t.TempDir()
	if err := os.WriteFile(filepath.Join(project, "empty.pem"), []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		"missing.pem": "ldap connector ldap: configurationProperties.trustedCertificates: open " + filepath.Join(project, "missing.pem") + ": no such file or directory",
		"empty.pem":   "ldap connector ldap: configurationProperties.trustedCertificates: " + filepath.Join(project, "empty.pem") + ": no PEM certificate in it",
	} {
		cfg, err := ParseConfig(map[string]any{"host": "127.0.0.1", "ssl": true, "baseContexts": "dc=x", "trustedCertificates": file}, project)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := New("ldap", cfg, sampleTypes()); err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %q", file, err, want)
		}
	}
}
