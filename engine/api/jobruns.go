package api

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"sundial/engine/api/crest"
	"sundial/engine/auth"
)

// JobRuns is what /openidm/jobs serves: multi-step jobs (engine/jobs), their
// instances and task instances. Each value is a JSON object whose "id" is
// the resource's id. Errors that are a *crest.Error give their status;
// others are a 500.
type JobRuns interface {
	// Jobs lists the job definitions, each with its launch plan.
	Jobs(ctx context.Context) ([]any, error)
	// Job is one job definition.
	Job(ctx context.Context, id string) (any, error)
	// Start launches job id with the options of body (engine/jobs'
	// StartOptions as JSON; empty for none) and returns the new instance.
	Start(ctx context.Context, id string, body []byte) (any, error)
	// Instances lists the job instances, newest first.
	Instances(ctx context.Context) ([]any, error)
	Instance(ctx context.Context, id int64) (any, error)
	Cancel(ctx context.Context, id int64) (any, error)
	Resume(ctx context.Context, id int64) (any, error)
	// TaskInstances lists a job instance's task instances.
	TaskInstances(ctx context.Context, jobInstanceID int64) ([]any, error)
	TaskInstance(ctx context.Context, id int64) (any, error)
	// Changes lists the staged changes of a blocked synchronize task
	// instance.
	Changes(ctx context.Context, taskInstanceID int64) ([]any, error)
}

// JobRunsOptions are what NewJobRuns needs.
type JobRunsOptions struct {
	Jobs   JobRuns
	Auth   Authenticator
	Logger *slog.Logger
}

// NewJobRuns returns the handler of /openidm/jobs, with the scheduler API's
// authentication, roles and audit:
//
//	GET  /openidm/jobs/job?_queryFilter=…            job definitions (read)
//	GET  /openidm/jobs/job/{id}                      one, with its launch plan (read)
//	POST /openidm/jobs/job/{id}?_action=run          start it; body: the launch options (operate)
//	GET  /openidm/jobs/instance?_queryFilter=…       job instances (read)
//	GET  /openidm/jobs/instance/{id}                 one (read)
//	POST /openidm/jobs/instance/{id}?_action=cancel  (operate)
//	POST /openidm/jobs/instance/{id}?_action=resume  (operate)
//	GET  /openidm/jobs/instance/{id}/tasks?_queryFilter=…  its task instances (read)
//	GET  /openidm/jobs/task-instance/{id}            one task instance (read)
//	GET  /openidm/jobs/task-instance/{id}/changes    the staged changes of a blocked synchronization (read)
func NewJobRuns(o JobRunsOptions) http.Handler {
	if o.Jobs == nil || o.Auth == nil {
		panic("api.NewJobRuns: Options.Jobs and Options.Auth are required")
	}
	s := subserver(o.Auth, o.Logger)
	h := &jobRuns{server: s, jobs: o.Jobs}
	mux := http.NewServeMux()
	mux.HandleFunc("/openidm/jobs/job", h.jobCollection)
	mux.HandleFunc("/openidm/jobs/job/{id}", h.job)
	mux.HandleFunc("/openidm/jobs/instance", h.instanceCollection)
	mux.HandleFunc("/openidm/jobs/instance/{id}", h.instance)
	mux.HandleFunc("/openidm/jobs/instance/{id}/tasks", h.instanceTasks)
	mux.HandleFunc("/openidm/jobs/task-instance/{id}", h.taskInstance)
	mux.HandleFunc("/openidm/jobs/task-instance/{id}/changes", h.changes)
	return s.serve(mux)
}

type jobRuns struct {
	*server
	jobs JobRuns
}

// resources turns values into CREST resources keyed by their "id".
func resources(values []any) ([]crest.Resource, error) {
	out := make([]crest.Resource, len(values))
	for i, v := range values {
		m, err := fields(v)
		if err != nil {
			return nil, err
		}
		out[i] = crest.Resource{ID: idOf(m), Fields: m}
	}
	return out, nil
}

