package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sundial/engine/auth"
	"sundial/internal/browsertest"
)

// The clients of the web page tests' access.json: an admin, who sees and
// uses every action, and a reader, who sees none.
const (
	uiAdmin        = "ops-admin"
	uiAdminSecret  = "admin-secret-for-the-browser-tests"
	uiReader       = "ops-reader"
	uiReaderSecret = "reader-secret-for-the-browser-tests"
)

// accessJSON is the access.json of the web page tests, hashed once per test
// binary (argon2id is slow on purpose).
var accessJSON = sync.OnceValues(func() (string, error) {
	admin, err := auth.HashSecret(uiAdminSecret)
	if err != nil {
		return "", err
	}
	reader, err := auth.HashSecret(uiReaderSecret)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf(`{"clients": [
    {"id": %q, "role": "openidm-admin", "secretHash": %q},
    {"id": %q, "role": "sundial-reader", "secretHash": %q}
]}`, uiAdmin, admin, uiReader, reader), nil
})

// newUIProject is a project whose conf/access.json declares uiAdmin and
// uiReader.
func newUIProject(t *testing.T) *project {
	t.Helper()
	access, err := accessJSON()
	if err != nil {
		t.Fatal(err)
	}
	p := newProject(t)
	p.write(t, "conf/access.json", access)
	return p
}

// uiTimeout bounds each wait on a page: generous, since the machine running
// the suite may be loaded, while a passing wait ends as soon as its
// condition holds.
const uiTimeout = 20 * time.Second

// ui is one signed-in (or signing-in) browser tab on a node's web page.
type ui struct {
	*browsertest.Page
	t    *testing.T
	base string // http://host:port
}

// openUI opens a tab on node's web page.
func openUI(t *testing.T, b *browsertest.Browser, node *proc, params browsertest.PageParams) *ui {
	t.Helper()
	return &ui{Page: b.NewPage(t, params), t: t, base: "http://" + node.addr}
}

// open loads a page of the web UI (path under /ui/).
func (u *ui) open(path string) {
	u.t.Helper()
	u.Navigate(u.base + path)
	u.WaitVisible(uiTimeout, "main")
}

// signIn signs in through the sign-in form and waits for the schedules
// page it lands on.
func (u *ui) signIn(client, secret string) {
	u.t.Helper()
	u.open("/ui/login")
	u.Type("#client-id", client)
	u.Type("#secret", secret)
	u.Click(`form#login button[type="submit"]`)
	u.WaitTrue(uiTimeout, "the schedules page after signing in as "+client,
		`location.pathname === "/ui/" && document.querySelector("table#schedules") !== null`)
}

// row is the CSS selector of a schedule's row on the schedules page.
func row(id string) string { return fmt.Sprintf(`tr[data-schedule=%s]`, browsertest.JSString(id)) }

// runsExpr is the JavaScript for a schedule row's run count (NaN while the
// row is missing).
func runsExpr(id string) string {
	return fmt.Sprintf(`Number((document.querySelector(%s) || {}).textContent)`,
		browsertest.JSString(row(id)+` td[data-col="runs"]`))
}

// runs reads a schedule row's run count.
func (u *ui) runs(id string) int {
	u.t.Helper()
	text := strings.TrimSpace(u.Text(row(id) + ` td[data-col="runs"]`))
	n, err := strconv.Atoi(text)
	if err != nil {
		u.t.Fatalf("the runs cell of %s holds %q, not an integer", id, text)
	}
	return n
}

// waitRuns waits until a schedule row's run count is at least n.
func (u *ui) waitRuns(id string, n int) {
	u.t.Helper()
	u.WaitTrue(uiTimeout, fmt.Sprintf("%d runs of %s on the page", n, id), fmt.Sprintf(`%s >= %d`, runsExpr(id), n))
}

// waitState waits until a schedule row's data-state is state.
func (u *ui) waitState(id, state string) {
	u.t.Helper()
	u.WaitTrue(uiTimeout, fmt.Sprintf("%s to be %s on the page", id, state),
		fmt.Sprintf(`(document.querySelector(%s) || {dataset: {}}).dataset.state === %s`,
			browsertest.JSString(row(id)), browsertest.JSString(state)))
}

// markPage sets a flag on the page's window that a reload or a navigation
// would lose; unchanged reports whether it is still there.
func (u *ui) markPage() {
	u.t.Helper()
	browsertest.Eval[bool](u.Page, `window.sundialTestMark = true`)
}

func (u *ui) unchanged() bool {
	u.t.Helper()
	return browsertest.Eval[bool](u.Page, `window.sundialTestMark === true`)
}

// importUsers writes users (JSON lines) to the project and imports them as
// managed/user with `sundial import` into the store dsn ("" for the
// project's default SQLite file); conf/managed.json must declare user.
func importUsers(t *testing.T, p *project, dsn, users string) {
	t.Helper()
	p.write(t, "users.jsonl", users)
	args := []string{"import", "managed/user", filepath.Join(p.dir, "users.jsonl"), "--conf", p.conf}
	if dsn != "" {
		args = append(args, "--store", dsn)
	}
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("sundial import: %v\n%s", err, out)
	}
}

// taskScanJSON is a schedule file scanning the managed users not completed
// yet with a script file, on threads threads; fields are the schedule's
// other keys.
func taskScanJSON(fields string, threads int, script string) string {
	return fmt.Sprintf(`{%s, "invokeService": "taskscanner",
    "invokeContext": {
        "numberOfThreads": %d,
        "scan": {
            "_queryFilter": "!(/taskState/completed pr)",
            "object": "managed/user",
            "taskState": {"started": "/taskState/started", "completed": "/taskState/completed"},
            "recovery": {"timeout": "10m"}
        },
        "task": {"script": {"type": "text/javascript", "file": %q}}
    }
}`, fields, threads, script)
}
