package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"sundial/engine/api/crest"
	"sundial/engine/auth"
	"sundial/engine/connector"
	"sundial/engine/system"
)

// Systems are the running connectors /openidm/system serves
// (engine/system's Registry).
type Systems interface {
	Acquire(resource string) (connector.ObjectSet, func(), error)
	Test(ctx context.Context, name string) (system.TestResult, error)
	TestAll(ctx context.Context) []system.TestResult
}

// LiveSync runs a liveSync pass of a source (system/<name>/<type>) and
// answers its stage, IDM's pooledSyncStage object (without the failed
// change unless detailedFailure). An error wrapping
// connector.ErrNotFound or ErrNotSupported names a source without a
// change stream.
type LiveSync interface {
	LiveSync(ctx context.Context, source string, detailedFailure bool) (map[string]any, error)
}

// SystemVersion is the resource version of /openidm/system, IDM's.
var SystemVersion = crest.Version{Major: 1, Minor: 0}

// systemVersion checks the resource version and sets
// Content-API-Version; without Systems every system path is a 404.
func (s *server) systemVersion(w http.ResponseWriter, r *http.Request, req *request) bool {
	if s.Systems == nil || req.version.HasResource && !SystemVersion.Serves(req.version.Resource) {
		req.writer.Error(w, crest.NotFound("Resource '%s' not found", resourcePath(r)))
		return false
	}
	w.Header().Set("Content-API-Version", crest.ContentAPIVersion(req.version.Protocol, SystemVersion))
	return true
}

// systemRoot serves POST /openidm/system?_action=test: every connector's
// status.
func (s *server) systemRoot(w http.ResponseWriter, r *http.Request) {
	req := state(r)
	if req.params.Action == "liveSync" && r.Method == http.MethodPost {
		if s.systemVersion(w, r, req) {
			source := req.params.Extra["source"]
			if source == "" {
				req.writer.Error(w, crest.BadRequest("liveSync requires the parameter source"))
				return
			}
			s.liveSync(w, r, req, source)
		}
		return
	}
	if !s.testAction(w, r, req) {
		return
	}
	res := s.Systems.TestAll(r.Context())
	if res == nil {
		res = []system.TestResult{}
	}
	req.writer.JSON(w, http.StatusOK, res)
}

// systemConnector serves POST /openidm/system/{name}?_action=test.
func (s *server) systemConnector(w http.ResponseWriter, r *http.Request) {
	req := state(r)
	if !s.testAction(w, r, req) {
		return
	}
	res, err := s.Systems.Test(r.Context(), r.PathValue("name"))
	if err != nil {
		req.writer.Error(w, systemError(err, resourcePath(r)))
		return
	}
	req.writer.JSON(w, http.StatusOK, res)
}

// liveSync serves POST ?_action=liveSync of a source: the pass's stage.
func (s *server) liveSync(w http.ResponseWriter, r *http.Request, req *request, source string) {
	if s.LiveSync == nil {
		s.unknownAction(w, req, req.params.Action)
		return
	}
	if !req.allow(w, auth.PermWrite) {
		return
	}
	stage, err := s.LiveSync.LiveSync(r.Context(), source, isTrue(req.params.Extra["detailedFailure"]))
	if err != nil {
		req.writer.Error(w, systemError(err, source))
		return
	}
	req.writer.JSON(w, http.StatusOK, stage)
}

// testAction checks a POST ?_action=test: version, method, action and
// the read permission (a test changes nothing).
func (s *server) testAction(w http.ResponseWriter, r *http.Request, req *request) bool {
	if !s.systemVersion(w, r, req) {
		return false
	}
	if r.Method != http.MethodPost {
		methodNotAllowed(w, r, "POST")
		return false
	}
	if req.params.Action != "test" {
		s.unknownAction(w, req, req.params.Action)
		return false
	}
	return req.allow(w, auth.PermRead)
}

// systemSet acquires the set of the request's path; release must be
// called when ok.
func (s *server) systemSet(w http.ResponseWriter, r *http.Request, req *request) (set connector.ObjectSet, release func(), ok bool) {
	if !s.systemVersion(w, r, req) {
		return nil, nil, false
	}
	set, release, err := s.Systems.Acquire("system/" + r.PathValue("name") + "/" + r.PathValue("type"))
	if err != nil {
		req.writer.Error(w, systemError(err, resourcePath(r)))
		return nil, nil, false
	}
	return set, release, true
}

