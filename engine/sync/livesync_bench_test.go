package sync_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"sundial/engine/connector"
	"sundial/engine/store"
	"sundial/engine/store/sqlite"
)

// BenchmarkLiveSyncLDAP1000 is one liveSync pass over 1,000 changed LDAP
// entries (a modify each, on a real slapd) through IDM's sample2b
// mappings into an empty managed/user in SQLite: per change, the
// timestamp stream's entry, the correlation, the managed create, its link,
// the stored token, the audit/sync entries, and the implicit sync back to
// LDAP (a read of the linked entry, CONFIRMED). changes/s is the figure.
func BenchmarkLiveSyncLDAP1000(b *testing.B) {
	const n = 1000
	var ldif strings.Builder
	ldif.WriteString("dn: dc=example,dc=com\nobjectClass: domain\ndc: example\n\ndn: ou=People,dc=example,dc=com\nobjectClass: organizationalUnit\nou: People\n\n")
	for i := range n {
		fmt.Fprintf(&ldif, "dn: uid=u%d,ou=People,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: u%d\ncn: U %d\nsn: U\ngivenName: U%d\nmail: u%d@example.com\n\n", i, i, i, i, i)
	}
	p := sample2bProject(b, ldif.String())
	const src = "system/ldap/account"
	n0 := p.start(b)
	set, release, err := n0.systems.Acquire(src)
	if err != nil {
		b.Fatal(err)
	}
	defer release()
	ctx := b.Context()
	tok, err := set.(connector.Syncer).LatestToken(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		dn := fmt.Sprintf("uid=u%d,ou=People,dc=example,dc=com", i)
		if _, err := set.Update(ctx, dn, "", connector.Object{"uid": fmt.Sprintf("u%d", i), "cn": fmt.Sprintf("U %d", i), "sn": "U",
			"givenName": fmt.Sprintf("U%d", i), "mail": fmt.Sprintf("u%d@example.com", i), "description": "changed"}); err != nil {
			b.Fatal(err)
		}
	}
	synced := 0
	for b.Loop() {
		b.StopTimer()
		// a fresh store whose stage holds the token from before the changes
		st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "s.db"))
		if err != nil {
			b.Fatal(err)
		}
		p.store = st
		p.objs, _ = store.ObjectsOf(st)
		if _, err := p.objs.CreateObjects(ctx, store.CreateObjectsParams{Type: "repo:synchronisation:pooledSyncStage", Objects: []store.NewObject{{
			ID: "SYSTEMLDAPACCOUNT", Content: map[string]any{"connectorData": map[string]any{"syncToken": tok.Value, "nativeType": tok.NativeType}}}}}); err != nil {
			b.Fatal(err)
		}
		node := p.start(b)
		b.StartTimer()
		if _, err := node.liveSync(b, src); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if got := len(p.users(b)); got != n {
			b.Fatalf("%d managed users, want %d", got, n)
		}
		synced += n
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(synced)/b.Elapsed().Seconds(), "changes/s")
}
