package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestReconcileExample serves examples/reconcile as its README says: a dry
// run plans ten creates and writes nothing, the recon creates the ten users
// with their mapped properties, a second recon changes nothing, and rows
// added, changed and removed in the HR file reach managed/user through the
// liveSync schedule.
func TestReconcileExample(t *testing.T) {
	p := newProject(t)
	p.copyExample(t, "reconcile", "conf", "data")
	node := startNode(t, p, "node1", "")
	cli := jobCLI(t, node, p)
	c := newAPIClient(t, node, p)
	users := func(filter string) string {
		t.Helper()
		status, body := c.doVersion(t, "resource=1.0", "GET", "/openidm/managed/user?_queryFilter="+filter+"&_fields=userName,givenName,displayName&_sortKeys=userName", "")
		if status != 200 {
			t.Fatalf("query managed/user: %d %s", status, body)
		}
		return string(body)
	}
	const mapping = "systemHrAccounts_managedUser"

	out, code := cli("recon", "--dry-run", mapping)
	if code != 0 || !regexp.MustCompile(`ABSENT\s+10`).MatchString(out) || !strings.Contains(out, "created 10") {
		t.Fatalf("recon --dry-run: exit %d:\n%s", code, out)
	}
	if got := users("true"); !strings.Contains(got, `"resultCount":0`) {
		t.Fatalf("the dry run wrote users: %s", got)
	}
	if out, code = cli("recon", mapping); code != 0 || !strings.Contains(out, "created 10") || !strings.Contains(out, "linked 10") {
		t.Fatalf("recon: exit %d:\n%s", code, out)
	}
	if got := users(`userName+eq+"bjensen"`); !strings.Contains(got, `"displayName":"Barbara Jensen"`) || !strings.Contains(got, `"givenName":"Barbara"`) {
		t.Errorf("bjensen after the recon: %s", got)
	}
	if out, code = cli("recon", mapping); code != 0 || !regexp.MustCompile(`CONFIRMED\s+10`).MatchString(out) || !strings.Contains(out, "created 0, updated 0, deleted 0") {
		t.Errorf("the second recon: exit %d, want 10 CONFIRMED and no change:\n%s", code, out)
	}

	// The schedule's first run (at load) records where the file stands;
	// a liveSync over REST makes sure of it before the file changes. The
	// test then triggers the schedule rather than waiting 15 s for it.
	if status, body := c.doVersion(t, "resource=1.0", "POST", "/openidm/system?_action=liveSync&source=system/hr/account", ""); status != 200 || !strings.Contains(string(body), "connectorData") {
		t.Fatalf("liveSync over REST: %d %s", status, body)
	}
	csv := filepath.Join(p.dir, "data", "hr.csv")
	b, err := os.ReadFile(csv)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(b), "scarter,Sam,Carter", "scarter,Samantha,Carter", 1)
	edited = regexp.MustCompile(`(?m)^jdoe,.*\n`).ReplaceAllString(edited, "")
	edited += "nnew,Nina,New,nnew@example.com\n"
	if err := os.WriteFile(csv, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if status, body := c.do(t, "POST", "/openidm/scheduler/job/livesync-hr?_action=trigger", ""); status != 200 {
		t.Fatalf("trigger livesync-hr: %d %s", status, body)
	}
	waitFor(t, 10*time.Second, "the HR changes in managed/user", func() bool {
		got := users(`userName+eq+"nnew"+or+userName+eq+"scarter"+or+userName+eq+"jdoe"`)
		return strings.Contains(got, `"resultCount":2`) && strings.Contains(got, `"displayName":"Nina New"`) && strings.Contains(got, `"givenName":"Samantha"`)
	})
}
