package api

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"sundial/engine/api/crest"
	"sundial/engine/auth"
)

// memJobRuns holds a few job resources in memory, for the routing, roles
// and queries of /openidm/jobs (engine/daemon serves the real ones, which
// internal/e2e drives).
type memJobRuns struct{}

type jobInst struct {
	ID    int64  `json:"id"`
	JobID string `json:"jobId"`
	State string `json:"state"`
}

var instances = []any{jobInst{3, "b", "blocked"}, jobInst{2, "a", "completed"}, jobInst{1, "b", "completed"}}

func (memJobRuns) Jobs(context.Context) ([]any, error) {
	return []any{map[string]any{"id": "a"}, map[string]any{"id": "b"}}, nil
}
func (memJobRuns) Job(_ context.Context, id string) (any, error) {
	if id != "a" && id != "b" {
		return nil, crest.NotFound("Job '%s' not found", id)
	}
	return map[string]any{"id": id}, nil
}
func (memJobRuns) Start(_ context.Context, id string, body []byte) (any, error) {
	return jobInst{4, id, "running"}, nil
}
func (memJobRuns) Instances(context.Context) ([]any, error) { return instances, nil }
func (memJobRuns) Instance(_ context.Context, id int64) (any, error) {
	for _, i := range instances {
		if i.(jobInst).ID == id {
			return i, nil
		}
	}
	return nil, crest.NotFound("job instance %d not found", id)
}
func (m memJobRuns) Cancel(ctx context.Context, id int64) (any, error) { return m.Instance(ctx, id) }
func (m memJobRuns) Resume(ctx context.Context, id int64) (any, error) { return m.Instance(ctx, id) }
func (memJobRuns) TaskInstances(context.Context, int64) ([]any, error) {
	return []any{map[string]any{"id": 7, "taskId": "Sync", "state": "blocked"}}, nil
}
func (memJobRuns) TaskInstance(context.Context, int64) (any, error) {
	return map[string]any{"id": 7, "taskId": "Sync", "state": "blocked"}, nil
}
func (memJobRuns) Changes(context.Context, int64) ([]any, error) {
	return []any{map[string]any{"action": "delete", "objectId": "x"}}, nil
}

func newJobsHarness() *harness {
	var buf bytes.Buffer
	return &harness{h: NewJobRuns(JobRunsOptions{Jobs: memJobRuns{}, Auth: fixedAuth{}, Logger: slog.New(slog.NewTextHandler(&buf, nil))}), log: &buf}
}

func TestJobRunsRoles(t *testing.T) {
	endpoints := []struct {
		name string
		c    call
		perm auth.Perm
	}{
		{"query jobs", call{method: "GET", target: "/openidm/jobs/job?_queryFilter=true"}, auth.PermRead},
		{"read job", call{method: "GET", target: "/openidm/jobs/job/a"}, auth.PermRead},
		{"run", call{method: "POST", target: "/openidm/jobs/job/a?_action=run", body: `{"task":"x"}`}, auth.PermOperate},
		{"query instances", call{method: "GET", target: "/openidm/jobs/instance?_queryFilter=true"}, auth.PermRead},
		{"read instance", call{method: "GET", target: "/openidm/jobs/instance/3"}, auth.PermRead},
		{"cancel", call{method: "POST", target: "/openidm/jobs/instance/3?_action=cancel"}, auth.PermOperate},
		{"resume", call{method: "POST", target: "/openidm/jobs/instance/3?_action=resume"}, auth.PermOperate},
		{"task instances", call{method: "GET", target: "/openidm/jobs/instance/3/tasks?_queryFilter=true"}, auth.PermRead},
		{"task instance", call{method: "GET", target: "/openidm/jobs/task-instance/7"}, auth.PermRead},
		{"changes", call{method: "GET", target: "/openidm/jobs/task-instance/7/changes"}, auth.PermRead},
	}
	roles := map[string]auth.Role{"admin": auth.RoleAdmin, "operator": auth.RoleOperator, "reader": auth.RoleReader}
	for _, e := range endpoints {
		for client, role := range roles {
			t.Run(e.name+"/"+client, func(t *testing.T) {
				h := newJobsHarness()
				checkAccess(t, h, h.do(client, e.c), role, e.perm)
			})
		}
		t.Run(e.name+"/anonymous", func(t *testing.T) {
			if rec := newJobsHarness().do("", e.c); rec.Code != 401 {
				t.Errorf("%d %s", rec.Code, rec.Body)
			}
		})
	}
}

func TestJobRunsAnswers(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    call
		code int
		want string
	}{
		{"query filter on instances", call{method: "GET", target: `/openidm/jobs/instance?_queryFilter=/jobId+eq+"b"+and+/state+eq+"blocked"`}, 200, `"resultCount":1`},
		{"numbers compare as numbers", call{method: "GET", target: `/openidm/jobs/instance?_queryFilter=/id+gt+1`}, 200, `"resultCount":2`},
		{"run answers 201", call{method: "POST", target: "/openidm/jobs/job/a?_action=run"}, 201, `"state":"running"`},
		{"query without a filter", call{method: "GET", target: "/openidm/jobs/instance"}, 400, "_queryFilter"},
		{"id that is not a number", call{method: "GET", target: "/openidm/jobs/instance/x"}, 404, "positive integers"},
		{"unknown job", call{method: "GET", target: "/openidm/jobs/job/nope"}, 404, "not found"},
		{"unknown action", call{method: "POST", target: "/openidm/jobs/instance/3?_action=explode"}, 400, "Unknown action given: explode"},
		{"wrong method", call{method: "DELETE", target: "/openidm/jobs/instance/3"}, 405, ""},
		{"changes", call{method: "GET", target: "/openidm/jobs/task-instance/7/changes"}, 200, `"action":"delete"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newJobsHarness().do("admin", tc.c)
			if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.want) {
				t.Errorf("%d %s, want %d containing %q", rec.Code, rec.Body, tc.code, tc.want)
			}
			if tc.code == 200 && !json.Valid(rec.Body.Bytes()) {
				t.Errorf("not JSON: %s", rec.Body)
			}
		})
	}
}
