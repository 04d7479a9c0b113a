package e2e

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"sundial/engine/store"
)

const quickJob = `id: quick
displayName: a job that ends in warning
tasks:
  - {id: Export_AD, type: export, level: 0, continueOnError: true, invokeService: script,
     invokeContext: {script: {type: text/javascript, source: "throw new Error('ad unreachable')"}}}
  - {id: Export_HR, type: export, level: 0, invokeService: script,
     invokeContext: {script: {type: text/javascript, source: "logger.info('hr exported')"}}}
  - {id: Prepare_AD, type: prepareSynchronization, level: 1, dependsOn: [Export_AD], invokeService: script,
     invokeContext: {script: {type: text/javascript, source: "1"}}}
  - {id: Roles, type: computeRoleModel, level: 2, invokeService: script,
     invokeContext: {script: {type: text/javascript, source: "1"}}}
`

const slowJob = `id: slow
tasks:
  - {id: First, type: script, invokeService: script, invokeContext: {script: {type: text/javascript, source: "1"}}}
  - {id: Slow, type: script, invokeService: script,
     invokeContext: {script: {type: text/javascript, timeout: 5m,
       source: "var t = java.lang.System.currentTimeMillis(); while (java.lang.System.currentTimeMillis() - t < 300000) {}"}}}
  - {id: Never, type: script, invokeService: script, invokeContext: {script: {type: text/javascript, source: "1"}}}
`

const tickJob = `id: tick
schedule: "* * * * * ?"
tasks:
  - {id: Only, type: script, invokeService: script, invokeContext: {script: {type: text/javascript, source: "1"}}}
`

// TestJobsEndToEnd runs jobs on a real `sundial serve`: invoke-job follows
// a job to its warning (exit 7) and a single task to success (exit 0),
// job-steps reads the daemon, and a node killed with SIGKILL during a task
// marks the instance interrupted at that task when it starts again.
func TestJobsEndToEnd(t *testing.T) {
	p := newProject(t)
	p.write(t, "conf/job-quick.yaml", quickJob)
	p.write(t, "conf/job-slow.yaml", slowJob)
	p.write(t, "conf/job-tick.yaml", tickJob)
	p.write(t, "conf/schedule-quick.json", `{"schedule": "0 0 0 1 1 ? 2099", "invokeService": "job", "invokeContext": {"job": "quick"}}`)
	node := startNode(t, p, "node1", "")
	cli := jobCLI(t, node, p)

	out, code := cli("invoke-job", "-j", "quick", "--poll", "50ms")
	if code != 7 || !strings.Contains(out, "Export_AD") || !strings.Contains(out, "skipped: parent task Export_AD ended warning") || !strings.Contains(out, "ended warning") {
		t.Errorf("invoke-job -j quick: exit %d, want 7 (warning):\n%s", code, out)
	}
	out, code = cli("invoke-job", "-j", "quick", "-t", "Roles", "--poll", "50ms")
	if code != 0 || !strings.Contains(out, "Roles") || strings.Contains(out, "Export_HR") {
		t.Errorf("invoke-job -t Roles: exit %d, want 0:\n%s", code, out)
	}
	out, code = cli("job-steps", "-j", "quick")
	if want := "Task : Export_AD, Order : 0\nTask : Export_HR, Order : 0\nTask : Prepare_AD, Order : 1\nTask : Roles, Order : 2\n"; code != 0 || out != want {
		t.Errorf("job-steps from the daemon: exit %d:\n%s\nwant:\n%s", code, out, want)
	}

	c := newAPIClient(t, node, p)
	// A job's own schedule starts it; a schedule file can start one too.
	waitFor(t, 30*time.Second, "the tick job's schedule to start it", func() bool {
		status, body := c.do(t, "GET", "/openidm/jobs/instance?_queryFilter="+url.QueryEscape(`/jobId eq "tick" and /state eq "completed"`), "")
		return status == 200 && strings.Contains(string(body), `"jobId":"tick"`)
	})
	before := strings.Count(node.stderr.String(), `msg="job instance ended" job=quick`)
	if status, body := c.do(t, "POST", "/openidm/scheduler/job/quick?_action=trigger", ""); status != 200 {
		t.Fatalf("trigger the schedule quick: %d %s", status, body)
	}
	waitFor(t, 30*time.Second, "the schedule quick to run its job", func() bool {
		return strings.Count(node.stderr.String(), `msg="job instance ended" job=quick`) > before
	})
	p.write(t, "conf/job-tick.yaml", strings.Replace(tickJob, `schedule: "* * * * * ?"`+"\n", "", 1))

	status, body := c.do(t, "POST", "/openidm/jobs/job/slow?_action=run", "{}")
	var ji store.JobInstance
	if status != 201 || json.Unmarshal(body, &ji) != nil || ji.ID == 0 {
		t.Fatalf("run slow: %d %s", status, body)
	}
	tasksPath := "/openidm/jobs/instance/" + strconv.FormatInt(ji.ID, 10) + "/tasks?_queryFilter=" + url.QueryEscape(`/state eq "running"`)
	waitFor(t, 60*time.Second, "the slow task to run", func() bool {
		status, body := c.do(t, "GET", tasksPath, "")
		return status == 200 && strings.Contains(string(body), `"taskId":"Slow"`)
	})
	node.kill(t)

	node = startNode(t, p, "node1", "")
	c = newAPIClient(t, node, p)
	status, body = c.do(t, "GET", "/openidm/jobs/instance/"+strconv.FormatInt(ji.ID, 10), "")
	if status != 200 || json.Unmarshal(body, &ji) != nil {
		t.Fatalf("read the instance after the restart: %d %s", status, body)
	}
	if ji.State != store.JobInterrupted || ji.StoppedAt != "Slow" || !strings.Contains(ji.Message, "while running Slow") {
		t.Errorf("after kill -9 and a restart the instance is %s at %q: %s", ji.State, ji.StoppedAt, ji.Message)
	}
	status, body = c.do(t, "GET", "/openidm/jobs/instance?_queryFilter="+url.QueryEscape(`/state eq "running"`), "")
	if status != 200 || strings.Contains(string(body), `"state":"running"`) {
		t.Errorf("an instance is still running after the restart: %d %s", status, body)
	}
	status, body = c.do(t, "GET", "/openidm/jobs/instance/"+strconv.FormatInt(ji.ID, 10)+"/tasks?_queryFilter=true", "")
	var page struct{ Result []store.TaskInstance }
	if status != 200 || json.Unmarshal(body, &page) != nil {
		t.Fatalf("task instances after the restart: %d %s", status, body)
	}
	var got []string
	for _, ti := range page.Result {
		got = append(got, ti.TaskID+"="+ti.State)
	}
	if strings.Join(got, " ") != "First=completed Slow=interrupted" {
		t.Errorf("task instances after the restart: %v (Never must not have started)", got)
	}
}
