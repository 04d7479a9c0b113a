package system

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"sundial/engine/config"
	"sundial/engine/connector"
	"sundial/internal/ldaptest"
)

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func load(t *testing.T, dir string, prev *config.Desired) *config.Desired {
	t.Helper()
	d, err := config.Load(dir, config.LoadOptions{Previous: prev, Env: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	if !d.Valid() {
		t.Fatalf("config errors: %v", d.AllErrors())
	}
	return d
}

const csvProvisioner = `{
  "name": "hr",
  "connectorRef": {"connectorName": "org.forgerock.openicf.csvfile.CSVFileConnector", "bundleName": "org.forgerock.openicf.connectors.csvfile-connector", "bundleVersion": "[1.5.1.4,1.6.0.0)"},
  "configurationProperties": {"csvFile": "&{launcher.project.location}/data/hr.csv"},
  "objectTypes": {"account": {"nativeType": "__ACCOUNT__", "properties": {
    "uid": {"type": "string", "nativeName": "__NAME__"}, "email": {"type": "string", "nativeName": "email"}}}}
}`

const xmlProvisioner = `{"name": "xml", "connectorRef": {"connectorName": "org.forgerock.openicf.connectors.xml.XMLConnector"}, "objectTypes": {"account": {}}}`

func TestRegistry(t *testing.T) {
	ctx := context.Background()
	project := t.TempDir()
	conf := filepath.Join(project, "conf")
	write(t, project, "data/hr.csv", "\"uid\", \"email\"\n\"bjensen\", \"bjensen@example.com\"\n")
	write(t, conf, "provisioner.openicf-hr.json", csvProvisioner)
	write(t, conf, "provisioner.openicf-xml.json", xmlProvisioner)
	srv := ldaptest.Start(t, ldaptest.Options{})
	write(t, conf, "provisioner.openicf-ldap.yaml", `connectorRef: {connectorName: org.identityconnectors.ldap.LdapConnector}
configurationProperties:
  host: 127.0.0.1
  port: `+itoa(srv.Port)+`
  principal: "cn=Directory Manager"
  credentials: password
  baseContexts: [dc=example,dc=com]
  uidAttribute: dn
objectTypes:
  account: {nativeType: __ACCOUNT__, properties: {dn: {type: string, nativeName: __NAME__}, uid: {type: string, nativeName: uid}}}
`)
	d1 := load(t, conf, nil)
	r := New(nil)
	r.Apply(d1)
	t.Cleanup(r.Close)
	if got := strings.Join(r.Names(), " "); got != "hr ldap xml" {
		t.Errorf("names %s", got)
	}
	set, release, err := r.Acquire("system/hr/account")
	if err != nil {
		t.Fatal(err)
	}
	if o, err := set.Read(ctx, "bjensen"); err != nil || o["email"] != "bjensen@example.com" {
		t.Errorf("read %v %v", o, err)
	}
	for _, tc := range []struct {
		resource string
		want     error
	}{
		{"system/nosuch/account", connector.ErrNotFound},
		{"system/hr/group", connector.ErrNotFound},
		{"managed/user", connector.ErrNotFound},
		{"system/xml/account", connector.ErrNotSupported},
	} {
		if _, _, err := r.Acquire(tc.resource); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.resource, err, tc.want)
		}
	}

	results := r.TestAll(ctx)
	got, _ := json.Marshal(results)
	for _, want := range []string{
		`{"name":"hr","enabled":true,"config":"config/provisioner.openicf/hr","objectTypes":["account"],"connectorRef":{"bundleName":"org.forgerock.openicf.connectors.csvfile-connector","bundleVersion":"[1.5.1.4,1.6.0.0)","connectorName":"org.forgerock.openicf.csvfile.CSVFileConnector"},"displayName":"CSV File Connector","ok":true}`,
		`"name":"ldap","enabled":true`, `"displayName":"LDAP Connector","ok":true}`,
		`"ok":false,"error":"the connector org.forgerock.openicf.connectors.xml.XMLConnector is not one Sundial runs"`,
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("test results\n%s\nlack\n%s", got, want)
		}
	}
	if _, err := r.Test(ctx, "nosuch"); !errors.Is(err, connector.ErrNotFound) {
		t.Errorf("test of an unknown connector: %v", err)
	}

	// An LDAP set in use survives a config change that replaces its
	// connector; the old connector closes at release.
	ldapSet, ldapRelease, err := r.Acquire("system/ldap/account")
	if err != nil {
		t.Fatal(err)
	}
	oldLDAP := r.entries["ldap"]
	oldHR := r.entries["hr"]
	write(t, conf, "provisioner.openicf-ldap.yaml", strings.Replace(mustRead(t, conf, "provisioner.openicf-ldap.yaml"), "uidAttribute: dn", "uidAttribute: dn\n  blockSize: 50", 1))
	d2 := load(t, conf, d1)
	r.Apply(d2)
	if r.entries["hr"] != oldHR {
		t.Error("an unchanged connector was rebuilt")
	}
	if r.entries["ldap"] == oldLDAP || !oldLDAP.retired {
		t.Error("a changed connector was kept")
	}
	if _, err := ldapSet.Read(ctx, "dc=example,dc=com"); !errors.Is(err, connector.ErrNotFound) {
		t.Errorf("the held set after the swap: %v", err) // the suffix is no account, but the server answered
	}
	ldapRelease()
	ldapRelease() // a second release is harmless
	if oldLDAP.users != 0 {
		t.Errorf("users %d", oldLDAP.users)
	}
	if err := oldLDAP.conn.Test(ctx); err != nil {
		t.Logf("the closed connector redials on use: %v", err)
	}

	// a removed provisioner leaves; a bad one does not start
	if err := os.Remove(filepath.Join(conf, "provisioner.openicf-hr.json")); err != nil {
		t.Fatal(err)
	}
	write(t, conf, "provisioner.openicf-bad.json", `{"connectorRef": {"connectorName": "org.forgerock.openicf.csvfile.CSVFileConnector"}, "configurationProperties": {}}`)
	d3 := load(t, conf, d2)
	r.Apply(d3)
	if _, _, err := r.Acquire("system/hr/account"); !errors.Is(err, connector.ErrNotFound) {
		t.Errorf("a removed connector: %v", err)
	}
	if _, _, err := r.Acquire("system/bad/account"); err == nil || !strings.Contains(err.Error(), "csvFile (or filePath): missing") {
		t.Errorf("a bad connector: %v", err)
	}
	if res, _ := r.Test(ctx, "bad"); res.OK || !strings.Contains(res.Error, "missing") {
		t.Errorf("test of a bad connector: %+v", res)
	}
	// the held CSV set still reads after its provisioner is gone
	if _, err := set.Read(ctx, "bjensen"); err != nil {
		t.Error(err)
	}
	release()
}

func mustRead(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestParseResource(t *testing.T) {
	for _, tc := range []struct{ in, name, typ string }{
		{"system/ldap/account", "ldap", "account"},
		{"/system/csv/account/", "csv", "account"},
		{"system/ldap", "", ""},
		{"managed/user/x", "", ""},
	} {
		n, typ, err := ParseResource(tc.in)
		if n != tc.name || typ != tc.typ || (err == nil) != (tc.name != "") {
			t.Errorf("%s: %s %s %v", tc.in, n, typ, err)
		}
	}
}
