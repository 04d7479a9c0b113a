package sync_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"sundial/engine/store"
	"sundial/engine/sync"
	"sundial/internal/ldaptest"
)

// renameProvisioner is an LDAP connector whose ids are DNs; %s and %d
// are slapd's host and port.
const renameProvisioner = `{"name": "ldap",
  "connectorRef": {"bundleName": "org.forgerock.openicf.connectors.ldap-connector", "bundleVersion": "[1.4.0.0,2.0.0.0)",
    "connectorName": "org.identityconnectors.ldap.LdapConnector"},
  "configurationProperties": {"host": "%s", "port": %d, "principal": "cn=Directory Manager", "credentials": "password",
    "baseContexts": ["dc=example,dc=com"], "uidAttribute": "dn", "accountObjectClasses": ["top", "person", "organizationalPerson", "inetOrgPerson"]},
  "objectTypes": {"account": {"id": "__ACCOUNT__", "type": "object", "nativeType": "__ACCOUNT__", "properties": {
    "dn": {"type": "string", "nativeName": "__NAME__", "nativeType": "string"},
    "uid": {"type": "string", "nativeName": "uid", "nativeType": "string"},
    "cn": {"type": "string", "nativeName": "cn", "nativeType": "string"},
    "sn": {"type": "string", "nativeName": "sn", "nativeType": "string"},
    "mail": {"type": "string", "nativeName": "mail", "nativeType": "string"}}}}}`

// ldapToUser has no correlation query: without its link, a renamed entry
// would be a new user.
const ldapToUser = `{"mappings": [{
  "name": "ldapAccounts_managedUser", "source": "system/ldap/account", "target": "managed/user",
  "properties": [{"source": "uid", "target": "userName"}, {"source": "mail", "target": "mail"}, {"source": "dn", "target": "dn"},
    {"source": "_previous-id", "target": "formerDn"}]
}]}`

// TestLiveSyncRename: an LDAP modrdn read from the changelog, with DNs as
// ids, comes as an update of the new DN naming the previous one
// (_previous-id); the previous DN's link moves to the new one, so the
// user it reached is updated, not doubled.
func TestLiveSyncRename(t *testing.T) {
	schema, err := filepath.Abs("../connector/ldap/testdata/changelog.schema")
	if err != nil {
		t.Fatal(err)
	}
	// The test server's root DSE is static: it names change 1 as the
	// last, written below before the pass reads it.
	srv := ldaptest.Start(t, ldaptest.Options{Schemas: []string{schema}, Suffixes: []string{"cn=changelog"},
		RootDSE: "dn:\nchangelog: cn=changelog\nfirstChangeNumber: 1\nlastChangeNumber: 1\n"})
	p := newLiveProject(t, map[string]string{
		"conf/provisioner.openicf-ldap.json": fmt.Sprintf(renameProvisioner, srv.Host, srv.Port),
		"conf/sync.json":                     ldapToUser,
	})
	conn, err := goldap.DialURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Bind(ldaptest.RootDN, ldaptest.RootPass); err != nil {
		t.Fatal(err)
	}
	add := func(reqs ...*goldap.AddRequest) {
		t.Helper()
		for _, r := range reqs {
			if err := conn.Add(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	const oldDN, newDN = "uid=jdoe,ou=People,dc=example,dc=com", "uid=john,ou=People,dc=example,dc=com"
	add(addRequest("ou=People,dc=example,dc=com", "objectClass", "organizationalUnit", "ou", "People"),
		addRequest(oldDN, "objectClass", "inetOrgPerson", "uid", "jdoe", "cn", "John Doe", "sn", "Doe", "mail", "jdoe@example.com"))
	n := p.start(t)
	ctx := t.Context()
	run, err := n.svc.Reconcile(ctx, sync.ReconParams{Mapping: "ldapAccounts_managedUser"})
	if err != nil || run.State() != sync.StateSuccess {
		t.Fatal(err, run.Err())
	}
	if got := p.users(t); len(got) != 1 || !strings.HasSuffix(got[0], " jdoe jdoe@example.com") {
		t.Fatalf("users after the recon: %v", got)
	}
	userID := strings.Fields(p.users(t)[0])[0]

	if err := conn.ModifyDN(goldap.NewModifyDNRequest(oldDN, "uid=john", true, "")); err != nil {
		t.Fatal(err)
	}
	add(addRequest("cn=changelog", "objectClass", "top", "objectClass", "organizationalRole", "cn", "changelog"),
		addRequest("changeNumber=1,cn=changelog", "objectClass", "changeLogEntry", "changeNumber", "1", "targetDN", oldDN,
			"changeType", "modrdn", "newRDN", "uid=john", "deleteOldRDN", "TRUE"))
	// The stage starts before change 1 (a first pass would start at the
	// server's last change).
	if _, err := p.objs.CreateObjects(ctx, store.CreateObjectsParams{Type: "repo:synchronisation:pooledSyncStage", Objects: []store.NewObject{{
		ID: "SYSTEMLDAPACCOUNT", Content: map[string]any{"connectorData": map[string]any{"syncToken": "0", "nativeType": "integer"}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.liveSync(t, "system/ldap/account"); err != nil {
		t.Fatal(err)
	}
	if got, want := p.users(t), []string{userID + " john jdoe@example.com"}; !slices.Equal(got, want) {
		t.Fatalf("users after the rename: %v, want %v", got, want)
	}
	u, err := p.objs.ReadObject(ctx, store.ReadObjectParams{Type: "user", ID: userID})
	if err != nil || !strings.EqualFold(fmt.Sprint(u.Content["dn"]), newDN) || !strings.EqualFold(fmt.Sprint(u.Content["formerDn"]), oldDN) {
		t.Errorf("the user's dn: %v %v", u.Content, err)
	}
	var links []string
	_ = p.store.(store.Recons).QueryLinks(ctx, store.QueryLinksParams{LinkType: "ldapAccounts_managedUser"}, func(l store.Link) error {
		links = append(links, strings.ToLower(l.FirstID)+"="+l.SecondID)
		return nil
	})
	if want := []string{strings.ToLower(newDN) + "=" + userID}; !slices.Equal(links, want) {
		t.Errorf("links %v, want %v", links, want)
	}
	audit, err := n.svc.SyncAudit(ctx, "ldapAccounts_managedUser")
	if err != nil || len(audit) != 1 || audit[0]["situation"] != "CONFIRMED" || audit[0]["action"] != "UPDATE" {
		t.Errorf("audit/sync %v %v", audit, err)
	}
}

// addRequest is an add of dn with attribute, value pairs.
func addRequest(dn string, kv ...string) *goldap.AddRequest {
	req := goldap.NewAddRequest(dn, nil)
	vals := map[string][]string{}
	var order []string
	for i := 0; i < len(kv); i += 2 {
		if _, ok := vals[kv[i]]; !ok {
			order = append(order, kv[i])
		}
		vals[kv[i]] = append(vals[kv[i]], kv[i+1])
	}
	for _, k := range order {
		req.Attribute(k, vals[k])
	}
	return req
}