// systemCollection serves /openidm/system/{name}/{type}: queries and
// creates.
func (s *server) systemCollection(w http.ResponseWriter, r *http.Request) {
	req := state(r)
	set, release, ok := s.systemSet(w, r, req)
	if !ok {
		return
	}
	defer release()
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if !req.allow(w, auth.PermRead) || !s.noConditions(w, r, req) {
			return
		}
		q := req.params.Query
		if !q.IsQuery() {
			req.writer.Error(w, crest.BadRequest("A query on %s needs _queryFilter or _queryId", set.Resource()))
			return
		}
		cq := connector.Query{Filter: q.Filter, IDsOnly: q.QueryID == crest.IDsQuery}
		var all []crest.Resource
		err := set.Query(r.Context(), cq, func(o connector.Object) error {
			all = append(all, systemResource(o))
			return nil
		})
		if err != nil {
			req.writer.Error(w, systemError(err, set.Resource()))
			return
		}
		res, err := crest.Query(all, q, req.params.Fields)
		if err != nil {
			req.writer.Error(w, err)
			return
		}
		req.writer.JSON(w, http.StatusOK, res)
	case http.MethodPost:
		if req.params.Action == "liveSync" {
			s.liveSync(w, r, req, set.Resource())
			return
		}
		if action := req.collectionAction(); action != "create" {
			s.unknownAction(w, req, action)
			return
		}
		if !req.allow(w, auth.PermWrite) || !s.noConditions(w, r, req) {
			return
		}
		s.systemCreate(w, r, req, set, "")
	default:
		methodNotAllowed(w, r, "GET, POST")
	}
}

// systemObject serves /openidm/system/{name}/{type}/{id}.
func (s *server) systemObject(w http.ResponseWriter, r *http.Request) {
	req := state(r)
	set, release, ok := s.systemSet(w, r, req)
	if !ok {
		return
	}
	defer release()
	id := r.PathValue("id")
	path := set.Resource() + "/" + id
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if !req.allow(w, auth.PermRead) {
			return
		}
		o, err := set.Read(r.Context(), id)
		s.read(w, r, req, systemResource(o), systemError(err, path))
	case http.MethodPut:
		if !req.allow(w, auth.PermWrite) {
			return
		}
		ifMatch, createOnly, err := crest.ParseConditions(r).Put()
		if err != nil {
			req.writer.Error(w, err)
			return
		}
		if createOnly {
			s.systemCreate(w, r, req, set, id)
			return
		}
		content, err := readObjectBody(r)
		if err != nil {
			req.writer.Error(w, err)
			return
		}
		o, err := set.Update(r.Context(), id, ifMatch, content)
		if err != nil {
			req.writer.Error(w, systemError(err, path))
			return
		}
		req.writer.Resource(w, http.StatusOK, systemResource(o), req.params.Fields)
	case http.MethodDelete:
		ifMatch, ok := req.writeIfMatch(w, r)
		if !ok {
			return
		}
		o, err := set.Read(r.Context(), id)
		if err == nil {
			err = set.Delete(r.Context(), id, ifMatch)
		}
		if err != nil {
			req.writer.Error(w, systemError(err, path))
			return
		}
		req.writer.Resource(w, http.StatusOK, systemResource(o), req.params.Fields)
	default:
		methodNotAllowed(w, r, "GET, PUT, DELETE")
	}
}

// systemCreate creates one object (id "" lets the connector choose).
func (s *server) systemCreate(w http.ResponseWriter, r *http.Request, req *request, set connector.ObjectSet, id string) {
	content, id, err := readCreateBody(r, id)
	if err != nil {
		req.writer.Error(w, err)
		return
	}
	delete(content, "_id")
	o, err := set.Create(r.Context(), id, content)
	if errors.Is(err, connector.ErrConflict) {
		req.writer.Error(w, crest.PreconditionFailed("Create rejected as Object with same ID already exists: %s/%s", set.Resource(), id))
		return
	}
	if err != nil {
		req.writer.Error(w, systemError(err, set.Resource()))
		return
	}
	res := systemResource(o)
	w.Header().Set("Location", "/openidm/"+set.Resource()+"/"+url.PathEscape(res.ID))
	req.writer.Resource(w, http.StatusCreated, res, req.params.Fields)
}

func systemResource(o connector.Object) crest.Resource {
	if o == nil {
		return crest.Resource{}
	}
	id, _ := o["_id"].(string)
	rev, _ := o["_rev"].(string)
	return crest.Resource{ID: id, Rev: rev, Fields: o}
}

// systemError gives a connector error its CREST status: 404 for a missing
// object, connector or type (and a connector Sundial does not run), 412
// for a revision conflict; anything else stays a 500.
func systemError(err error, path string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, connector.ErrNotFound), errors.Is(err, connector.ErrNotSupported):
		return crest.NotFound("Object %s not found: %v", path, err)
	case errors.Is(err, connector.ErrConflict):
		return crest.PreconditionFailed("%v", err)
	}
	return err
}
