package e2e

import (
	"strconv"
	"strings"
	"testing"

	"sundial/internal/browsertest"
)

// TestBrowserRecons watches reconciliations on their page, serving
// examples/reconcile: a recon started over REST while the page is open
// appears at the top of its table live, ends SUCCESS with ABSENT 10 and
// 10 created and linked, without a reload; a plan started with the page's form is
// listed as a dry run with the same counts and writes no user.
func TestBrowserRecons(t *testing.T) {
	t.Parallel()
	p := newUIProject(t)
	p.copyExample(t, "reconcile", "conf", "data")
	node := startNode(t, p, "n1", "")
	c := newAPIClientAs(t, node, uiAdmin, uiAdminSecret)
	b := browsertest.Start(t)
	admin := openUI(t, b, node, browsertest.PageParams{})
	admin.signIn(uiAdmin, uiAdminSecret)
	admin.open("/ui/recons")
	if n := admin.Count("tr[data-recon-run]"); n != 0 {
		t.Fatalf("%d recon runs before any", n)
	}
	admin.markPage()
	if status, body := c.do(t, "POST", "/openidm/recon?_action=recon&mapping=systemHrAccounts_managedUser&waitForCompletion=true", ""); status != 200 {
		t.Fatalf("recon over REST: %d %s", status, body)
	}
	admin.WaitVisible(uiTimeout, `tr[data-recon-run][data-state="SUCCESS"]`)
	if !admin.unchanged() {
		t.Error("the page reloaded to show the new run")
	}
	cell := func(i int, col string) string {
		return strings.TrimSpace(browsertest.Eval[string](admin.Page,
			`document.querySelectorAll("tr[data-recon-run]")[`+strconv.Itoa(i)+`].querySelector('td[data-col="`+col+`"]').textContent`))
	}
	if got := cell(0, "situations"); got != "ABSENT\u00a010" {
		t.Errorf("situations: %q, want ABSENT 10", got)
	}
	if got := cell(0, "changes"); got != "created\u00a010 · linked\u00a010" {
		t.Errorf("changes: %q, want created 10 · linked 10", got)
	}

	admin.Click(`form#recon-start button[data-action="plan"]`)
	admin.WaitTrue(uiTimeout, "two runs, the newest a finished dry run",
		`document.querySelectorAll("tr[data-recon-run]").length === 2 && document.querySelector("tr[data-recon-run]").dataset.state === "SUCCESS"`)
	if got := cell(0, "id"); !strings.Contains(got, "dry run") {
		t.Errorf("the newest run's id cell %q does not say dry run", got)
	}
	if got := cell(0, "situations"); got != "CONFIRMED\u00a010" {
		t.Errorf("the plan's situations: %q, want CONFIRMED 10", got)
	}
}
