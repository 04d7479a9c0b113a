package api

import (
	"context"
	"net/http"
	"net/url"

	"sundial/engine/api/crest"
	"sundial/engine/auth"
)

// jobs serves /openidm/scheduler/job: queries, creates and the
// collection's actions.
func (s *server) jobs(w http.ResponseWriter, r *http.Request) {
	req := state(r)
	if !req.scheduler(w, r) {
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.query(w, r, req, s.Schedules.Jobs, "Empty resourceId")
	case http.MethodPost:
		action := req.collectionAction()
		switch action {
		case "create":
			s.put(w, r, req, "")
		case "validateQuartzCronExpression":
			s.validateCron(w, r, req)
		case "listCurrentlyExecutingJobs":
			if !req.allow(w, auth.PermRead) || !s.noConditions(w, r, req) {
				return
			}
			list, err := s.Schedules.Executing(r.Context())
			if err != nil {
				req.writer.Error(w, err)
				return
			}
			if list == nil {
				list = []map[string]any{}
			}
			req.writer.JSON(w, http.StatusOK, list)
		case "pauseJobs", "resumeJobs":
			if !req.allow(w, auth.PermOperate) || !s.noConditions(w, r, req) {
				return
			}
			op := s.Schedules.PauseAll
			if action == "resumeJobs" {
				op = s.Schedules.ResumeAll
			}
			s.success(w, req, op(r.Context()))
		default:
			s.unknownAction(w, req, action)
		}
	default:
		methodNotAllowed(w, r, "GET, POST")
	}
}

// collectionAction is the action of a POST on a collection: _action, or
// create when none is given at protocol 2.1.
func (req *request) collectionAction() string {
	if req.params.Action == "" && req.version.Protocol.Serves(crest.Version{Major: 2, Minor: 1}) {
		return "create"
	}
	return req.params.Action
}

// job serves /openidm/scheduler/job/{id}.
func (s *server) job(w http.ResponseWriter, r *http.Request) {
	req := state(r)
	if !req.scheduler(w, r) {
		return
	}
	id := r.PathValue("id")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if !req.allow(w, auth.PermRead) {
			return
		}
		job, err := s.Schedules.Job(r.Context(), id)
		s.read(w, r, req, job, err)
	case http.MethodPut:
		s.put(w, r, req, id)
	case http.MethodDelete:
		if !req.allow(w, auth.PermWrite) {
			return
		}
		ifMatch, err := crest.ParseConditions(r).Delete()
		if err != nil {
			req.writer.Error(w, err)
			return
		}
		job, err := s.Schedules.DeleteJob(r.Context(), DeleteJob{ID: id, IfMatch: ifMatch, ClientID: req.principal.ClientID})
		if err != nil {
			req.writer.Error(w, err)
			return
		}
		req.writer.Resource(w, http.StatusOK, job, req.params.Fields)
	case http.MethodPost:
		action := req.params.Action
		var op func(ctx context.Context, id string) error
		switch action {
		case "validateQuartzCronExpression":
			s.validateCron(w, r, req)
			return
		case "trigger":
			op = s.Schedules.TriggerJob
		case "pause":
			op = s.Schedules.PauseJob
		case "resume":
			op = s.Schedules.ResumeJob
		default:
			s.unknownAction(w, req, action)
			return
		}
		if !req.allow(w, auth.PermOperate) || !s.noConditions(w, r, req) {
			return
		}
		s.success(w, req, op(r.Context(), id))
	case http.MethodPatch:
		if !req.allow(w, auth.PermWrite) {
			return
		}
		req.writer.Error(w, crest.Errorf(http.StatusNotImplemented, "Patch is not supported on scheduler jobs"))
	default:
		methodNotAllowed(w, r, "GET, PUT, DELETE, POST, PATCH")
	}
}

