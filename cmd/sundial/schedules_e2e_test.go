package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSchedulesAgainstServe runs every schedules command and cron validate
// against a real `sundial serve`, with the secret its first start wrote to
// var/admin.secret, following the guide's flow.
func TestSchedulesAgainstServe(t *testing.T) {
	t.Parallel()
	root, conf, scripts := newServeProject(t)
	write := func(path, content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(conf, "schedule-nightly-export.json"), `{"schedule": "0 0 3 * * ?", "invokeService": "script",
  "invokeContext": {"script": {"type": "text/javascript", "source": "console.log('nightly')"}}}`)
	write(filepath.Join(scripts, "testlog.js"), `console.log("testlog " + context.fireId);`)
	// Every hour at :00:00 in 2099: the schedule fires only when triggered.
	testlog := filepath.Join(root, "testlog.json")
	write(testlog, `{"enabled": true, "type": "cron", "schedule": "0 0 * * * ? 2099", "persisted": true,
  "misfirePolicy": "fireAndProceed", "invokeService": "script",
  "invokeContext": {"script": {"type": "text/javascript", "file": "script/testlog.js"}}}`)
	p := startServe(t, "--conf", conf, "--scripts", scripts, "--listen", "127.0.0.1:0")
	addr := waitOutput(t, p.stderr, regexp.MustCompile(`msg="sundial started".* listen=(\S+)`), "the start line")[1]
	api := []string{"--api-url", "http://" + addr, "--api-secret-file", filepath.Join(root, "var", "admin.secret")}

	cli := func(wantCode int, args ...string) string {
		t.Helper()
		code, stdout, stderr := runCLI(append(args, api...)...)
		if code != wantCode {
			t.Fatalf("sundial %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, wantCode, stdout, stderr)
		}
		if code != 0 {
			return stderr
		}
		return stdout
	}
	want := func(what, got string, re string) {
		t.Helper()
		if !regexp.MustCompile(re).MatchString(got) {
			t.Errorf("%s: output does not match %s:\n%s", what, re, got)
		}
	}

	want("cron validate", cli(0, "cron", "validate", "0 0/1 * * * ?"), `^valid\n$`)
	want("cron validate invalid", cli(1, "cron", "validate", "0 0 25 * * ?"), `hours: values must be between 0 and 23`)
	want("cron validate json", cli(0, "cron", "validate", "-o", "json", "0 0/1 * * * ?"), `^\{\s*"valid": ?true\s*\}\n$`)

	want("create", cli(0, "schedules", "create", "testlog-schedule", "-f", testlog), `(?m)^_id +testlog-schedule\n(.*\n)*trigger +scheduler-service-group.trigger-testlog-schedule \(NORMAL, `)
	want("create again", cli(1, "schedules", "create", "testlog-schedule", "-f", testlog), `^sundial: 412 Precondition Failed: `)
	posted := cli(0, "schedules", "create", "-f", testlog, "-o", "json")
	var created struct {
		ID string `json:"_id"`
	}
	if err := json.Unmarshal([]byte(posted), &created); err != nil || !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(created.ID) {
		t.Fatalf("create without an id: %v, _id %q:\n%s", err, created.ID, posted)
	}

	list := cli(0, "schedules", "list")
	want("list header", list, `^ID +ENABLED +TYPE +SCHEDULE +NEXT RUN +STATE\n`)
	want("list file schedule", list, `(?m)^nightly-export +true +cron +0 0 3 \* \* \? +\d{4}-\d\d-\d\dT03:00:00\.000Z +NORMAL$`)
	want("list REST schedule", list, `(?m)^testlog-schedule +true +cron +0 0 \* \* \* \? 2099 +2099-01-01T\d\d:00:00\.000Z +NORMAL$`)
	want("list posted schedule", list, `(?m)^`+created.ID+` +true +cron `)
	var q struct {
		Result      []map[string]any `json:"result"`
		ResultCount int              `json:"resultCount"`
	}
	if err := json.Unmarshal([]byte(cli(0, "schedules", "list", "-o", "json", "--filter", `invokeContext/script/file eq "script/testlog.js"`)), &q); err != nil || q.ResultCount != 2 || len(q.Result) != 2 || q.Result[0]["triggers"] == nil {
		t.Errorf("list -o json --filter: %v, %d results, want the 2 REST schedules whole: %v", err, q.ResultCount, q.Result)
	}

	want("get", cli(0, "schedules", "get", "testlog-schedule"), `(?m)^invokeService +org\.forgerock\.openidm\.script$`)
	want("get json", cli(0, "schedules", "get", "-o", "json", "testlog-schedule"), `^\{\s*"_id": ?"testlog-schedule",\s*"_rev"`)
	want("get unknown", cli(1, "schedules", "get", "nope"), `^sundial: 404 Not Found: Schedule does not exist: nope\n$`)

	want("pause", cli(0, "schedules", "pause", "testlog-schedule"), `^paused testlog-schedule\n$`)
	want("list paused", cli(0, "schedules", "list"), `(?m)^testlog-schedule .* PAUSED$`)
	want("resume", cli(0, "schedules", "resume", "testlog-schedule", "-o", "json"), `^\{\s*"success": ?true\s*\}\n$`)
	want("list resumed", cli(0, "schedules", "list"), `(?m)^testlog-schedule .* NORMAL$`)

	want("trigger", cli(0, "schedules", "trigger", "testlog-schedule"), `^triggered testlog-schedule\n$`)
	waitOutput(t, p.stdout, regexp.MustCompile(`(?m)^testlog testlog-schedule@`), "the triggered run's output")
	want("running", cli(0, "schedules", "running"), `^TYPE +SCHEDULE +SERVICE +CONTEXT\n`)

	want("delete file schedule", cli(1, "schedules", "delete", "nightly-export"), `^sundial: 409 Conflict: .*schedule-nightly-export\.json`)
	want("delete", cli(0, "schedules", "delete", "testlog-schedule"), `^deleted testlog-schedule\n$`)
	want("get deleted", cli(1, "schedules", "get", "testlog-schedule"), `^sundial: 404 Not Found: Schedule does not exist: testlog-schedule\n$`)
	want("delete deleted", cli(1, "schedules", "delete", "testlog-schedule"), `^sundial: 404 Not Found: `)

	code, _, stderr := runCLI("schedules", "list", "--api-url", "http://"+addr, "--api-secret", "wrong")
	if code != 1 || !strings.Contains(stderr, "token for client openidm-admin: 401 Unauthorized") {
		t.Errorf("wrong secret: exit %d, %s", code, stderr)
	}
	code, _, stderr = runCLI("schedules", "list", "--api-url", "http://"+addr)
	if code != 1 || !strings.Contains(stderr, "401 Unauthorized: Access Denied (no credentials given") {
		t.Errorf("no secret: exit %d, %s", code, stderr)
	}
}
