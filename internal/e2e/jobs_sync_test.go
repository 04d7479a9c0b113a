package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sundial/engine/store"
	"sundial/internal/pgtest"
)

// The HR system: a CSV file read by the CSV connector with its 1.5+ keys.
const hrProvisioner = `{
  "connectorRef": {"connectorName": "org.forgerock.openicf.csvfile.CSVFileConnector", "bundleVersion": "[1.5.0.0,1.6.0.0)"},
  "configurationProperties": {"csvFile": "&{idm.instance.dir}/data/hr.csv", "headerUid": "uid"},
  "objectTypes": {"account": {"nativeType": "__ACCOUNT__", "properties": {
    "uid": {"type": "string", "nativeName": "__NAME__"},
    "firstName": {"type": "string"}, "lastName": {"type": "string"}, "email": {"type": "string"}}}}
}`

// hrMapping reconciles HR accounts into managed users, correlated on
// userName; a user whose row is gone is deleted.
const hrMapping = `{"mappings": [{
  "name": "systemHrAccount_managedUser", "source": "system/hr/account", "target": "managed/user",
  "runTargetPhase": true,
  "correlationQuery": {"type": "text/javascript", "source": "({_queryFilter: 'userName eq \"' + source.uid + '\"'})"},
  "properties": [
    {"source": "uid", "target": "userName"},
    {"source": "firstName", "target": "givenName"},
    {"source": "lastName", "target": "sn"},
    {"source": "email", "target": "mail"}
  ],
  "policies": [
    {"situation": "ABSENT", "action": "CREATE"},
    {"situation": "FOUND", "action": "UPDATE"},
    {"situation": "CONFIRMED", "action": "UPDATE"},
    {"situation": "UNQUALIFIED", "action": "DELETE"},
    {"situation": "SOURCE_MISSING", "action": "DELETE"}
  ]
}]}`

// hrJob synchronizes HR (blocked past 2 deletions; the empty target of the
// first run must not block it on a percentage), then computes the role
// model from what the synchronization left.
const hrJob = `id: hr
tasks:
  - {id: Sync_HR, type: synchronize, level: 0, invokeService: sync,
     invokeContext: {mapping: systemHrAccount_managedUser},
     thresholds: {maxDeleted: 2, maxInsertedPercent: 0, maxDeletedPercent: 0}}
  - {id: Roles, type: computeRoleModel, level: 1, dependsOn: [Sync_HR], invokeService: script,
     invokeContext: {script: {type: text/javascript, source: "logger.info('roles computed')"}}}
`

// hrProvisioningJob runs the same mapping as a provisioning task, whose
// resume is a forced rerun rather than a validation.
const hrProvisioningJob = `id: hrprov
tasks:
  - {id: Provision_HR, type: generateProvisioningOrders, invokeService: sync,
     invokeContext: {mapping: systemHrAccount_managedUser}, thresholds: {maxDeleted: 1}}
`

// hrCSV is the HR file with the accounts user0..user9 except those in
// gone.
func hrCSV(gone ...int) string {
	var b strings.Builder
	b.WriteString("uid,firstName,lastName,email\n")
	for i := range 10 {
		if !slices.Contains(gone, i) {
			fmt.Fprintf(&b, "user%d,Given%d,Sn%d,user%d@example.com\n", i, i, i, i)
		}
	}
	return b.String()
}

// jobCLI runs sundial's commands against node as openidm-admin and
// returns their output and exit status.
func jobCLI(t *testing.T, node *proc, p *project) func(args ...string) (string, int) {
	secretFile := filepath.Join(p.dir, "var", "admin.secret")
	return func(args ...string) (string, int) {
		t.Helper()
		args = append(args, "--api-url", "http://"+node.addr, "--api-client-id", "openidm-admin", "--api-secret-file", secretFile)
		out, err := exec.Command(bin, args...).CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
}

var invokedInstance = regexp.MustCompile(`(?m)^job \S+: instance (\d+) `)

// TestJobsSynchronizeCSV runs a synchronize task on a real `sundial serve`
// over a CSV connector: the first run creates the users; a run that would
// delete more than its threshold blocks with nothing deleted and its
// deletes reviewable over REST; -r applies exactly those deletes and the
// job goes on; a blocked provisioning task resumed with -f reruns forced.
// It runs on SQLite and on PostgreSQL.
func TestJobsSynchronizeCSV(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testJobsSynchronizeCSV(t, "") })
	t.Run("postgres", func(t *testing.T) { testJobsSynchronizeCSV(t, pgtest.DSN(t)) })
}