// put is a PUT /job/{id} (id set) or a POST create (id "").
func (s *server) put(w http.ResponseWriter, r *http.Request, req *request, id string) {
	if !req.allow(w, auth.PermWrite) {
		return
	}
	p := PutJob{ID: id, ClientID: req.principal.ClientID}
	c := crest.ParseConditions(r)
	if id == "" {
		if err := c.CheckNone(); err != nil {
			req.writer.Error(w, err)
			return
		}
		p.CreateOnly = true
	} else {
		var err error
		if p.IfMatch, p.CreateOnly, err = c.Put(); err != nil {
			req.writer.Error(w, err)
			return
		}
	}
	body, err := crest.ReadJSON(r, crest.BodyRequired)
	if err != nil {
		req.writer.Error(w, err)
		return
	}
	p.Body = body
	job, created, err := s.Schedules.PutJob(r.Context(), p)
	if err != nil {
		req.writer.Error(w, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/openidm/scheduler/job/"+url.PathEscape(job.ID))
	}
	req.writer.Resource(w, status, job, req.params.Fields)
}

// triggers serves /openidm/scheduler/trigger: queries.
func (s *server) triggers(w http.ResponseWriter, r *http.Request) {
	req := state(r)
	if !req.scheduler(w, r) {
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.query(w, r, req, s.Schedules.Triggers, "No id was supplied to read")
	case http.MethodPost:
		s.onlyValidate(w, r, req)
	default:
		methodNotAllowed(w, r, "GET, POST")
	}
}

// trigger serves /openidm/scheduler/trigger/{id}: reads.
func (s *server) trigger(w http.ResponseWriter, r *http.Request) {
	req := state(r)
	if !req.scheduler(w, r) {
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if !req.allow(w, auth.PermRead) {
			return
		}
		t, err := s.Schedules.Trigger(r.Context(), r.PathValue("id"))
		s.read(w, r, req, t, err)
	case http.MethodPost:
		s.onlyValidate(w, r, req)
	default:
		methodNotAllowed(w, r, "GET, POST")
	}
}

func (s *server) read(w http.ResponseWriter, r *http.Request, req *request, res crest.Resource, err error) {
	if err != nil {
		req.writer.Error(w, err)
		return
	}
	if err := crest.ParseConditions(r).CheckRead(res.Rev); err != nil {
		if res.Rev != "" {
			w.Header().Set("ETag", `"`+res.Rev+`"`)
		}
		req.writer.Error(w, err)
		return
	}
	req.writer.Resource(w, http.StatusOK, res, req.params.Fields)
}

// query answers a GET on a collection: a query over every resource list
// returns, or a 400 saying noQuery when the request is not a query.
func (s *server) query(w http.ResponseWriter, r *http.Request, req *request, list func(context.Context) ([]crest.Resource, error), noQuery string) {
	if !req.allow(w, auth.PermRead) {
		return
	}
	if !req.params.Query.IsQuery() {
		req.writer.Error(w, crest.BadRequest("%s", noQuery))
		return
	}
	if !s.noConditions(w, r, req) {
		return
	}
	all, err := list(r.Context())
	if err != nil {
		req.writer.Error(w, err)
		return
	}
	out, err := crest.Query(all, req.params.Query, req.params.Fields)
	req.reply(w, out, err)
}

func (s *server) noConditions(w http.ResponseWriter, r *http.Request, req *request) bool {
	if err := crest.ParseConditions(r).CheckNone(); err != nil {
		req.writer.Error(w, err)
		return false
	}
	return true
}

func (s *server) success(w http.ResponseWriter, req *request, err error) {
	req.reply(w, map[string]bool{"success": true}, err)
}

// reply writes err as the CREST error when there is one, else out as the
// 200 body.
func (req *request) reply(w http.ResponseWriter, out any, err error) {
	if err != nil {
		req.writer.Error(w, err)
		return
	}
	req.writer.JSON(w, http.StatusOK, out)
}

func (s *server) unknownAction(w http.ResponseWriter, req *request, action string) {
	if action == "" {
		req.writer.Error(w, crest.BadRequest("An action is required: _action is missing"))
		return
	}
	req.writer.Error(w, crest.BadRequest("Unknown action given: %s", action))
}

// onlyValidate serves a POST on a path whose only action is
// validateQuartzCronExpression.
func (s *server) onlyValidate(w http.ResponseWriter, r *http.Request, req *request) {
	if req.params.Action == "validateQuartzCronExpression" {
		s.validateCron(w, r, req)
		return
	}
	s.unknownAction(w, req, req.params.Action)
}