// fields is v as the query matcher sees JSON: numbers as json.Number.
func fields(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

func idOf(m map[string]any) string {
	switch id := m["id"].(type) {
	case string:
		return id
	case json.Number:
		return id.String()
	}
	return ""
}

// query answers a CREST query over values.
func (h *jobRuns) query(w http.ResponseWriter, req *request, values []any, err error) {
	if err != nil {
		req.writer.Error(w, err)
		return
	}
	if !req.params.Query.IsQuery() {
		req.writer.Error(w, crest.BadRequest("a query needs _queryFilter or _queryId"))
		return
	}
	all, err := resources(values)
	if err != nil {
		req.writer.Error(w, err)
		return
	}
	out, err := crest.Query(all, req.params.Query, req.params.Fields)
	req.reply(w, out, err)
}

func (h *jobRuns) read(w http.ResponseWriter, r *http.Request) (*request, bool) {
	req := state(r)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, r, "GET")
		return req, false
	}
	return req, req.allow(w, auth.PermRead) && h.noConditions(w, r, req)
}

func instanceID(w http.ResponseWriter, req *request, raw, what string) (int64, bool) {
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		req.writer.Error(w, crest.NotFound("%s %q not found: ids are positive integers", what, raw))
		return 0, false
	}
	return id, true
}

func (h *jobRuns) jobCollection(w http.ResponseWriter, r *http.Request) {
	if req, ok := h.read(w, r); ok {
		list, err := h.jobs.Jobs(r.Context())
		h.query(w, req, list, err)
	}
}

func (h *jobRuns) job(w http.ResponseWriter, r *http.Request) {
	req := state(r)
	id := r.PathValue("id")
	if r.Method == http.MethodPost {
		if !strings.EqualFold(req.params.Action, "run") {
			h.unknownAction(w, req, req.params.Action)
			return
		}
		if !req.allow(w, auth.PermOperate) || !h.noConditions(w, r, req) {
			return
		}
		body, err := crest.ReadJSON(r, crest.BodyOptional)
		if err != nil {
			req.writer.Error(w, err)
			return
		}
		out, err := h.jobs.Start(r.Context(), id, body)
		if err != nil {
			req.writer.Error(w, err)
			return
		}
		req.writer.JSON(w, http.StatusCreated, out)
		return
	}
	if req, ok := h.read(w, r); ok {
		out, err := h.jobs.Job(r.Context(), id)
		req.reply(w, out, err)
	}
}

func (h *jobRuns) instanceCollection(w http.ResponseWriter, r *http.Request) {
	if req, ok := h.read(w, r); ok {
		list, err := h.jobs.Instances(r.Context())
		h.query(w, req, list, err)
	}
}

func (h *jobRuns) instance(w http.ResponseWriter, r *http.Request) {
	req := state(r)
	id, ok := instanceID(w, req, r.PathValue("id"), "job instance")
	if !ok {
		return
	}
	if r.Method == http.MethodPost {
		var act func(context.Context, int64) (any, error)
		switch strings.ToLower(req.params.Action) {
		case "cancel":
			act = h.jobs.Cancel
		case "resume":
			act = h.jobs.Resume
		default:
			h.unknownAction(w, req, req.params.Action)
			return
		}
		if !req.allow(w, auth.PermOperate) || !h.noConditions(w, r, req) {
			return
		}
		out, err := act(r.Context(), id)
		req.reply(w, out, err)
		return
	}
	if req, ok := h.read(w, r); ok {
		out, err := h.jobs.Instance(r.Context(), id)
		req.reply(w, out, err)
	}
}

func (h *jobRuns) instanceTasks(w http.ResponseWriter, r *http.Request) {
	req := state(r)
	id, ok := instanceID(w, req, r.PathValue("id"), "job instance")
	if !ok {
		return
	}
	if req, ok := h.read(w, r); ok {
		list, err := h.jobs.TaskInstances(r.Context(), id)
		h.query(w, req, list, err)
	}
}

func (h *jobRuns) taskInstance(w http.ResponseWriter, r *http.Request) {
	req := state(r)
	id, ok := instanceID(w, req, r.PathValue("id"), "task instance")
	if !ok {
		return
	}
	if req, ok := h.read(w, r); ok {
		out, err := h.jobs.TaskInstance(r.Context(), id)
		req.reply(w, out, err)
	}
}

func (h *jobRuns) changes(w http.ResponseWriter, r *http.Request) {
	req := state(r)
	id, ok := instanceID(w, req, r.PathValue("id"), "task instance")
	if !ok {
		return
	}
	if req, ok := h.read(w, r); ok {
		list, err := h.jobs.Changes(r.Context(), id)
		if err != nil {
			req.writer.Error(w, err)
			return
		}
		req.reply(w, map[string]any{"result": list, "resultCount": len(list)}, nil)
	}
}
