package sync_test

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"sundial/engine/connector"
	"sundial/engine/managed"
	"sundial/engine/sync"
	"sundial/internal/ldaptest"
)

// readCorpus returns a corpus file, or skips t when it is not here.
func readCorpus(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(corpus + name)
	if err != nil {
		t.Skipf("SKIPPED: corpus file %s is not here: %v", name, err)
	}
	return string(b)
}

// reconcile runs a recon of mapping to success.
func (n *liveNode) reconcile(t testing.TB, mapping string) *sync.Run {
	t.Helper()
	run, err := n.svc.Reconcile(t.Context(), sync.ReconParams{Mapping: mapping})
	if err != nil || run.State() != sync.StateSuccess {
		t.Fatalf("recon %s: %v %v %v", mapping, err, run.Err(), run.Summary())
	}
	return run
}

// reconcileAgain runs a recon of mapping over what a first one
// reconciled: confirmed sources, every one CONFIRMED, nothing written, and
// the target's objects as list gives them unchanged.
func (n *liveNode) reconcileAgain(t testing.TB, mapping string, confirmed int, list func() []string) {
	t.Helper()
	before := list()
	again := n.reconcile(t, mapping)
	if got, want := strings.Join(situations(again), ", "), fmt.Sprintf("CONFIRMED %d", confirmed); got != want {
		t.Errorf("second recon: situations %s, want %s", got, want)
	}
	if c := again.Counts(); c.Created+c.Updated+c.Deleted+c.Linked+c.Unlinked+c.Failed != 0 {
		t.Errorf("second recon changed something: %+v", c)
	}
	if after := list(); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("second recon changed the target:\n%s\nwas\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
	}
}

// situations is a recon's situation summary without the zero counts, as
// "SITUATION n" sorted.
func situations(run *sync.Run) []string {
	var out []string
	for sit, n := range run.Summary()["situationSummary"].(map[string]any) {
		if n != 0 {
			out = append(out, fmt.Sprintf("%s %v", sit, n))
		}
	}
	sort.Strings(out)
	return out
}

