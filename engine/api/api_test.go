package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"sundial/engine/api/crest"
	"sundial/engine/auth"
)

// memSchedules is a small Schedules for the routing and convention tests:
// the daemon's implementation is tested end to end elsewhere.
type memSchedules struct {
	mu    sync.Mutex
	jobs  map[string]crest.Resource
	next  int
	calls []string
}

func newMem() *memSchedules {
	m := &memSchedules{jobs: map[string]crest.Resource{}}
	m.jobs["file-job"] = crest.Resource{ID: "file-job", Rev: "1", Fields: map[string]any{"enabled": true, "source": "schedule-file-job.json"}}
	m.jobs["rest-job"] = crest.Resource{ID: "rest-job", Rev: "1", Fields: map[string]any{"enabled": false}}
	return m
}

func (m *memSchedules) Jobs(ctx context.Context) ([]crest.Resource, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []crest.Resource
	for _, j := range m.jobs {
		out = append(out, j)
	}
	return out, nil
}

func (m *memSchedules) Job(ctx context.Context, id string) (crest.Resource, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.jobs[id]
	if !ok {
		return j, crest.NotFound("Schedule does not exist")
	}
	return j, nil
}

func (m *memSchedules) PutJob(ctx context.Context, p PutJob) (crest.Resource, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p.ID == "" {
		m.next++
		p.ID = fmt.Sprintf("uuid-%d", m.next)
	}
	if p.ID == "file-job" {
		return crest.Resource{}, false, crest.Conflict("schedule file-job is defined by schedule-file-job.json: change that file")
	}
	old, exists := m.jobs[p.ID]
	if exists && p.CreateOnly {
		return crest.Resource{}, false, crest.PreconditionFailed("Schedule already exists")
	}
	if p.IfMatch != "" && (!exists || old.Rev != p.IfMatch) {
		return crest.Resource{}, false, crest.PreconditionFailed("revision mismatch")
	}
	var fields map[string]any
	if err := json.Unmarshal(p.Body, &fields); err != nil {
		return crest.Resource{}, false, err
	}
	rev := 1
	if exists {
		rev, _ = strconv.Atoi(old.Rev)
		rev++
	}
	j := crest.Resource{ID: p.ID, Rev: strconv.Itoa(rev), Fields: fields}
	m.jobs[p.ID] = j
	return j, !exists, nil
}

func (m *memSchedules) DeleteJob(ctx context.Context, p DeleteJob) (crest.Resource, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p.ID == "file-job" {
		return crest.Resource{}, crest.Conflict("schedule file-job is defined by schedule-file-job.json")
	}
	j, ok := m.jobs[p.ID]
	if !ok {
		return j, crest.NotFound("Schedule does not exist")
	}
	delete(m.jobs, p.ID)
	return j, nil
}

func (m *memSchedules) op(name, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.jobs[id]; !ok {
		return crest.NotFound("Schedule does not exist")
	}
	m.calls = append(m.calls, name+" "+id)
	return nil
}

func (m *memSchedules) TriggerJob(ctx context.Context, id string) error { return m.op("trigger", id) }
func (m *memSchedules) PauseJob(ctx context.Context, id string) error   { return m.op("pause", id) }
func (m *memSchedules) ResumeJob(ctx context.Context, id string) error  { return m.op("resume", id) }
func (m *memSchedules) PauseAll(ctx context.Context) error              { return nil }
func (m *memSchedules) ResumeAll(ctx context.Context) error             { return nil }
func (m *memSchedules) Executing(ctx context.Context) ([]map[string]any, error) {
	return nil, nil
}

func (m *memSchedules) Triggers(ctx context.Context) ([]crest.Resource, error) {
	return []crest.Resource{
		{ID: "scheduler-service-group.trigger-file-job", Rev: "7", Fields: map[string]any{"nodeId": "node1"}},
		{ID: "scheduler-service-group.trigger-other", Rev: "2", Fields: map[string]any{"nodeId": nil}},
	}, nil
}

func (m *memSchedules) Trigger(ctx context.Context, id string) (crest.Resource, error) {
	ts, _ := m.Triggers(ctx)
	for _, t := range ts {
		if t.ID == id {
			return t, nil
		}
	}
	return crest.Resource{}, crest.NotFound("Trigger does not exist")
}

