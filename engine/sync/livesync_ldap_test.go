package sync_test

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"sundial/engine/connector"
	"sundial/engine/store"
	"sundial/internal/ldaptest"
)

// oldTimestamps dates every entry of an LDIF long ago, so that a
// timestamp liveSync reports only what a test changes.
func oldTimestamps(ldif string) string {
	blocks := strings.Split(strings.ReplaceAll(ldif, "\r\n", "\n"), "\n\n")
	for i, b := range blocks {
		if strings.HasPrefix(strings.TrimSpace(b), "dn:") {
			blocks[i] = strings.TrimRight(b, "\n") + "\ncreateTimestamp: 20200101000000Z\nmodifyTimestamp: 20200101000000Z"
		}
	}
	return strings.Join(blocks, "\n\n") + "\n"
}

// sample2bProject is IDM's sample2b (its sync.json and LDAP provisioner)
// over a real slapd loaded with ldif ("": the sample's Example.ldif).
func sample2bProject(t testing.TB, ldif string) *liveProject {
	read := func(name string) []byte {
		b, err := os.ReadFile(corpus + name)
		if err != nil {
			t.Skipf("SKIPPED: corpus file %s is not here: %v", name, err)
		}
		return b
	}
	syncFile := read("OpenIdentityPlatform_OpenIDM@d7bd51f__openidm-zip__src__main__resources__samples__sample2b__conf__sync.json")
	provFile := read("OpenIdentityPlatform_OpenIDM@d7bd51f__openidm-zip__src__main__resources__samples__provisioners__provisioner.openicf-ldap.json")
	if ldif == "" {
		ldif = string(read("OpenIdentityPlatform_OpenIDM@d7bd51f__openidm-zip__src__main__resources__samples__internal-common__data__Example.ldif"))
	}
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: oldTimestamps(ldif)})
	var prov map[string]any
	if err := json.Unmarshal(provFile, &prov); err != nil {
		t.Fatal(err)
	}
	cp := prov["configurationProperties"].(map[string]any)
	cp["host"], cp["port"], cp["principal"], cp["credentials"] = srv.Host, srv.Port, ldaptest.RootDN, ldaptest.RootPass
	provFile, _ = json.Marshal(prov)
	return newLiveProject(t, map[string]string{"conf/sync.json": string(syncFile), "conf/provisioner.openicf-ldap.json": string(provFile)})
}

// TestLiveSyncLDAPRoundTrip is the sample2b round trip: changes in LDAP
// flow into managed/user by liveSync (whose implicit sync back to LDAP
// finds the new links: CONFIRMED), and creates, updates and deletes of
// managed users flow to LDAP by implicit sync.
func TestLiveSyncLDAPRoundTrip(t *testing.T) {
	p := sample2bProject(t, "")
	n := p.start(t)
	ctx := t.Context()
	const src = "system/ldap/account"
	if _, err := n.liveSync(t, src); err != nil {
		t.Fatal(err)
	}
	ldapSet, release, err := n.systems.Acquire(src)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	const jdoe = "uid=jdoe,ou=People,dc=example,dc=com"
	if _, err := ldapSet.Update(ctx, jdoe, "", connector.Object{"uid": "jdoe", "cn": "John Doe", "sn": "Doe", "givenName": "John",
		"mail": "john.doe@example.com", "description": "changed in LDAP"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ldapSet.Create(ctx, "", connector.Object{"dn": "uid=new,ou=People,dc=example,dc=com", "uid": "new", "cn": "New One",
		"sn": "One", "givenName": "New", "mail": "new@example.com"}); err != nil {
		t.Fatal(err)
	}
	if got := p.users(t); len(got) != 0 {
		t.Fatalf("writes to system/ldap synced by themselves: %v", got)
	}
	if _, err := n.liveSync(t, src); err != nil {
		t.Fatal(err)
	}
	users := p.users(t)
	var names []string
	for _, u := range users {
		names = append(names, strings.SplitN(u, " ", 2)[1])
	}
	sort.Strings(names)
	if want := []string{"jdoe john.doe@example.com", "new new@example.com"}; !slices.Equal(names, want) {
		t.Fatalf("managed/user after liveSync: %v, want %v", names, want)
	}
	audit, err := n.svc.SyncAudit(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var back []string
	for _, a := range audit {
		if a["status"] != "SUCCESS" {
			t.Errorf("a failed sync: %v", a)
		}
		if a["mapping"] == "managedUser_systemLdapAccounts" {
			back = append(back, a["situation"].(string)+" "+a["action"].(string)+" "+a["targetObjectId"].(string))
		}
	}
	sort.Strings(back)
	if want := []string{"CONFIRMED UPDATE system/ldap/account/" + jdoe, "CONFIRMED UPDATE system/ldap/account/uid=new,ou=People,dc=example,dc=com"}; !slices.Equal(back, want) {
		t.Errorf("implicit sync of the new managed users: %v, want %v", back, want)
	}

	// implicit sync of managed/user writes (as REST or a script makes them)
	res, err := n.managed.CreateObjects(ctx, store.CreateObjectsParams{Type: "user", Objects: []store.NewObject{{ID: "alice",
		Content: map[string]any{"userName": "alice", "givenName": "Alice", "sn": "Liddell", "mail": "alice@example.com"}}}})
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res[0].Err)
	}
	const alice = "uid=alice,ou=People,dc=example,dc=com"
	e, err := ldapSet.Read(ctx, alice)
	if err != nil || e["mail"] != "alice@example.com" || e["cn"] != "Alice Liddell" {
		t.Fatalf("alice in LDAP: %v %v", e, err)
	}
	u := res[0].Object.Content
	u["mail"] = "alice@wonderland.example"
	if _, err := n.managed.UpdateObject(ctx, store.UpdateObjectParams{Type: "user", ID: "alice", Content: u}); err != nil {
		t.Fatal(err)
	}
	if e, err := ldapSet.Read(ctx, alice); err != nil || e["mail"] != "alice@wonderland.example" {
		t.Fatalf("alice in LDAP after the update: %v %v", e, err)
	}
	if _, err := n.managed.DeleteObject(ctx, store.DeleteObjectParams{Type: "user", ID: "alice"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ldapSet.Read(ctx, alice); !errors.Is(err, connector.ErrNotFound) {
		t.Fatalf("alice in LDAP after the delete: %v", err)
	}
}
