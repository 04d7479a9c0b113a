package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// answering is a daemon that answers every API request with one recorded
// answer (testdata/schedules/<file>) and remembers the request, and hands
// out a token to client openidm-admin with secret "s3cret".
type answering struct {
	status int
	body   []byte

	mu      sync.Mutex
	request string // "METHOD /path?query If-None-Match:... body"
}

func (a *answering) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/oauth2/token" {
		if id, secret, _ := r.BasicAuth(); id != "openidm-admin" || secret != "s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"invalid_client","error_description":"client authentication failed"}`)
			return
		}
		io.WriteString(w, `{"access_token":"t","token_type":"Bearer","expires_in":3600}`)
		return
	}
	if r.Header.Get("Authorization") != "Bearer t" {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"code":401,"reason":"Unauthorized","message":"Access Denied"}`)
		return
	}
	body, _ := io.ReadAll(r.Body)
	req := r.Method + " " + r.URL.RequestURI()
	if v := r.Header.Get("If-None-Match"); v != "" {
		req += " If-None-Match:" + v
	}
	if len(body) > 0 {
		req += " " + strings.Join(strings.Fields(string(body)), "")
	}
	a.mu.Lock()
	a.request = req
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	w.Write(a.body)
}

func schedulesAnswer(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "schedules", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestSchedulesCommands runs each command against a daemon answering the
// guide's shapes, in both output formats, and checks the request it sent
// and all it printed (golden files testdata/golden/schedules-*.golden).
func TestSchedulesCommands(t *testing.T) {
	createFile := filepath.Join("testdata", "schedules", "create.json")
	for _, tc := range []struct {
		name    string
		args    []string
		answer  string
		status  int
		request string // what the daemon must have been sent; "" for nothing
	}{
		{"list", []string{"schedules", "list"}, "list.json", 200,
			"GET /openidm/scheduler/job?_fields=_id%2Cenabled%2Ctype%2Cschedule%2CrepeatInterval%2CrepeatCount%2CnextRunDate%2Ctriggers%2F0%2Fstate&_queryFilter=true"},
		{"list-json", []string{"schedules", "list", "-o", "json", "--filter", "persisted eq true"}, "list.json", 200,
			"GET /openidm/scheduler/job?_queryFilter=persisted+eq+true"},
		{"get", []string{"schedules", "get", "testlog-schedule"}, "job.json", 200, "GET /openidm/scheduler/job/testlog-schedule"},
		{"get-disabled", []string{"schedules", "get", "testlog-schedule"}, "job-disabled.json", 200, "GET /openidm/scheduler/job/testlog-schedule"},
		{"get-json", []string{"schedules", "get", "-o", "json", "testlog-schedule"}, "job.json", 200, "GET /openidm/scheduler/job/testlog-schedule"},
		{"get-not-found", []string{"schedules", "get", "nope"}, "not-found.json", 404, "GET /openidm/scheduler/job/nope"},
		{"get-escaped-id", []string{"schedules", "get", "a b/c"}, "not-found.json", 404, "GET /openidm/scheduler/job/a%20b%2Fc"},
		{"create-put", []string{"schedules", "create", "testlog-schedule", "-f", createFile}, "job.json", 201,
			`PUT /openidm/scheduler/job/testlog-schedule If-None-Match:* {"enabled":true,"type":"cron","schedule":"0/1****?","persisted":true,"misfirePolicy":"fireAndProceed","invokeService":"script","invokeContext":{"script":{"type":"text/javascript","file":"script/testlog.js"}}}`},
		{"create-replace", []string{"schedules", "create", "testlog-schedule", "--replace", "-f", createFile, "-o", "json"}, "job.json", 200,
			`PUT /openidm/scheduler/job/testlog-schedule {"enabled":true,"type":"cron","schedule":"0/1****?","persisted":true,"misfirePolicy":"fireAndProceed","invokeService":"script","invokeContext":{"script":{"type":"text/javascript","file":"script/testlog.js"}}}`},
		{"create-post", []string{"schedules", "create", "-f", createFile}, "job.json", 201,
			`POST /openidm/scheduler/job?_action=create {"enabled":true,"type":"cron","schedule":"0/1****?","persisted":true,"misfirePolicy":"fireAndProceed","invokeService":"script","invokeContext":{"script":{"type":"text/javascript","file":"script/testlog.js"}}}`},
		{"create-broken-file", []string{"schedules", "create", "-f", filepath.Join("testdata", "schedules", "broken.json")}, "job.json", 201, ""},
		{"delete", []string{"schedules", "delete", "testlog-schedule"}, "job-disabled.json", 200, "DELETE /openidm/scheduler/job/testlog-schedule"},
		{"delete-conflict", []string{"schedules", "delete", "nightly-export"}, "conflict.json", 409, "DELETE /openidm/scheduler/job/nightly-export"},
		{"trigger", []string{"schedules", "trigger", "testlog-schedule"}, "success.json", 200, "POST /openidm/scheduler/job/testlog-schedule?_action=trigger"},
		{"pause", []string{"schedules", "pause", "testlog-schedule"}, "success.json", 200, "POST /openidm/scheduler/job/testlog-schedule?_action=pause"},
		{"resume-json", []string{"schedules", "resume", "-o", "json", "testlog-schedule"}, "success.json", 200, "POST /openidm/scheduler/job/testlog-schedule?_action=resume"},
		{"running", []string{"schedules", "running"}, "running.json", 200, "POST /openidm/scheduler/job?_action=listCurrentlyExecutingJobs"},
		{"running-json", []string{"schedules", "running", "-o", "json"}, "running.json", 200, "POST /openidm/scheduler/job?_action=listCurrentlyExecutingJobs"},
		{"cron-validate", []string{"cron", "validate", "0 0/1 * * * ?"}, "valid.json", 200,
			`POST /openidm/scheduler/job?_action=validateQuartzCronExpression {"cronExpression":"00/1***?"}`},
		{"cron-validate-invalid", []string{"cron", "validate", "0 0 25 * * ?"}, "invalid.json", 200,
			`POST /openidm/scheduler/job?_action=validateQuartzCronExpression {"cronExpression":"0025**?"}`},
		{"cron-validate-json", []string{"cron", "validate", "-o", "json", "0 0 25 * * ?"}, "invalid.json", 200,
			`POST /openidm/scheduler/job?_action=validateQuartzCronExpression {"cronExpression":"0025**?"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &answering{status: tc.status, body: schedulesAnswer(t, tc.answer)}
			srv := httptest.NewServer(d)
			defer srv.Close()
			t.Setenv("SUNDIAL_API_SECRET", "s3cret")
			code, stdout, stderr := runCLI(append(tc.args, "--api-url", srv.URL)...)
			if d.request != tc.request {
				t.Errorf("request sent:\n  %s\nwant:\n  %s", d.request, tc.request)
			}
			checkGolden(t, "schedules-"+tc.name, code, stdout, strings.ReplaceAll(stderr, srv.URL, "URL"))
		})
	}
}

