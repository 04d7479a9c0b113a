package api

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"sundial/engine/system"
	"sundial/internal/ldaptest"
)

// TestSystemTestLDAPTLS: POST /openidm/system?_action=test over LDAP
// connectors with TLS: ldaps trusting the directory's CA through
// trustedCertificates (relative to the project directory) is ok;
// startTLS trusting the system's roots alone is not, and says which host
// and why.
func TestSystemTestLDAPTLS(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{TLS: true})
	project := t.TempDir()
	ca, err := os.ReadFile(srv.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	provisioner := func(props string) string {
		return `{"connectorRef": {"connectorName": "org.identityconnectors.ldap.LdapConnector"},
  "configurationProperties": {"host": "127.0.0.1", ` + props + `, "principal": "cn=Directory Manager", "credentials": "password",
    "baseContexts": ["dc=example,dc=com"]},
  "objectTypes": {"account": {"nativeType": "__ACCOUNT__", "properties": {"uid": {"type": "string", "nativeName": "uid"}}}}}`
	}
	for name, content := range map[string]string{
		"security/ldap-ca.pem":                string(ca),
		"conf/provisioner.openicf-ldaps.json": provisioner(fmt.Sprintf(`"port": %d, "ssl": true, "trustedCertificates": "security/ldap-ca.pem"`, srv.LDAPSPort)),
		"conf/provisioner.openicf-tls.json":   provisioner(fmt.Sprintf(`"port": %d, "startTLS": true`, srv.Port)),
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(project, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(project, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	h := serveSystems(t, filepath.Join(project, "conf"))
	rec := h.do("admin", call{method: "POST", target: "/openidm/system?_action=test"})
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	var got []system.TestResult
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err, rec.Body)
	}
	want := []system.TestResult{
		{Name: "ldaps", OK: true},
		{Name: "tls", Error: fmt.Sprintf("system/tls: read the root DSE: system/tls: startTLS with 127.0.0.1:%d: the certificate of 127.0.0.1 is not trusted: "+
			"x509: certificate signed by unknown authority (trusted: the system's roots (configurationProperties.trustedCertificates adds a PEM file))", srv.Port)},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i, w := range want {
		if got[i].Name != w.Name || got[i].OK != w.OK || got[i].Error != w.Error {
			t.Errorf("connector %s: ok %v, error %q\nwant ok %v, error %q", got[i].Name, got[i].OK, got[i].Error, w.OK, w.Error)
		}
	}
}
