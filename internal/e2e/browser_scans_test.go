package e2e

import (
	"fmt"
	"strings"
	"testing"

	"sundial/internal/browsertest"
)

// scanUsers and scanFailing are the users the scan test imports, and how
// many of them the scan's script fails.
const scanUsers, scanFailing = 60, 5

// TestBrowserTaskScan watches a task scan on the scans page. Users imported
// with `sundial import` are scanned by a schedule that never fires by
// itself; the admin starts it with the page's form. The script takes 100ms
// an object on one thread (6 s in all, several of the page's updates), so
// the run is seen ACTIVE with its processed count and progress bar
// growing, live, then COMPLETED with every user counted, the ones the
// script refuses as failures.
func TestBrowserTaskScan(t *testing.T) {
	t.Parallel()
	p := newUIProject(t)
	p.write(t, "conf/managed.json", `{"objects": [{"name": "user"}]}`)
	p.write(t, "scripts/slow.js", `java.lang.Thread.sleep(100);
input.fail !== true;
`)
	var lines strings.Builder
	for i := range scanUsers {
		fmt.Fprintf(&lines, "{\"_id\": \"u%02d\", \"userName\": \"u%02d\", \"fail\": %t}\n", i, i, i < scanFailing)
	}
	importUsers(t, p, "", lines.String())
	p.write(t, "conf/schedule-sweep.json", taskScanJSON(`"enabled": false, "type": "cron", "schedule": "0 0 3 * * ?"`, 1, "slow.js"))
	node := startNode(t, p, "n1", "")
	b := browsertest.Start(t)
	admin := openUI(t, b, node, browsertest.PageParams{})
	admin.signIn(uiAdmin, uiAdminSecret)
	admin.open("/ui/scans")
	if n := admin.Count("tr[data-scan-run]"); n != 0 {
		t.Fatalf("%d scan runs before any scan", n)
	}
	admin.SetValue(`form#scan-execute select[name="name"]`, "sweep")
	admin.Click(`form#scan-execute button[type="submit"]`)

	// processed of the ACTIVE run, once above min and shown on its
	// progress bar too; null (wait on) before.
	activeAbove := func(min int) string {
		return fmt.Sprintf(`(r => {
  if (r === null) return null;
  const n = Number(r.querySelector('td[data-col="processed"]').textContent);
  return n > %d && Number(r.querySelector("progress").value) === n ? n : null;
})(document.querySelector('tr[data-scan-run][data-state="ACTIVE"]'))`, min)
	}
	first := browsertest.WaitValue[int](admin.Page, uiTimeout, "an ACTIVE scan run with some users processed", activeAbove(0))
	admin.markPage()
	browsertest.WaitValue[int](admin.Page, uiTimeout, fmt.Sprintf("processed to grow past %d while ACTIVE", first), activeAbove(first))
	admin.WaitVisible(uiTimeout, `tr[data-scan-run][data-state="COMPLETED"]`)
	if !admin.unchanged() {
		t.Error("the page reloaded to show the scan's progress")
	}
	if got := admin.Count("tr[data-scan-run]"); got != 1 {
		t.Errorf("%d scan runs on the page, want 1", got)
	}
	for col, want := range map[string]int{"processed": scanUsers, "successes": scanUsers - scanFailing, "failures": scanFailing} {
		if got := admin.cell(col); got != want {
			t.Errorf("%s: %d, want %d", col, got, want)
		}
	}
	bar := browsertest.Eval[[]float64](admin.Page, `(b => [b.value, b.max])(document.querySelector("tr[data-scan-run] progress"))`)
	if len(bar) != 2 || bar[0] != scanUsers || bar[1] != scanUsers {
		t.Errorf("the progress bar is at %v, want [%d %d]", bar, scanUsers, scanUsers)
	}
}

// cell reads a count of the first scan run's row.
func (u *ui) cell(col string) int {
	u.t.Helper()
	return browsertest.Eval[int](u.Page, fmt.Sprintf(`Number(document.querySelector('tr[data-scan-run] td[data-col=%q]').textContent)`, col))
}
