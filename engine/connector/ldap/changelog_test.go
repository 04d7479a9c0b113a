package ldap

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"sundial/engine/connector"
	"sundial/internal/ldaptest"
)

// changelogServer starts slapd with testLDIF, a cn=changelog naming
// context and a root DSE whose changelog ends at last, and returns a
// connector on it (ids are DNs), a connection as the root DN and an add.
func changelogServer(t *testing.T, last int) (*Connector, *goldap.Conn, func(dn string, attrs map[string][]string)) {
	t.Helper()
	schema, err := filepath.Abs("testdata/changelog.schema")
	if err != nil {
		t.Fatal(err)
	}
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: testLDIF, Schemas: []string{schema}, Suffixes: []string{"cn=changelog"},
		RootDSE: fmt.Sprintf("dn:\nchangelog: cn=changelog\nfirstChangeNumber: 1\nlastChangeNumber: %d\n", last)})
	cfg, err := ParseConfig(map[string]any{"host": srv.Host, "port": int64(srv.Port), "principal": ldaptest.RootDN, "credentials": ldaptest.RootPass,
		"baseContexts": []any{ldaptest.Suffix}, "uidAttribute": "dn", "changeLogBlockSize": int64(2)}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := New("ldap", cfg, sampleTypes())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	conn, err := c.connection()
	if err != nil {
		t.Fatal(err)
	}
	add := func(dn string, attrs map[string][]string) {
		t.Helper()
		req := goldap.NewAddRequest(dn, nil)
		for k, v := range attrs {
			req.Attribute(k, v)
		}
		if err := conn.Add(req); err != nil {
			t.Fatalf("add %s: %v", dn, err)
		}
	}
	add("cn=changelog", map[string][]string{"objectClass": {"top", "organizationalRole"}, "cn": {"changelog"}})
	return c, conn, add
}

// TestSyncChangelog: a server whose root DSE names a changelog (OpenDJ's
// and DSEE's form, built here on slapd with the draft's schema) is synced
// by change number: adds are creates, modifies updates, deletes deletes,
// changes outside the synchronized base are skipped.
func TestSyncChangelog(t *testing.T) {
	ctx := context.Background()
	c, conn, add := changelogServer(t, 5)
	const (
		j   = "uid=jdoe,ou=People,dc=example,dc=com"
		b   = "uid=bjensen,ou=People,dc=example,dc=com"
		n   = "uid=new,ou=People,dc=example,dc=com"
		out = "uid=x,dc=elsewhere,dc=org"
	)
	add(n, map[string][]string{"objectClass": {"top", "person", "organizationalPerson", "inetOrgPerson"}, "uid": {"new"}, "cn": {"N"}, "sn": {"W"}})
	if err := conn.Del(goldap.NewDelRequest(b, nil)); err != nil {
		t.Fatal(err)
	}
	for i, ch := range []struct{ target, kind string }{{n, "add"}, {j, "modify"}, {out, "add"}, {b, "delete"}, {"uid=gone,ou=People,dc=example,dc=com", "modify"}} {
		add(fmt.Sprintf("changeNumber=%d,cn=changelog", i+1), map[string][]string{"objectClass": {"changeLogEntry"},
			"changeNumber": {fmt.Sprint(i + 1)}, "targetDN": {ch.target}, "changeType": {ch.kind}})
	}
	acct := set(t, c, "account")
	latest, err := acct.LatestToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if latest != (connector.Token{Value: "5", NativeType: "integer"}) {
		t.Errorf("latest %+v", latest)
	}
	var got []string
	next, err := acct.Sync(ctx, connector.Token{Value: "0", NativeType: "integer"}, func(d connector.Delta) error {
		got = append(got, fmt.Sprintf("%s %s @%v", d.Type, d.UID, d.Token.Value))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "CREATE " + n + " @1; UPDATE " + j + " @2; DELETE " + b + " @4"; strings.Join(got, "; ") != want {
		t.Errorf("changes\n%s\nwant\n%s", strings.Join(got, "; "), want)
	}
	if next != latest {
		t.Errorf("next %+v", next)
	}
	fail := errors.New("down")
	back, err := acct.Sync(ctx, connector.Token{Value: "0"}, func(d connector.Delta) error {
		if d.Type == connector.DeltaUpdate {
			return fail
		}
		return nil
	})
	if !errors.Is(err, fail) || back.Value != "1" {
		t.Errorf("a failing second change: %+v %v", back, err)
	}
	if _, err := acct.Sync(ctx, connector.Token{Value: "20260101000000Z"}, func(connector.Delta) error { return nil }); err == nil {
		t.Error("a timestamp token on a changelog server")
	}
}

// TestSyncChangelogRename: a modrdn with DNs as ids is an update of the
// new DN that names the previous one.
func TestSyncChangelogRename(t *testing.T) {
	c, conn, add := changelogServer(t, 1)
	const j = "uid=jdoe,ou=People,dc=example,dc=com"
	if err := conn.ModifyDN(goldap.NewModifyDNRequest(j, "uid=john", true, "")); err != nil {
		t.Fatal(err)
	}
	add("changeNumber=1,cn=changelog", map[string][]string{"objectClass": {"changeLogEntry"}, "changeNumber": {"1"}, "targetDN": {j},
		"changeType": {"modrdn"}, "newRDN": {"uid=john"}, "deleteOldRDN": {"TRUE"}})
	var got []string
	if _, err := set(t, c, "account").Sync(context.Background(), connector.Token{Value: "0", NativeType: "integer"}, func(d connector.Delta) error {
		got = append(got, fmt.Sprintf("%s %s from %s, uid %v", d.Type, d.UID, d.PreviousUID, d.Object["uid"]))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := "UPDATE uid=john,ou=People,dc=example,dc=com from " + j + ", uid john"; strings.Join(got, "; ") != want {
		t.Errorf("changes %q, want %q", got, want)
	}
}
