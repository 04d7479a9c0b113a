package e2e

import (
	"testing"

	"sundial/internal/browsertest"
)

// TestBrowserSchedules drives the schedules page of a live `sundial serve`
// in a real browser. The admin signs in through the form and watches a
// schedule firing every second: its run count grows without the page
// reloading (the rows come by server-sent events). The admin pauses it with
// the row's button: the row turns paused and its count stops, while a
// second schedule's keeps growing. A reader, signed in in a browser context
// of their own (after a wrong secret, which keeps them on the sign-in page
// with an alert), sees the same rows and no action button. Signed out, the
// admin is sent to the sign-in page.
func TestBrowserSchedules(t *testing.T) {
	t.Parallel()
	p := newUIProject(t)
	p.write(t, "scripts/tick.js", `console.log("tick " + context.fireId);`)
	for _, id := range []string{"tick", "witness"} {
		p.write(t, "conf/schedule-"+id+".json", scheduleJSON(`"type": "cron", "schedule": "* * * * * ?"`, "tick.js"))
	}
	node := startNode(t, p, "n1", "")
	b := browsertest.Start(t)

	admin := openUI(t, b, node, browsertest.PageParams{})
	admin.signIn(uiAdmin, uiAdminSecret)
	admin.WaitVisible(uiTimeout, row("tick"))
	// Once the event stream says hello, the page polls its rows once (what
	// changed between its rendering and the stream's opening), then lives
	// on the stream.
	admin.WaitTrue(uiTimeout, "one poll of the page's rows after the stream's hello",
		`performance.getEntriesByType("resource").some(e => e.name.includes("/ui/poll?id=tick") || e.name.includes("/ui/poll?id=witness"))`)
	admin.WaitTrue(uiTimeout, "the status live, not polling", `document.getElementById("live-status").textContent === "live"`)
	admin.markPage()
	n := admin.runs("tick")
	admin.waitRuns("tick", n+2)
	if !admin.unchanged() {
		t.Fatal("the page reloaded to show the new runs")
	}

	admin.ClickLive(row("tick") + ` button[data-action="pause"]`)
	admin.waitState("tick", "paused")
	// A fire under way when the pause landed may still end and count, and
	// the form's post may still be loading its answer; once the witness has
	// fired again, neither is.
	admin.waitRuns("witness", admin.runs("witness")+1)
	admin.markPage()
	paused := admin.runs("tick")
	admin.waitRuns("witness", admin.runs("witness")+2)
	if got := admin.runs("tick"); got != paused {
		t.Errorf("tick ran %d more times while paused", got-paused)
	}
	if !admin.unchanged() {
		t.Error("the page reloaded while the witness's runs grew")
	}
	if got := admin.Count(row("tick") + ` button[data-action="resume"]`); got != 1 {
		t.Errorf("the paused row has %d resume buttons, want 1", got)
	}

	reader := openUI(t, b, node, browsertest.PageParams{})
	reader.open("/ui/login")
	reader.Type("#client-id", uiReader)
	reader.Type("#secret", "not-the-secret")
	reader.Click(`form#login button[type="submit"]`)
	reader.WaitVisible(uiTimeout, `form#login [role="alert"]`)
	if path := browsertest.Eval[string](reader.Page, "location.pathname"); path != "/ui/login" {
		t.Errorf("a wrong secret leads to %s, want the sign-in page again", path)
	}
	reader.signIn(uiReader, uiReaderSecret)
	reader.WaitVisible(uiTimeout, row("tick"))
	reader.waitState("tick", "paused")
	if got := reader.Count("button[data-action]"); got != 0 {
		t.Errorf("the reader sees %d action buttons, want none", got)
	}
	if got := admin.Count(row("witness") + " button[data-action]"); got == 0 {
		t.Error("the admin sees no action button on the witness's row")
	}

	// Signed out, the admin's tab is back on the sign-in page, and the
	// schedules page sends it there again.
	admin.Click(`form#logout button`)
	admin.WaitVisible(uiTimeout, "form#login")
	admin.open("/ui/")
	admin.WaitVisible(uiTimeout, "form#login")
	if got := admin.Count("table#schedules"); got != 0 {
		t.Error("the schedules page shows its table after signing out")
	}
}
