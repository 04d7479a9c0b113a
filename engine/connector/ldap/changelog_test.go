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

// TestSyncChangelog: a server whose root DSE names a changelog (OpenDJ's
// and DSEE's form, built here on slapd with the draft's schema) is synced
// by change number: adds are creates, modifies updates, deletes deletes,
// changes outside the synchronized base are skipped.
func TestSyncChangelog(t *testing.T) {
	ctx := context.Background()
	schema, err := filepath.Abs("testdata/changelog.schema")
	if err != nil {
		t.Fatal(err)
	}
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: testLDIF, Schemas: []string{schema}, Suffixes: []string{"cn=changelog"},
		RootDSE: "dn:\nchangelog: cn=changelog\nfirstChangeNumber: 1\nlastChangeNumber: 5\n"})
	cfg, err := ParseConfig(map[string]any{"host": srv.Host, "port": int64(srv.Port), "principal": ldaptest.RootDN, "credentials": ldaptest.RootPass,
		"baseContexts": []any{ldaptest.Suffix}, "uidAttribute": "dn", "changeLogBlockSize": int64(2)}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := New("ldap", cfg, sampleTypes())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
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
	const (
		j   = "uid=jdoe,ou=People,dc=example,dc=com"
		b   = "uid=bjensen,ou=People,dc=example,dc=com"
		n   = "uid=new,ou=People,dc=example,dc=com"
		out = "uid=x,dc=elsewhere,dc=org"
	)
	add("cn=changelog", map[string][]string{"objectClass": {"top", "organizationalRole"}, "cn": {"changelog"}})
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
