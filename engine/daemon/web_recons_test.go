package daemon_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestWeb_Recons: the reconciliations page offers the mappings of
// sync.json; a plan (dry run) and a reconciliation started from it are
// listed with their situations and changes, the dry run writing nothing;
// the poll answer carries their rows; a reader sees no form and may not
// start one.
func TestWeb_Recons(t *testing.T) {
	t.Parallel()
	b := hrWebDaemon(t, `{"mappings": [{"name": "hr_<user>", "source": "system/hr/account", "target": "managed/user",
			"properties": [{"source": "uid", "target": "userName"}, {"source": "cn", "target": "cn"}],
			"policies": [{"situation": "ABSENT", "action": "CREATE"}]}]}`,
		"uid,cn\nbjensen,Barbara Jensen\nscarter,Sam Carter\n")

	br := newBrowser(t, b)
	csrf := br.signIn("ops")
	_, page := br.get("/ui/recons")
	if !strings.Contains(page, `<form id="recon-start"`) || !strings.Contains(page, `<option value="hr_&lt;user&gt;">hr_&lt;user&gt; (system/hr/account → managed/user)</option>`) ||
		!strings.Contains(page, "No reconciliation yet") {
		t.Fatalf("recons page before a run:\n%s", page)
	}
	for _, dry := range []string{"true", "false"} {
		if resp, body := br.post("/ui/recons/start", url.Values{"csrf": {csrf}, "mapping": {"hr_<user>"}, "dryRun": {dry}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("start (dryRun %s): %d\n%s", dry, resp.StatusCode, body)
		}
		waitFor(t, "the run of dryRun "+dry+" to end", waitTimeout, func() bool {
			_, page := br.get("/ui/recons")
			return !strings.Contains(page, `data-state="ACTIVE"`) && strings.Count(page, "<tr data-recon-run=") == map[string]int{"true": 1, "false": 2}[dry]
		})
	}
	_, page = br.get("/ui/recons")
	rows := regexp.MustCompile(`(?s)<tr data-recon-run="[^"]+" data-state="SUCCESS">.*?</tr>`).FindAllString(page, -1)
	if len(rows) != 2 {
		t.Fatalf("%d successful runs listed, want 2:\n%s", len(rows), page)
	}
	// Newest first: the reconciliation, then the dry run.
	for i, want := range []struct{ dry bool }{{false}, {true}} {
		r := rows[i]
		if strings.Contains(r, "dry run") != want.dry || !strings.Contains(r, "ABSENT\u00a02") || !strings.Contains(r, "<td data-col=\"changes\">created\u00a02 · linked\u00a02</td>") ||
			!strings.Contains(r, `<progress value="2" max="2"`) || strings.Contains(r, `data-action="cancel"`) {
			t.Errorf("row %d (dry run %v):\n%s", i, want.dry, r)
		}
	}
	if resp, body := br.post("/ui/recons/start", url.Values{"csrf": {csrf}, "mapping": {"nope"}}); resp.StatusCode != http.StatusConflict || !strings.Contains(body, "No such mapping") {
		t.Errorf("start of an unknown mapping: %d, want 409 naming it\n%s", resp.StatusCode, body)
	}
	if resp, _ := br.post("/ui/recons/nope/cancel", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("cancel of an unknown run: %d, want 404", resp.StatusCode)
	}

	_, body := br.get("/ui/poll")
	var poll struct {
		Recons map[string]string `json:"recons"`
	}
	if err := json.Unmarshal([]byte(body), &poll); err != nil || len(poll.Recons) != 2 {
		t.Errorf("poll: %d recon rows (%v), want 2:\n%s", len(poll.Recons), err, body)
	}

	reader := newBrowser(t, b)
	rcsrf := reader.signIn("viewer")
	if _, page := reader.get("/ui/recons"); strings.Contains(page, "recon-start") || strings.Count(page, "<tr data-recon-run=") != 2 {
		t.Errorf("a reader's recons page shows the form or not the runs:\n%s", page)
	}
	if resp, _ := reader.post("/ui/recons/start", url.Values{"csrf": {rcsrf}, "mapping": {"hr_<user>"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a reader's start: %d, want 403", resp.StatusCode)
	}
}

// TestWeb_ReconPage: a run's page lists its situations and its entries
// (the failed one with its message, escaped), filters them by situation
// and status, and answers 404 for a run that is not kept.
func TestWeb_ReconPage(t *testing.T) {
	t.Parallel()
	b := hrWebDaemon(t, `{"mappings": [{"name": "hr_user", "source": "system/hr/account", "target": "managed/user",
			"properties": [{"source": "uid", "target": "userName"}, {"source": "cn", "target": "cn", "transform": {"type": "text/javascript",
				"source": "if (source === 'Mallory') { throw new Error('<b>no</b> Mallory'); } source"}}],
			"policies": [{"situation": "ABSENT", "action": "CREATE"}]}]}`,
		"uid,cn\nbjensen,Barbara Jensen\nmallory,Mallory\nscarter,Sam Carter\n")
	br := newBrowser(t, b)
	br.signIn("viewer")
	ops := newBrowser(t, b)
	if resp, body := ops.post("/ui/recons/start", url.Values{"csrf": {ops.signIn("ops")}, "mapping": {"hr_user"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("start: %d\n%s", resp.StatusCode, body)
	}
	var id string
	waitFor(t, "the run to end", waitTimeout, func() bool {
		_, page := br.get("/ui/recons")
		m := regexp.MustCompile(`<tr data-recon-run="([^"]+)" data-state="SUCCESS">`).FindStringSubmatch(page)
		if m != nil {
			id = m[1]
		}
		return m != nil
	})
	resp, page := br.get("/ui/recons/" + id)
	if resp.StatusCode != 200 {
		t.Fatalf("the run's page: %d\n%s", resp.StatusCode, page)
	}
	for _, want := range []string{
		`<tr data-situation="ABSENT"><td><a href="/ui/recons/` + id + `?situation=ABSENT">ABSENT</a></td><td class="num">3</td></tr>`,
		`<h2 id="h-entries">Entries <span class="count">3</span></h2>`,
		`<code>system/hr/account/mallory</code>`,
		`&lt;b&gt;no&lt;/b&gt; Mallory`,
		`GET /openidm/recon/` + id,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the run's page lacks %s:\n%s", want, page)
		}
	}
	if strings.Contains(page, "<b>no</b>") {
		t.Error("the entry's message is not escaped")
	}
	if n := strings.Count(page, `data-status="FAILURE"`); n != 1 {
		t.Errorf("%d failed entries listed, want 1", n)
	}
	_, page = br.get("/ui/recons/" + id + "?status=FAILURE")
	if strings.Count(page, "<tr data-entry=") != 1 || !strings.Contains(page, "mallory") || strings.Contains(page, "bjensen") {
		t.Errorf("the failed entries:\n%s", page)
	}
	_, page = br.get("/ui/recons/" + id + "?situation=CONFIRMED")
	if strings.Count(page, "<tr data-entry=") != 0 || !strings.Contains(page, "No entry matches the filter.") {
		t.Errorf("no CONFIRMED entry:\n%s", page)
	}
	if resp, _ := br.get("/ui/recons/nope"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown run's page: %d, want 404", resp.StatusCode)
	}
}

// hrWebDaemon is a web daemon with managed/user, the CSV connector
// system/hr/account (uid, cn) over data/hr.csv holding rows, and syncJSON.
func hrWebDaemon(t *testing.T, syncJSON, rows string) *testBundle {
	t.Helper()
	b := webDaemon(t, map[string]string{
		"managed.json": `{"objects": [{"name": "user"}]}`,
		"provisioner.openicf-hr.json": `{"connectorRef": {"connectorName": "org.forgerock.openicf.csvfile.CSVFileConnector"},
			"configurationProperties": {"csvFile": "&{idm.instance.dir}/data/hr.csv", "headerUid": "uid"},
			"objectTypes": {"account": {"nativeType": "__ACCOUNT__", "properties": {"uid": {"type": "string", "nativeName": "__NAME__"}, "cn": {"type": "string"}}}}}`,
		"sync.json": syncJSON,
	})
	data := filepath.Join(filepath.Dir(b.conf), "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(data, "hr.csv"), rows)
	return b
}