// objects lists a set's objects as JSON, sorted.
func objects(t testing.TB, n *liveNode, resource string) []string {
	t.Helper()
	set, release, err := n.systems.Acquire(resource)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	var out []string
	if err := set.Query(t.Context(), connector.Query{}, func(o connector.Object) error {
		b, err := json.Marshal(o)
		out = append(out, string(b))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// TestCorpusGettingStarted runs IDM's getting-started sample: its
// sync.json (the admin UI's expressionTree correlation on name) and its
// two CSV provisioners, as the 5.0 build assembles them, with the data
// files of the OpenIDM distribution: HR's three accounts reconciled into
// engineering's two, twice.
func TestCorpusGettingStarted(t *testing.T) {
	const at = "OpenIdentityPlatform_OpenIDM@3d7a7e9__openidm-samples__getting-started__src__main__resources__conf__"
	const data = "OpenIdentityPlatform_OpenIDM@d7bd51f__openidm-zip__src__main__resources__samples__getting-started__data__"
	p := newLiveProject(t, map[string]string{
		"conf/sync.json":                            readCorpus(t, at+"sync.json"),
		"conf/provisioner.openicf-hr.json":          readCorpus(t, at+"provisioner.openicf-hr.json"),
		"conf/provisioner.openicf-engineering.json": readCorpus(t, at+"provisioner.openicf-engineering.json"),
		"data/hr.csv":                               readCorpus(t, data+"hr.csv"),
		"data/engineering.csv":                      readCorpus(t, data+"engineering.csv"),
	})
	n := p.start(t)
	const mapping = "HumanResources_Engineering"
	run := n.reconcile(t, mapping)
	if got, want := strings.Join(situations(run), ", "), "ABSENT 1, FOUND 2"; got != want {
		t.Errorf("situations %s, want %s", got, want)
	}
	if c := run.Counts(); c.SourceTotal != 3 || c.Created != 1 || c.Updated != 2 || c.Linked != 3 || c.Deleted != 0 || c.Failed != 0 {
		t.Errorf("counts %+v", c)
	}
	// The mapped properties: name and email from HR's email, the roles
	// transform (an employee number starting with 6 is an admin), the
	// telephoneNumber default (no source: null, so "N/A"); engineering's
	// own description is kept.
	want := []string{
		`{"_id":"bjensen@example.com","description":"Created By Engineering","email":"bjensen@example.com","firstname":"Barbara","lastname":"Jensen","name":"bjensen@example.com","roles":"openidm-authorized","telephoneNumber":"N/A"}`,
		`{"_id":"jsanchez@example.com","email":"jsanchez@example.com","firstname":"Jane","lastname":"Sanchez","name":"jsanchez@example.com","roles":"openidm-authorized","telephoneNumber":"N/A"}`,
		`{"_id":"scarter@example.com","description":"Created By Engineering","email":"scarter@example.com","firstname":"Steven","lastname":"Carter","name":"scarter@example.com","roles":"openidm-admin,openidm-authorized","telephoneNumber":"N/A"}`,
	}
	got := objects(t, n, "system/engineering/account")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("system/engineering/account:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	n.reconcileAgain(t, mapping, 3, func() []string { return objects(t, n, "system/engineering/account") })
}

// TestCorpusSample2 runs IDM's sample2: its sync.json (LDAP accounts into
// managed/user, no correlation) over the sample LDAP provisioner and
// Example.ldif loaded in a real slapd, twice.
func TestCorpusSample2(t *testing.T) {
	syncFile := readCorpus(t, "OpenIdentityPlatform_OpenIDM@d7bd51f__openidm-zip__src__main__resources__samples__sample2__conf__sync.json")
	provFile := readCorpus(t, "OpenIdentityPlatform_OpenIDM@d7bd51f__openidm-zip__src__main__resources__samples__provisioners__provisioner.openicf-ldap.json")
	ldif := readCorpus(t, "OpenIdentityPlatform_OpenIDM@d7bd51f__openidm-zip__src__main__resources__samples__internal-common__data__Example.ldif")
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: ldif})
	var prov map[string]any
	if err := json.Unmarshal([]byte(provFile), &prov); err != nil {
		t.Fatal(err)
	}
	// The sample's directory is OpenDJ on localhost:1389; this one is
	// slapd on a free port, with the same root DN and password.
	cp := prov["configurationProperties"].(map[string]any)
	cp["host"], cp["port"] = srv.Host, srv.Port
	b, _ := json.Marshal(prov)
	p := newLiveProject(t, map[string]string{"conf/sync.json": syncFile, "conf/provisioner.openicf-ldap.json": string(b)})
	n := p.start(t)
	const mapping = "systemLdapAccounts_managedUser"
	run := n.reconcile(t, mapping)
	if got, want := strings.Join(situations(run), ", "), "ABSENT 2"; got != want {
		t.Errorf("situations %s, want %s", got, want)
	}
	if c := run.Counts(); c.SourceTotal != 2 || c.Created != 2 || c.Linked != 2 || c.Failed != 0 {
		t.Errorf("counts %+v", c)
	}
	want := []string{
		`{"accountStatus":"active","description":"Created for OpenIDM","displayName":"Barbara Jensen","givenName":"Barbara","mail":"bjensen@example.com","sn":"Jensen","telephoneNumber":"1-360-229-7105","userName":"bjensen"}`,
		`{"accountStatus":"active","description":"Created for OpenIDM","displayName":"John Doe","givenName":"John","mail":"jdoe@example.com","sn":"Doe","telephoneNumber":"1-415-599-1100","userName":"jdoe"}`,
	}
	got := p.managedUsers(t)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("managed/user:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	n.reconcileAgain(t, mapping, 2, func() []string { return p.managedUsers(t) })
}

// managedUsers lists managed/user as JSON without _id and _rev, sorted.
func (p *liveProject) managedUsers(t testing.TB) []string {
	t.Helper()
	var out []string
	err := managed.NewSet(p.objs, "user").Query(t.Context(), connector.Query{}, func(o connector.Object) error {
		delete(o, "_id")
		delete(o, "_rev")
		b, err := json.Marshal(o)
		out = append(out, string(b))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}
