package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sundial/engine/store"
)

// TestKillRestartMidReconNoDuplicateNoLostLink: a recon of a few thousand
// CSV rows into managed/user (SQLite, one node) is started over REST and
// the node is killed with SIGKILL while the run is ACTIVE, some users
// created, others not. Started again on the same store, the node shows the
// killed run FAILED (not ACTIVE for good); a second recon finishes the
// work: every row has exactly one user, every user exactly one link, and a
// third recon writes nothing.
func TestKillRestartMidReconNoDuplicateNoLostLink(t *testing.T) {
	t.Parallel()
	const rows = 3000
	p := reconProject(t, rows)
	n1 := startNode(t, p, "n1", "")
	db := openStore(t, p.sqliteDSN())
	objs, err := store.ObjectsOf(db)
	if err != nil {
		t.Fatal(err)
	}
	users := func() []store.Object {
		res, err := objs.QueryObjects(context.Background(), store.QueryObjectsParams{Type: "user"})
		if err != nil {
			t.Fatal(err)
		}
		return res.Objects
	}

	first := startRecon(t, newAPIClient(t, n1, p), false)
	waitFor(t, 120*time.Second, "the recon to have created some users", func() bool { return len(users()) >= rows/10 })
	n1.kill(t)
	created := len(users())
	t.Logf("n1 killed with %d of %d users created", created, rows)
	if created >= rows {
		t.Fatalf("the recon finished before the kill (%d users): slow it down", created)
	}

	again := startNode(t, p, "n1", "")
	c := newAPIClient(t, again, p)
	if st := reconSummary(t, c, first)["state"]; st != "FAILED" {
		t.Errorf("the killed recon %s after the restart: state %v, want FAILED", first, st)
	}
	second := reconSummary(t, c, startRecon(t, c, true))
	if second["state"] != "SUCCESS" {
		t.Fatalf("second recon: %v", second)
	}
	t.Logf("second recon: situations %v, changes %v", second["situationSummary"], second["changes"])

	// Every row has exactly one user.
	byName := map[string][]string{}
	for _, u := range users() {
		name := fmt.Sprint(u.Content["userName"])
		byName[name] = append(byName[name], u.ID)
	}
	for i := range rows {
		if ids := byName[fmt.Sprintf("user%05d", i)]; len(ids) != 1 {
			t.Errorf("user%05d has %d users: %v", i, len(ids), ids)
		}
	}
	if len(byName) != rows {
		t.Errorf("%d distinct userNames, want %d", len(byName), rows)
	}
	// Every user has exactly one link, from its row.
	recons, err := store.ReconsOf(db)
	if err != nil {
		t.Fatal(err)
	}
	bySource, byTarget := map[string]int{}, map[string]string{}
	if err := recons.QueryLinks(context.Background(), store.QueryLinksParams{LinkType: "csv_user"}, func(l store.Link) error {
		bySource[l.FirstID]++
		byTarget[l.SecondID] = l.FirstID
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, u := range users() {
		src, ok := byTarget[u.ID]
		if want := strings.Replace(fmt.Sprint(u.Content["userName"]), "user", "u", 1); !ok || src != want {
			t.Errorf("user %s (%v): linked from %q (linked %v), want %q", u.ID, u.Content["userName"], src, ok, want)
		}
	}
	for src, n := range bySource {
		if n != 1 {
			t.Errorf("row %s has %d links", src, n)
		}
	}
	if len(bySource) != rows || len(byTarget) != rows {
		t.Errorf("%d linked rows and %d linked users, want %d each", len(bySource), len(byTarget), rows)
	}

	// A third recon finds everything CONFIRMED and writes nothing.
	third := reconSummary(t, c, startRecon(t, c, true))
	changes, _ := third["changes"].(map[string]any)
	for k, v := range changes {
		if v != 0.0 {
			t.Errorf("third recon: %s %v, want nothing written (changes %v, situations %v)", k, v, changes, third["situationSummary"])
		}
	}
	again.stop(t)
}

// reconProject is a project with a CSV provisioner over rows rows (uid
// u00000…, userName user00000…) and a mapping csv_user onto managed/user
// that correlates by userName, its transform slowed down so that a kill
// lands mid-run.
func reconProject(t *testing.T, rows int) *project {
	t.Helper()
	p := newProject(t)
	if err := os.Mkdir(filepath.Join(p.dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	var csv strings.Builder
	csv.WriteString("uid,userName,email\n")
	for i := range rows {
		fmt.Fprintf(&csv, "u%05d,user%05d,user%05d@example.com\n", i, i, i)
	}
	p.write(t, "data/users.csv", csv.String())
	p.write(t, "conf/managed.json", `{"objects": [{"name": "user", "schema": {"properties": {"userName": {"type": "string"}, "mail": {"type": "string"}}}}]}`)
	p.write(t, "conf/provisioner.openicf-csv.json", `{"connectorRef": {"connectorName": "org.forgerock.openicf.csvfile.CSVFileConnector"},
  "configurationProperties": {"csvFile": "&{idm.instance.dir}/data/users.csv", "headerUid": "uid"}}`)
	p.write(t, "conf/sync.json", `{"mappings": [{
  "name": "csv_user", "source": "system/csv/account", "target": "managed/user", "taskThreads": 2,
  "correlationQuery": {"type": "text/javascript", "source": "({_queryFilter: 'userName eq \"' + source.userName + '\"'})"},
  "properties": [
    {"source": "userName", "target": "userName"},
    {"source": "email", "target": "mail", "transform": {"type": "text/javascript",
     "source": "var until = Date.now() + 3; while (Date.now() < until) {} source"}}
  ]
}]}`)
	return p
}

// startRecon starts a recon of csv_user over REST and returns its id;
// wait waits for its end.
func startRecon(t *testing.T, c *apiClient, wait bool) string {
	t.Helper()
	path := "/openidm/recon?_action=recon&mapping=csv_user"
	if wait {
		path += "&waitForCompletion=true"
	}
	code, body := c.do(t, "POST", path, "")
	var started struct {
		ID string `json:"_id"`
	}
	if err := json.Unmarshal(body, &started); code != 200 || err != nil || started.ID == "" {
		t.Fatalf("POST %s: %d %s", path, code, body)
	}
	return started.ID
}

// reconSummary is GET /openidm/recon/{id}.
func reconSummary(t *testing.T, c *apiClient, id string) map[string]any {
	t.Helper()
	code, body := c.do(t, "GET", "/openidm/recon/"+id, "")
	var m map[string]any
	if err := json.Unmarshal(body, &m); code != 200 || err != nil {
		t.Fatalf("GET /openidm/recon/%s: %d %s", id, code, body)
	}
	return m
}