// TestSchedulesCredentials: the secret from the environment, a flag or a
// file; none at all is the daemon's 401 with a hint; a wrong one the token
// endpoint's refusal.
func TestSchedulesCredentials(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "admin.secret")
	if err := os.WriteFile(secretFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		err  string
	}{
		{"flag", nil, []string{"--api-secret", "s3cret"}, 0, ""},
		{"file", nil, []string{"--api-secret-file", secretFile}, 0, ""},
		{"env", map[string]string{"SUNDIAL_API_SECRET": "s3cret", "SUNDIAL_API_CLIENT_ID": "openidm-admin"}, nil, 0, ""},
		{"env file", map[string]string{"SUNDIAL_API_SECRET_FILE": secretFile}, nil, 0, ""},
		{"none", nil, nil, 1, "sundial: 401 Unauthorized: Access Denied (no credentials given: set --api-secret-file var/admin.secret, --api-secret or SUNDIAL_API_SECRET)\n"},
		{"wrong", nil, []string{"--api-secret", "nope"}, 1, "sundial: token for client openidm-admin: 401 Unauthorized: client authentication failed (invalid_client)\n"},
		{"other client", nil, []string{"--api-secret", "s3cret", "--api-client-id", "reader"}, 1, "sundial: token for client reader: 401 Unauthorized: client authentication failed (invalid_client)\n"},
		{"both", nil, []string{"--api-secret", "s3cret", "--api-secret-file", secretFile}, 2, "sundial: --api-secret and --api-secret-file: give one of them\n"},
		{"missing file", nil, []string{"--api-secret-file", secretFile + ".gone"}, 1, "sundial: --api-secret-file: open " + secretFile + ".gone: no such file or directory\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"SUNDIAL_API_SECRET", "SUNDIAL_API_SECRET_FILE", "SUNDIAL_API_CLIENT_ID", "SUNDIAL_API_URL"} {
				t.Setenv(k, tc.env[k])
			}
			d := &answering{status: 200, body: schedulesAnswer(t, "success.json")}
			srv := httptest.NewServer(d)
			defer srv.Close()
			t.Setenv("SUNDIAL_API_URL", srv.URL)
			code, _, stderr := runCLI(append([]string{"schedules", "trigger", "x"}, tc.args...)...)
			if code != tc.code || stderr != tc.err {
				t.Errorf("exit %d, stderr %q; want %d, %q", code, stderr, tc.code, tc.err)
			}
		})
	}
}