func testJobsSynchronizeCSV(t *testing.T, dsn string) {
	p := newProject(t)
	p.write(t, "conf/managed.json", `{"objects": [{"name": "user"}]}`)
	// One completed reconciliation kept: a blocked plan must outlive it.
	p.write(t, "conf/boot.properties", "openidm.recon.maxcompletedruns=1\n")
	p.write(t, "conf/provisioner.openicf-hr.json", hrProvisioner)
	p.write(t, "conf/sync.json", hrMapping)
	p.write(t, "conf/job-hr.yaml", hrJob)
	p.write(t, "conf/job-hrprov.yaml", hrProvisioningJob)
	if err := os.Mkdir(filepath.Join(p.dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	p.write(t, "data/hr.csv", hrCSV())
	node := startNode(t, p, "node1", dsn)
	cli := jobCLI(t, node, p)
	c := newAPIClient(t, node, p)
	users := func() map[string]string {
		t.Helper()
		status, body := c.doVersion(t, "resource=1.0", "GET", "/openidm/managed/user?_queryFilter=true", "")
		var page struct {
			Result []struct {
				ID       string `json:"_id"`
				UserName string `json:"userName"`
			} `json:"result"`
		}
		if status != 200 || json.Unmarshal(body, &page) != nil {
			t.Fatalf("GET managed/user: %d %s", status, body)
		}
		byName := map[string]string{}
		for _, u := range page.Result {
			byName[u.UserName] = u.ID
		}
		return byName
	}
	tasks := func(out string) []store.TaskInstance {
		t.Helper()
		m := invokedInstance.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no instance id in the output of invoke-job:\n%s", out)
		}
		status, body := c.do(t, "GET", "/openidm/jobs/instance/"+m[1]+"/tasks?_queryFilter=true", "")
		var page struct{ Result []store.TaskInstance }
		if status != 200 || json.Unmarshal(body, &page) != nil {
			t.Fatalf("task instances of %s: %d %s", m[1], status, body)
		}
		return page.Result
	}
	states := func(list []store.TaskInstance) string {
		var s []string
		for _, ti := range list {
			s = append(s, ti.TaskID+"="+ti.State)
		}
		return strings.Join(s, " ")
	}

	out, code := cli("invoke-job", "-j", "hr", "--poll", "50ms")
	if code != 0 {
		t.Fatalf("the first synchronization: exit %d, want 0:\n%s", code, out)
	}
	before := users()
	if len(before) != 10 || before["user0"] == "" || before["user9"] == "" {
		t.Fatalf("after the first synchronization the users are %v, want user0..user9", before)
	}
	first := tasks(out)
	if states(first) != "Sync_HR=completed Roles=completed" || first[0].Counters != (store.TaskCounters{Created: 10, SourceTotal: 10}) {
		t.Fatalf("the first run's task instances: %s, counters %+v", states(first), first[0].Counters)
	}

	// Three rows gone: 3 deletes > max 2 blocks the job before Roles.
	p.write(t, "data/hr.csv", hrCSV(2, 5, 7))
	out, code = cli("invoke-job", "-j", "hr", "--poll", "50ms")
	if code != 5 || !strings.Contains(out, "3 deleted > max 2") {
		t.Fatalf("three rows removed: exit %d, want 5 (blocked) past maxDeleted 2:\n%s", code, out)
	}
	if got := users(); len(got) != 10 {
		t.Fatalf("a blocked synchronization deleted users: %d left", len(got))
	}
	blocked := tasks(out)
	if states(blocked) != "Sync_HR=blocked" || blocked[0].Counters != (store.TaskCounters{Deleted: 3, SourceTotal: 7, TargetTotal: 10}) || blocked[0].ReconID == "" {
		t.Fatalf("the blocked run's task instances: %s, %+v", states(blocked), blocked)
	}
	status, body := c.do(t, "GET", "/openidm/jobs/task-instance/"+strconv.FormatInt(blocked[0].ID, 10)+"/changes", "")
	var changes struct {
		Result []struct {
			Action   string `json:"action"`
			ObjectID string `json:"objectId"`
		} `json:"result"`
		ResultCount int `json:"resultCount"`
	}
	if status != 200 || json.Unmarshal(body, &changes) != nil {
		t.Fatalf("the staged changes: %d %s", status, body)
	}
	var staged []string
	for _, ch := range changes.Result {
		staged = append(staged, ch.Action+" "+ch.ObjectID)
	}
	slices.Sort(staged)
	want := []string{"delete " + before["user2"], "delete " + before["user5"], "delete " + before["user7"]}
	slices.Sort(want)
	if !slices.Equal(staged, want) || changes.ResultCount != 3 {
		t.Fatalf("the staged changes are %v (count %d), want %v", staged, changes.ResultCount, want)
	}

	// Reconciliations run meanwhile prune older runs, not the plan a
	// blocked job waits on.
	for range 2 {
		if status, body := c.do(t, "POST", "/openidm/recon?_action=recon&mapping=systemHrAccount_managedUser&waitForCompletion=true&dryRun=true", ""); status != 200 {
			t.Fatalf("a dry run over REST: %d %s", status, body)
		}
	}
	if status, body := c.do(t, "GET", "/openidm/recon/"+blocked[0].ReconID, ""); status != 200 {
		t.Fatalf("the blocked plan %s after later reconciliations: %d %s", blocked[0].ReconID, status, body)
	}
	if status, body := c.do(t, "GET", "/openidm/recon/"+first[0].ReconID, ""); status != 404 {
		t.Errorf("the first run's reconciliation %s past maxcompletedruns=1 and before the blocked plan: %d %s, want 404", first[0].ReconID, status, body)
	}

	// A row removed after the plan is not part of it: the validation
	// applies the staged deletes only, then Roles runs.
	p.write(t, "data/hr.csv", hrCSV(2, 5, 7, 9))
	out, code = cli("invoke-job", "-j", "hr", "-r", "--poll", "50ms")
	if code != 0 || !strings.Contains(out, "Sync_HR (validation)") {
		t.Fatalf("invoke-job -r: exit %d, want 0 after the validation:\n%s", code, out)
	}
	after := users()
	for name := range before {
		_, kept := after[name]
		if gone := name == "user2" || name == "user5" || name == "user7"; kept == gone {
			t.Errorf("after the validation user %s kept=%v", name, kept)
		}
	}
	resumed := tasks(out)
	if states(resumed) != "Sync_HR=blocked Sync_HR=completed Roles=completed" {
		t.Fatalf("the resumed instance's task instances: %s", states(resumed))
	}
	if v := resumed[1]; !v.Validation || v.ResumeOf != blocked[0].ID || v.Counters.Deleted != 3 {
		t.Errorf("the validation task instance: %+v", v)
	}

	// user9 (gone since the plan) and user8: 2 deletes > max 1 blocks the
	// provisioning task; -f reruns it forced, thresholds ignored.
	p.write(t, "data/hr.csv", hrCSV(2, 5, 7, 8, 9))
	out, code = cli("invoke-job", "-j", "hrprov", "--poll", "50ms")
	if code != 5 {
		t.Fatalf("the provisioning past maxDeleted 1: exit %d, want 5:\n%s", code, out)
	}
	prov := tasks(out)
	if len(prov) != 1 || prov[0].State != store.JobBlocked {
		t.Fatalf("the provisioning's task instances: %s", states(prov))
	}
	if got := users(); len(got) != 7 {
		t.Fatalf("a blocked provisioning deleted users: %d left, want 7", len(got))
	}
	out, code = cli("invoke-job", "-j", "hrprov", "-f", strconv.FormatInt(prov[0].ID, 10), "--poll", "50ms")
	if code != 0 || !strings.Contains(out, "Provision_HR (forced)") {
		t.Fatalf("invoke-job -f %d: exit %d, want 0:\n%s", prov[0].ID, code, out)
	}
	if got := users(); len(got) != 5 || got["user8"] != "" || got["user9"] != "" {
		t.Errorf("after the forced run the users are %v, want 5 without user8 and user9", got)
	}
	if got := tasks(out); states(got) != "Provision_HR=blocked Provision_HR=completed" || !got[1].Forced || got[1].Counters.Deleted != 2 {
		t.Errorf("the forced instance's task instances: %s %+v", states(got), got)
	}
	if _, code := cli("invoke-job", "-j", "hr", "-r"); code != 1 {
		t.Errorf("invoke-job -r without a blocked instance: exit %d, want 1", code)
	}
}

// TestJobsExample serves examples/jobs as its README says: the first
// synchronization of an empty target blocks (any insert is ∞ % of it),
// its staged creates are listed, and -r creates the users and ends the
// job completed.
func TestJobsExample(t *testing.T) {
	p := newProject(t)
	p.copyExample(t, "jobs", "conf", "scripts", "data")
	node := startNode(t, p, "node1", "")
	cli := jobCLI(t, node, p)
	c := newAPIClient(t, node, p)

	out, code := cli("invoke-job", "-j", "nightly", "--poll", "50ms")
	if code != 5 || !strings.Contains(out, "10 inserted = ∞% of 0 > max 5%") {
		t.Fatalf("the example's first run: exit %d, want 5 (blocked on the empty target):\n%s", code, out)
	}
	m := regexp.MustCompile(`Sync_HR\s+blocked\s+task instance (\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no blocked Sync_HR in:\n%s", out)
	}
	status, body := c.do(t, "GET", "/openidm/jobs/task-instance/"+m[1]+"/changes", "")
	if status != 200 || !strings.Contains(string(body), `"resultCount":10`) || strings.Count(string(body), `"action":"create"`) != 10 {
		t.Fatalf("the staged creates: %d %s", status, body)
	}
	out, code = cli("invoke-job", "-j", "nightly", "-r", "--poll", "50ms")
	if code != 0 || !strings.Contains(out, "Sync_HR (validation)") || !regexp.MustCompile(`Roles\s+completed`).MatchString(out) {
		t.Fatalf("the example resumed: exit %d, want 0:\n%s", code, out)
	}
	status, body = c.doVersion(t, "resource=1.0", "GET", "/openidm/managed/user?_queryFilter=true&_fields=userName", "")
	if status != 200 || !strings.Contains(string(body), `"resultCount":10`) || !strings.Contains(string(body), `"userName":"bjensen"`) {
		t.Errorf("the example's users: %d %s", status, body)
	}
}
