package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sundial/internal/browsertest"
	"sundial/internal/pgtest"
)

// screenshotsDir is where the README's screenshots live, from this
// package's directory.
const screenshotsDir = "../../docs"

// TestBrowserScreenshots writes docs/ui-<page>.png, the web page's
// screenshots the README shows, when SUNDIAL_UPDATE_SCREENSHOTS=1 (`make
// screenshots`); otherwise it is skipped. Two nodes on one PostgreSQL serve
// a conf directory with schedules of every state (one of them failing, one
// paused by the admin, one disabled, one file invalid) and a finished task
// scan and reconciliation, and each page is taken whole, light, at 1280 px; the schedules page
// again at a phone's width.
func TestBrowserScreenshots(t *testing.T) {
	if os.Getenv("SUNDIAL_UPDATE_SCREENSHOTS") != "1" {
		t.Skip("set SUNDIAL_UPDATE_SCREENSHOTS=1 (make screenshots) to write docs/ui-*.png")
	}
	dsn := pgtest.DSN(t)
	p := newUIProject(t)
	p.write(t, "conf/managed.json", `{"objects": [{"name": "user"}]}`)
	p.write(t, "scripts/heartbeat.js", `logger.info("heartbeat {}", context.fireId);`)
	p.write(t, "scripts/export.js", `throw new Error("export target unreachable: connection refused by hr.example.com:636");`)
	p.write(t, "scripts/sunset.js", `java.lang.Thread.sleep(20);
input.active !== false;
`)
	var users strings.Builder
	for i := range 200 {
		fmt.Fprintf(&users, "{\"_id\": \"user-%03d\", \"userName\": \"user%03d\", \"active\": %t}\n", i, i, i%9 != 0)
	}
	importUsers(t, p, dsn, users.String())
	for name, body := range map[string]string{
		"heartbeat": scheduleJSON(`"type": "cron", "schedule": "0/2 * * * * ?", "description": "liveness probe of the connectors"`, "heartbeat.js"),
		"export-hr": scheduleJSON(`"type": "cron", "schedule": "0/5 * * * * ?", "description": "nightly HR export (fails: target down)"`, "export.js"),
		"reconcile-ldap": `{"type": "cron", "schedule": "0 0/15 8-18 ? * MON-FRI", "timeZone": "Europe/Paris", "persisted": true,
    "description": "reconcile LDAP accounts into managed users", "invokeService": "script",
    "invokeContext": {"script": {"type": "text/javascript", "source": "true"}}}`,
		"weekly-report": `{"type": "cron", "schedule": "0 30 6 ? * MON", "timeZone": "America/New_York", "persisted": true,
    "invokeService": "script", "invokeContext": {"script": {"type": "text/javascript", "source": "true"}}}`,
		"legacy-cleanup": `{"enabled": false, "type": "cron", "schedule": "0 0 2 * * ?", "persisted": true,
    "description": "kept for reference, disabled", "invokeService": "script",
    "invokeContext": {"script": {"type": "text/javascript", "source": "true"}}}`,
		"sunset-users": taskScanJSON(`"type": "cron", "schedule": "0 0 1 * * ?", "persisted": true, "description": "deactivates users past their sunset date"`, 2, "sunset.js"),
	} {
		p.write(t, "conf/schedule-"+name+".json", body)
	}
	// The HR file and its mapping of examples/reconcile, for the
	// reconciliations page.
	p.copyExample(t, "reconcile", "data")
	for _, f := range []string{"provisioner.openicf-hr.json", "sync.json"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "examples", "reconcile", "conf", f))
		if err != nil {
			t.Fatal(err)
		}
		p.write(t, "conf/"+f, string(b))
	}
	n1 := startNode(t, p, "node-a", dsn)
	startNode(t, p, "node-b", dsn)
	b := browsertest.Start(t)

	shot := func(u *ui, name string) {
		t.Helper()
		path := filepath.Join(screenshotsDir, "ui-"+name+".png")
		u.Screenshot(path)
		t.Logf("wrote %s", path)
	}
	light := browsertest.PageParams{Width: 1280, Height: 800, ColorScheme: "light"}

	signin := openUI(t, b, n1, light)
	signin.open("/ui/login")
	shot(signin, "signin")

	admin := openUI(t, b, n1, light)
	admin.signIn(uiAdmin, uiAdminSecret)
	admin.waitRuns("heartbeat", 2)
	admin.waitRuns("export-hr", 1)
	admin.ClickLive(row("weekly-report") + ` button[data-action="pause"]`)
	admin.waitState("weekly-report", "paused")

	admin.open("/ui/scans")
	admin.SetValue(`form#scan-execute select[name="name"]`, "sunset-users")
	admin.Click(`form#scan-execute button[type="submit"]`)
	admin.WaitVisible(uiTimeout, `tr[data-scan-run][data-state="COMPLETED"]`)
	shot(admin, "scans")

	admin.open("/ui/recons")
	// Each form post redirects back to the page; the event stream may show
	// the new run on the old page first, so each wait is for the new page.
	for i, action := range []string{"plan", "reconcile"} {
		admin.markPage()
		admin.Click(`form#recon-start button[data-action="` + action + `"]`)
		admin.WaitTrue(uiTimeout, fmt.Sprintf("%d ended runs on the page loaded after %s", i+1, action),
			fmt.Sprintf(`window.sundialTestMark !== true && document.readyState === "complete" && document.querySelectorAll('tr[data-recon-run][data-state="SUCCESS"]').length === %d`, i+1))
	}
	shot(admin, "recons")
	admin.Click(`tr[data-recon-run] td[data-col="id"] a`)
	admin.WaitVisible(uiTimeout, "section#entries")
	admin.Click(`tr[data-situation="ABSENT"] a`)
	admin.WaitVisible(uiTimeout, `tr[data-entry="1"]`)
	shot(admin, "recon")

	writeConf(t, p, "schedule-bad.json", badSchedule)
	admin.open("/ui/config")
	admin.WaitVisible(uiTimeout, `li[data-invalid-file="schedule-bad.json"]`)
	shot(admin, "config")

	admin.open("/ui/")
	admin.waitState("weekly-report", "paused")
	admin.WaitVisible(uiTimeout, row("bad"))
	admin.waitRuns("heartbeat", 3)
	shot(admin, "schedules")

	admin.open("/ui/schedules/heartbeat")
	admin.WaitVisible(uiTimeout, "section#runs")
	shot(admin, "detail")

	admin.open("/ui/timeline?span=24h")
	admin.WaitVisible(uiTimeout, "section#timeline")
	shot(admin, "timeline")

	admin.open("/ui/cluster")
	admin.WaitVisible(uiTimeout, `tr[data-node="node-b"]`)
	shot(admin, "cluster")

	phone := openUI(t, b, n1, browsertest.PageParams{Width: 390, Height: 844, Mobile: true, ColorScheme: "light"})
	phone.signIn(uiAdmin, uiAdminSecret)
	phone.WaitVisible(uiTimeout, row("heartbeat"))
	shot(phone, "schedules-phone")
}
