package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"sundial/internal/browsertest"
)

// badSchedule has an invalid cron expression at line 3, column 17.
const badSchedule = `{
    "type": "cron",
    "schedule": "0 0 25 * * ?",
    "invokeService": "script",
    "invokeContext": {"script": {"type": "text/javascript", "source": "true"}}
}
`

// TestBrowserConfigInvalidFile: a schedule file written invalid into the
// conf directory of a running daemon appears on the configuration page
// with its file:line:col error, and leaves it once fixed, both without the
// operator reloading the page: at each reload of the conf directory that
// changes what the page shows, the event stream says so and the page
// reloads itself.
func TestBrowserConfigInvalidFile(t *testing.T) {
	t.Parallel()
	p := newUIProject(t)
	p.write(t, "conf/schedule-nightly.json", `{"type": "cron", "schedule": "0 0 3 * * ?", "invokeService": "script",
    "invokeContext": {"script": {"type": "text/javascript", "source": "true"}}}`)
	node := startNode(t, p, "n1", "")
	b := browsertest.Start(t)
	admin := openUI(t, b, node, browsertest.PageParams{})
	admin.signIn(uiAdmin, uiAdminSecret)
	admin.open("/ui/config")
	admin.WaitVisible(uiTimeout, "section#invalid-files")
	if n := admin.Count("section#invalid-files li[data-invalid-file]"); n != 0 {
		t.Fatalf("%d invalid files listed before any", n)
	}
	hash := admin.Text("span#config-hash")

	writeConf(t, p, "schedule-bad.json", badSchedule)
	bad := `section#invalid-files li[data-invalid-file="schedule-bad.json"]`
	admin.WaitVisible(uiTimeout, bad)
	admin.WaitTrue(uiTimeout, "the error's file:line:col", `document.querySelector(`+browsertest.JSString(bad)+`).textContent.includes("schedule-bad.json:3:17")`)

	writeConf(t, p, "schedule-bad.json", `{"type": "cron", "schedule": "0 0 5 * * ?", "invokeService": "script",
    "invokeContext": {"script": {"type": "text/javascript", "source": "true"}}}`)
	admin.WaitGone(uiTimeout, bad)
	admin.WaitTrue(uiTimeout, "a new config hash", `document.querySelector("span#config-hash").textContent !== `+browsertest.JSString(hash))
}

// writeConf replaces a file of the conf directory at once (written beside
// it, then renamed), so that the watcher never reads half of it.
func writeConf(t *testing.T, p *project, name, content string) {
	t.Helper()
	staging := filepath.Join(p.dir, name+".staging")
	if err := os.WriteFile(staging, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(staging, filepath.Join(p.conf, name)); err != nil {
		t.Fatal(err)
	}
}