// TestSchedulesUsage: usage errors are exit status 2 and send nothing.
func TestSchedulesUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		err  string
	}{
		{"no id", []string{"schedules", "get"}, "expected 1 argument(s), got 0"},
		{"two ids", []string{"schedules", "trigger", "a", "b"}, "expected 1 argument(s), got 2"},
		{"list args", []string{"schedules", "list", "x"}, "expected 0 argument(s), got 1"},
		{"create no file", []string{"schedules", "create", "x"}, "-f FILE is required"},
		{"create two ids", []string{"schedules", "create", "x", "y", "-f", "f"}, "expected at most 1 argument, got 2"},
		{"replace no id", []string{"schedules", "create", "--replace", "-f", "f"}, "--replace needs an ID"},
		{"bad output", []string{"schedules", "list", "-o", "yaml"}, `-o "yaml": want table or json`},
		{"bad url", []string{"schedules", "list", "--api-url", "127.0.0.1:8080"}, "--api-url: api url"},
		{"bad timeout", []string{"schedules", "list", "--api-timeout", "0s"}, "--api-timeout 0s: must be positive"},
		{"unknown flag", []string{"schedules", "list", "--nope"}, "unknown flag: --nope"},
		{"unknown command", []string{"schedules", "lst"}, `unknown command "lst" for "sundial schedules"; did you mean "list"?`},
		{"cron validate no expr", []string{"cron", "validate"}, "expected 1 argument(s), got 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &answering{status: 200, body: []byte(`{}`)}
			srv := httptest.NewServer(d)
			defer srv.Close()
			t.Setenv("SUNDIAL_API_URL", srv.URL)
			code, stdout, stderr := runCLI(tc.args...)
			if code != 2 || stdout != "" || !strings.Contains(stderr, tc.err) {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2 and %q", code, stdout, stderr, tc.err)
			}
			if d.request != "" {
				t.Errorf("sent %s", d.request)
			}
		})
	}
}

// TestSchedulesUnreachable: no daemon at the address is exit status 1,
// naming the address.
func TestSchedulesUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	code, _, stderr := runCLI("schedules", "list", "--api-url", url)
	if code != 1 || !strings.Contains(stderr, "GET "+url+"/openidm/scheduler/job") || !strings.Contains(stderr, "refused") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// TestSchedulesHelpHidesSecret: the secret's variable is not shown as a
// flag default.
func TestSchedulesHelpHidesSecret(t *testing.T) {
	t.Setenv("SUNDIAL_API_SECRET", "s3cret-in-env")
	code, stdout, _ := runCLI("schedules", "list", "--help")
	if code != 0 || strings.Contains(stdout, "s3cret-in-env") {
		t.Errorf("exit %d, help shows the secret:\n%s", code, stdout)
	}
}