// fixedAuth knows one principal per X-Test-Client value.
type fixedAuth struct{}

func (fixedAuth) Authenticate(r *http.Request) (auth.Principal, error) {
	switch r.Header.Get("X-Test-Client") {
	case "admin":
		return auth.Principal{ClientID: "admin", Role: auth.RoleAdmin}, nil
	case "operator":
		return auth.Principal{ClientID: "op", Role: auth.RoleOperator}, nil
	case "reader":
		return auth.Principal{ClientID: "reader", Role: auth.RoleReader}, nil
	}
	return auth.Principal{}, errors.New("no credentials")
}

type harness struct {
	h   http.Handler
	mem *memSchedules
	log *bytes.Buffer
}

func newHarness() *harness {
	var buf bytes.Buffer
	mem := newMem()
	h := New(Options{Schedules: mem, Auth: fixedAuth{}, Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	return &harness{h: h, mem: mem, log: &buf}
}

type call struct {
	method, target, body string
	headers              []string
}

func (h *harness) do(client string, c call) *httptest.ResponseRecorder {
	r := httptest.NewRequest(c.method, c.target, strings.NewReader(c.body))
	if client != "" {
		r.Header.Set("X-Test-Client", client)
	}
	if c.body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(c.headers); i += 2 {
		r.Header.Set(c.headers[i], c.headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, r)
	return rec
}

func errorBody(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	return m
}

const jobBody = `{"enabled":true,"type":"cron","schedule":"0/1 * * * * ?"}`

func TestRoleMatrix(t *testing.T) {
	endpoints := []struct {
		name string
		c    call
		perm auth.Perm
	}{
		{"read job", call{method: "GET", target: "/openidm/scheduler/job/rest-job"}, auth.PermRead},
		{"query jobs", call{method: "GET", target: "/openidm/scheduler/job?_queryFilter=true"}, auth.PermRead},
		{"validate", call{method: "POST", target: "/openidm/scheduler/job?_action=validateQuartzCronExpression", body: `{"cronExpression":"0 0/1 * * * ?"}`}, auth.PermRead},
		{"list executing", call{method: "POST", target: "/openidm/scheduler/job?_action=listCurrentlyExecutingJobs"}, auth.PermRead},
		{"query triggers", call{method: "GET", target: "/openidm/scheduler/trigger?_queryFilter=true"}, auth.PermRead},
		{"read trigger", call{method: "GET", target: "/openidm/scheduler/trigger/scheduler-service-group.trigger-other"}, auth.PermRead},
		{"trigger", call{method: "POST", target: "/openidm/scheduler/job/rest-job?_action=trigger"}, auth.PermOperate},
		{"pause", call{method: "POST", target: "/openidm/scheduler/job/rest-job?_action=pause"}, auth.PermOperate},
		{"resume", call{method: "POST", target: "/openidm/scheduler/job/rest-job?_action=resume"}, auth.PermOperate},
		{"pauseJobs", call{method: "POST", target: "/openidm/scheduler/job?_action=pauseJobs"}, auth.PermOperate},
		{"resumeJobs", call{method: "POST", target: "/openidm/scheduler/job?_action=resumeJobs"}, auth.PermOperate},
		{"put", call{method: "PUT", target: "/openidm/scheduler/job/new", body: jobBody}, auth.PermWrite},
		{"create", call{method: "POST", target: "/openidm/scheduler/job?_action=create", body: jobBody}, auth.PermWrite},
		{"plain POST create", call{method: "POST", target: "/openidm/scheduler/job", body: jobBody}, auth.PermWrite},
		{"delete", call{method: "DELETE", target: "/openidm/scheduler/job/rest-job"}, auth.PermWrite},
	}
	roles := map[string]auth.Role{"admin": auth.RoleAdmin, "operator": auth.RoleOperator, "reader": auth.RoleReader}
	for _, e := range endpoints {
		for client, role := range roles {
			t.Run(e.name+"/"+client, func(t *testing.T) {
				h := newHarness()
				checkAccess(t, h, h.do(client, e.c), role, e.perm)
			})
		}
		t.Run(e.name+"/anonymous", func(t *testing.T) {
			rec := newHarness().do("", e.c)
			if rec.Code != 401 || errorBody(t, rec)["message"] != "Access Denied" {
				t.Errorf("%d %s", rec.Code, rec.Body)
			}
		})
	}
}

// checkAccess checks the answer to a request by a client of role on an
// endpoint needing perm: success when the role allows it, IDM's 403
// otherwise, and an audit line exactly when perm is more than read.
func checkAccess(t *testing.T, h *harness, rec *httptest.ResponseRecorder, role auth.Role, perm auth.Perm) {
	t.Helper()
	allowed := role.Allows(perm)
	if allowed && rec.Code >= 300 {
		t.Errorf("allowed: %d %s", rec.Code, rec.Body)
	}
	if !allowed && (rec.Code != 403 || errorBody(t, rec)["message"] != "Access denied") {
		t.Errorf("not allowed: %d %s", rec.Code, rec.Body)
	}
	audited := strings.Contains(h.log.String(), "api write")
	if audited != (perm != auth.PermRead) {
		t.Errorf("audit line %v for perm %v: %s", audited, perm, h.log)
	}
}

func TestStatuses(t *testing.T) {
	cases := []struct {
		name    string
		c       call
		code    int
		message string // a substring, "" for no check
	}{
		{"bad json", call{method: "PUT", target: "/openidm/scheduler/job/x", body: `{"a" 1}`}, 400, "offset"},
		{"bad filter", call{method: "GET", target: "/openidm/scheduler/job?_queryFilter=enabled+eq"}, 400, "position"},
		{"bad page size", call{method: "GET", target: "/openidm/scheduler/job?_queryFilter=true&_pageSize=x"}, 400, "_pageSize"},
		{"bad cookie", call{method: "GET", target: "/openidm/scheduler/job?_queryFilter=true&_pagedResultsCookie=x"}, 400, "Invalid paged results cookie"},
		{"bad version", call{method: "GET", target: "/openidm/scheduler/job/rest-job", headers: []string{"Accept-API-Version", "resource=two"}}, 400, "Malformed"},
		{"bad protocol", call{method: "GET", target: "/openidm/scheduler/job/rest-job", headers: []string{"Accept-API-Version", "protocol=3.0"}}, 400, "Unsupported major version"},
		{"unknown action", call{method: "POST", target: "/openidm/scheduler/job/rest-job?_action=explode"}, 400, "Unknown action given: explode"},
		{"missing cron", call{method: "POST", target: "/openidm/scheduler?_action=validateQuartzCronExpression", body: `{}`}, 400, "cronExpression"},
		{"empty body", call{method: "PUT", target: "/openidm/scheduler/job/x"}, 400, "empty"},
		{"PUT other If-None-Match", call{method: "PUT", target: "/openidm/scheduler/job/x", body: jobBody, headers: []string{"If-None-Match", `"3"`}}, 400, ""},
		{"GET collection", call{method: "GET", target: "/openidm/scheduler/job"}, 400, "Empty resourceId"},
		{"unknown id", call{method: "GET", target: "/openidm/scheduler/job/nope"}, 404, "Schedule does not exist"},
		{"unknown path", call{method: "GET", target: "/openidm/nothing"}, 404, "Resource &#39;nothing&#39; not found"},
		{"unknown scheduler path", call{method: "GET", target: "/openidm/scheduler/acquired/x"}, 404, "not found"},
		{"unsupported resource version", call{method: "GET", target: "/openidm/scheduler/job/rest-job", headers: []string{"Accept-API-Version", "resource=1.0"}}, 404, "Resource &#39;scheduler/job/rest-job&#39; not found"},
		{"unknown trigger", call{method: "GET", target: "/openidm/scheduler/trigger/nope"}, 404, ""},
		{"wrong method", call{method: "DELETE", target: "/openidm/scheduler/job"}, 405, ""},
		{"wrong method on trigger", call{method: "PUT", target: "/openidm/scheduler/trigger/x", body: jobBody}, 405, ""},
		{"file schedule put", call{method: "PUT", target: "/openidm/scheduler/job/file-job", body: jobBody}, 409, "schedule-file-job.json"},
		{"file schedule delete", call{method: "DELETE", target: "/openidm/scheduler/job/file-job"}, 409, "schedule-file-job.json"},
		{"If-Modified-Since", call{method: "GET", target: "/openidm/scheduler/job/rest-job", headers: []string{"If-Modified-Since", "Tue, 01 Dec 2026 10:00:00 GMT"}}, 409, "If-Modified-Since"},
		{"read If-Match mismatch", call{method: "GET", target: "/openidm/scheduler/job/rest-job", headers: []string{"If-Match", `"9"`}}, 412, ""},
		{"read If-None-Match *", call{method: "GET", target: "/openidm/scheduler/job/rest-job", headers: []string{"If-None-Match", `*`}}, 412, ""},
		{"create only exists", call{method: "PUT", target: "/openidm/scheduler/job/rest-job", body: jobBody, headers: []string{"If-None-Match", `*`}}, 412, "already exists"},
		{"put both headers", call{method: "PUT", target: "/openidm/scheduler/job/rest-job", body: jobBody, headers: []string{"If-None-Match", `*`, "If-Match", `"1"`}}, 412, ""},
		{"query with If-Match", call{method: "GET", target: "/openidm/scheduler/job?_queryFilter=true", headers: []string{"If-Match", `*`}}, 412, ""},
		{"action with If-None-Match", call{method: "POST", target: "/openidm/scheduler/job/rest-job?_action=trigger", headers: []string{"If-None-Match", `*`}}, 412, ""},
		{"create with If-Match", call{method: "POST", target: "/openidm/scheduler/job?_action=create", body: jobBody, headers: []string{"If-Match", `"1"`}}, 412, ""},
		{"body too large", call{method: "PUT", target: "/openidm/scheduler/job/x", body: `{"a":"` + strings.Repeat("x", crest.MaxBody) + `"}`}, 413, ""},
		{"wrong content type", call{method: "PUT", target: "/openidm/scheduler/job/x", body: jobBody, headers: []string{"Content-Type", "text/plain"}}, 415, ""},
		{"patch", call{method: "PATCH", target: "/openidm/scheduler/job/rest-job", body: `[]`}, 501, ""},
		{"not modified", call{method: "GET", target: "/openidm/scheduler/job/rest-job", headers: []string{"If-None-Match", `"1"`}}, 304, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := newHarness().do("admin", c.c)
			if rec.Code != c.code {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.code, rec.Body)
			}
			m := errorBody(t, rec)
			if int(m["code"].(float64)) != c.code || m["reason"] != http.StatusText(c.code) {
				t.Errorf("body %s", rec.Body)
			}
			if msg, _ := m["message"].(string); !strings.Contains(msg, c.message) {
				t.Errorf("message %q, want it to contain %q", msg, c.message)
			}
		})
	}
}

func TestGuideFlow(t *testing.T) {
	h := newHarness()
	v2 := []string{"Accept-API-Version", "resource=2.0"}
	rec := h.do("admin", call{method: "POST", target: "/openidm/scheduler/job?_action=validateQuartzCronExpression", body: `{"cronExpression":"0 0/1 * * * ?"}`, headers: v2})
	if rec.Body.String() != "{\"valid\":true}\n" {
		t.Errorf("validate: %s", rec.Body)
	}
	rec = h.do("admin", call{method: "POST", target: "/openidm/scheduler/trigger?_action=validateQuartzCronExpression", body: `{"cronExpression":"0 0/1 * * *"}`})
	if rec.Body.String() != "{\"valid\":false}\n" {
		t.Errorf("validate invalid: %s", rec.Body)
	}
	rec = h.do("admin", call{method: "PUT", target: "/openidm/scheduler/job/testlog-schedule", body: jobBody, headers: v2})
	if rec.Code != 201 || rec.Header().Get("ETag") != `"1"` || rec.Header().Get("Location") != "/openidm/scheduler/job/testlog-schedule" {
		t.Errorf("put create: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	if got := rec.Header().Get("Content-API-Version"); got != "protocol=2.1,resource=2.0" {
		t.Errorf("Content-API-Version %q", got)
	}
	if !strings.HasPrefix(rec.Body.String(), `{"_id":"testlog-schedule","_rev":"1",`) {
		t.Errorf("body order: %s", rec.Body)
	}
	rec = h.do("admin", call{method: "PUT", target: "/openidm/scheduler/job/testlog-schedule", body: jobBody, headers: []string{"If-Match", `"1"`}})
	if rec.Code != 200 || rec.Header().Get("ETag") != `"2"` {
		t.Errorf("put update: %d %s", rec.Code, rec.Body)
	}
	rec = h.do("admin", call{method: "POST", target: "/openidm/scheduler/job?_action=create", body: jobBody})
	if rec.Code != 201 || rec.Header().Get("Location") != "/openidm/scheduler/job/uuid-1" {
		t.Errorf("post create: %d %v", rec.Code, rec.Header())
	}
	rec = h.do("admin", call{method: "POST", target: "/openidm/scheduler/job", body: jobBody, headers: []string{"Accept-API-Version", "protocol=2.0"}})
	if rec.Code != 400 {
		t.Errorf("plain POST at protocol 2.0: %d %s", rec.Code, rec.Body)
	}
	rec = h.do("admin", call{method: "GET", target: "/openidm/scheduler/job?_QueryFilter=true&_fields=_id,enabled&_sortKeys=-_id"})
	want := `{"result":[{"_id":"uuid-1","_rev":"1","enabled":true},{"_id":"testlog-schedule","_rev":"2","enabled":true},{"_id":"rest-job","_rev":"1","enabled":false},{"_id":"file-job","_rev":"1","enabled":true}],"resultCount":4,"pagedResultsCookie":null,"totalPagedResultsPolicy":"NONE","totalPagedResults":-1,"remainingPagedResults":-1}` + "\n"
	if rec.Body.String() != want {
		t.Errorf("query:\n%s\nwant\n%s", rec.Body, want)
	}
	rec = h.do("admin", call{method: "POST", target: "/openidm/scheduler/job?_action=listCurrentlyExecutingJobs"})
	if rec.Body.String() != "[]\n" {
		t.Errorf("executing: %s", rec.Body)
	}
	for _, a := range []string{"trigger", "pause", "resume"} {
		rec = h.do("operator", call{method: "POST", target: "/openidm/scheduler/job/testlog-schedule?_action=" + a})
		if rec.Body.String() != "{\"success\":true}\n" {
			t.Errorf("%s: %s", a, rec.Body)
		}
	}
	if got := strings.Join(h.mem.calls, ","); got != "trigger testlog-schedule,pause testlog-schedule,resume testlog-schedule" {
		t.Errorf("calls: %s", got)
	}
	rec = h.do("admin", call{method: "POST", target: "/openidm/scheduler/job/nope?_action=trigger"})
	if rec.Code != 404 {
		t.Errorf("trigger unknown: %d", rec.Code)
	}
	rec = h.do("reader", call{method: "GET", target: "/openidm/scheduler/trigger?_queryFilter=%21(nodeId+pr)&_fields=nodeId"})
	if !strings.Contains(rec.Body.String(), `"result":[{"_id":"scheduler-service-group.trigger-other","_rev":"2","nodeId":null}]`) {
		t.Errorf("trigger query: %s", rec.Body)
	}
	rec = h.do("reader", call{method: "GET", target: "/openidm/scheduler/trigger/scheduler-service-group.trigger-file-job"})
	if rec.Code != 200 || rec.Header().Get("ETag") != `"7"` {
		t.Errorf("read trigger: %d %s", rec.Code, rec.Body)
	}
	rec = h.do("admin", call{method: "POST", target: "/openidm/scheduler/job/testlog-schedule", headers: []string{"X-HTTP-Method-Override", "DELETE"}})
	if rec.Code != 200 || !strings.HasPrefix(rec.Body.String(), `{"_id":"testlog-schedule"`) {
		t.Errorf("delete via override: %d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(h.log.String(), `msg="api write" client=admin method=DELETE path=/openidm/scheduler/job/testlog-schedule status=200`) {
		t.Errorf("audit: %s", h.log)
	}
}
