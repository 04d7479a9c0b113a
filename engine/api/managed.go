package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"sundial/engine/api/crest"
	"sundial/engine/auth"
	"sundial/engine/managed"
	"sundial/engine/query"
	"sundial/engine/store"
)

// ManagedTypes says which managed object types the applied conf directory
// declares (managed.json); it is asked on every request, so a reload that
// adds or removes a type applies at once.
type ManagedTypes interface {
	Declared(name string) bool
}

// ManagedVersion is the resource version of /openidm/managed, IDM's.
var ManagedVersion = crest.Version{Major: 1, Minor: 0}

// managedObjects is the store behind /openidm/managed/<type>, or a 501
// when the node has none; a type managed.json does not declare is a 404
// first.
func (s *server) managedObjects(w http.ResponseWriter, r *http.Request, req *request, typ string) (store.Objects, bool) {
	if req.version.HasResource && !ManagedVersion.Serves(req.version.Resource) {
		req.writer.Error(w, crest.NotFound("Resource '%s' not found", resourcePath(r)))
		return nil, false
	}
	w.Header().Set("Content-API-Version", crest.ContentAPIVersion(req.version.Protocol, ManagedVersion))
	if s.ManagedTypes == nil || !s.ManagedTypes.Declared(typ) {
		req.writer.Error(w, crest.NotFound("Resource 'managed/%s' not found: managed.json declares no type '%s'", typ, typ))
		return nil, false
	}
	if s.Objects == nil {
		req.writer.Error(w, crest.Errorf(http.StatusNotImplemented,
			"Managed objects need a database: this node keeps its state in memory (serve with a SQLite or PostgreSQL store)"))
		return nil, false
	}
	return s.Objects, true
}

// managedCollection serves /openidm/managed/{type}: queries, creates and
// the patch-by-query action.
func (s *server) managedCollection(w http.ResponseWriter, r *http.Request) {
	req := state(r)
	typ := r.PathValue("type")
	objs, ok := s.managedObjects(w, r, req, typ)
	if !ok {
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.queryObjects(w, r, req, objs, typ)
	case http.MethodPost:
		switch action := req.collectionAction(); action {
		case "create":
			if !req.allow(w, auth.PermWrite) || !s.noConditions(w, r, req) {
				return
			}
			s.createObject(w, r, req, objs, typ, "")
		case "patch":
			s.patchByQuery(w, r, req, objs, typ)
		default:
			s.unknownAction(w, req, action)
		}
	default:
		methodNotAllowed(w, r, "GET, POST")
	}
}

// managedObject serves /openidm/managed/{type}/{id}.
func (s *server) managedObject(w http.ResponseWriter, r *http.Request) {
	req := state(r)
	typ, id := r.PathValue("type"), r.PathValue("id")
	objs, ok := s.managedObjects(w, r, req, typ)
	if !ok {
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if !req.allow(w, auth.PermRead) {
			return
		}
		o, err := objs.ReadObject(r.Context(), store.ReadObjectParams{Type: typ, ID: id})
		s.read(w, r, req, resourceOf(o), objectError(err, typ, id))
	case http.MethodPut:
		s.putObject(w, r, req, objs, typ, id)
	case http.MethodPatch:
		if ifMatch, ok := req.writeIfMatch(w, r); ok {
			s.patchObject(w, r, req, objs, typ, id, ifMatch)
		}
	case http.MethodDelete:
		ifMatch, ok := req.writeIfMatch(w, r)
		if !ok {
			return
		}
		o, err := objs.DeleteObject(r.Context(), store.DeleteObjectParams{Type: typ, ID: id, IfRev: ifMatch})
		if err != nil {
			req.writer.Error(w, objectError(err, typ, id))
			return
		}
		req.writer.Resource(w, http.StatusOK, resourceOf(o), req.params.Fields)
	case http.MethodPost:
		if req.params.Action != "patch" {
			s.unknownAction(w, req, req.params.Action)
			return
		}
		if !req.allow(w, auth.PermWrite) || !s.noConditions(w, r, req) {
			return
		}
		s.patchObject(w, r, req, objs, typ, id, "")
	default:
		methodNotAllowed(w, r, "GET, PUT, PATCH, DELETE, POST")
	}
}

// writeIfMatch checks the write permission and reads the If-Match of a
// patch or a delete ("" for none or *; If-None-Match is a 412).
func (req *request) writeIfMatch(w http.ResponseWriter, r *http.Request) (string, bool) {
	if !req.allow(w, auth.PermWrite) {
		return "", false
	}
	ifMatch, err := crest.ParseConditions(r).Delete()
	if err != nil {
		req.writer.Error(w, err)
		return "", false
	}
	return ifMatch, true
}

// putObject is a PUT /{id}: If-None-Match: * creates, If-Match updates
// that revision, and neither updates or creates (protocol 2.1; 2.0
// only updates).
func (s *server) putObject(w http.ResponseWriter, r *http.Request, req *request, objs store.Objects, typ, id string) {
	if !req.allow(w, auth.PermWrite) {
		return
	}
	c := crest.ParseConditions(r)
	ifMatch, createOnly, err := c.Put()
	if err != nil {
		req.writer.Error(w, err)
		return
	}
	if createOnly {
		s.createObject(w, r, req, objs, typ, id)
		return
	}
	content, err := readObjectBody(r)
	if err != nil {
		req.writer.Error(w, err)
		return
	}
	upsert := !c.HasIfMatch && req.version.Protocol.Serves(crest.Version{Major: 2, Minor: 1})
	// An upsert that loses a race with a create updates what was
	// created; one that keeps losing (created and deleted in turn) is
	// answered as its last create.
	var err2 error
	var created store.Object
	for range 3 {
		o, err := objs.UpdateObject(r.Context(), store.UpdateObjectParams{Type: typ, ID: id, IfRev: ifMatch, Content: content})
		if err == nil {
			req.writer.Resource(w, http.StatusOK, resourceOf(o), req.params.Fields)
			return
		}
		if !upsert || !errors.Is(err, store.ErrNotFound) {
			req.writer.Error(w, objectError(err, typ, id))
			return
		}
		if created, err2 = createOne(r, objs, typ, id, content); !errors.Is(err2, store.ErrConflict) {
			break
		}
	}
	s.created(w, req, typ, id, created, err2)
}

// createObject creates one object with id ("" for the body's _id, or a
// UUID without one).
func (s *server) createObject(w http.ResponseWriter, r *http.Request, req *request, objs store.Objects, typ, id string) {
	content, id, err := readCreateBody(r, id)
	if err != nil {
		req.writer.Error(w, err)
		return
	}
	o, err := createOne(r, objs, typ, id, content)
	s.created(w, req, typ, id, o, err)
}

func createOne(r *http.Request, objs store.Objects, typ, id string, content map[string]any) (store.Object, error) {
	res, err := objs.CreateObjects(r.Context(), store.CreateObjectsParams{Type: typ,
		Objects: []store.NewObject{{ID: id, Content: content}}})
	if err != nil {
		return store.Object{}, err
	}
	return res[0].Object, res[0].Err
}

// created answers the create of id ("" for a server id): 201 with its
// Location, or the error (an existing id is a 412, as IDM's repository
// answers).
func (s *server) created(w http.ResponseWriter, req *request, typ, id string, o store.Object, err error) {
	if errors.Is(err, store.ErrConflict) {
		req.writer.Error(w, crest.PreconditionFailed("Create rejected as Object with same ID already exists: managed/%s/%s", typ, id))
		return
	}
	if err != nil {
		req.writer.Error(w, objectError(err, typ, id))
		return
	}
	w.Header().Set("Location", "/openidm/managed/"+url.PathEscape(typ)+"/"+url.PathEscape(o.ID))
	req.writer.Resource(w, http.StatusCreated, resourceOf(o), req.params.Fields)
}

// patchObject applies a PATCH body to one object.
func (s *server) patchObject(w http.ResponseWriter, r *http.Request, req *request, objs store.Objects, typ, id, ifMatch string) {
	ops, err := readPatch(r)
	if err != nil {
		req.writer.Error(w, err)
		return
	}
	o, err := managed.Patch(r.Context(), objs, managed.PatchParams{Type: typ, ID: id, IfRev: ifMatch, Operations: ops})
	if err != nil {
		req.writer.Error(w, objectError(err, typ, id))
		return
	}
	req.writer.Resource(w, http.StatusOK, resourceOf(o), req.params.Fields)
}

// patchByQuery is POST ?_action=patch&_queryFilter=…: the patch applied
// to every match, each in its own transaction; the answer is the array of
// patched objects, as IDM's.
func (s *server) patchByQuery(w http.ResponseWriter, r *http.Request, req *request, objs store.Objects, typ string) {
	if !req.allow(w, auth.PermWrite) || !s.noConditions(w, r, req) {
		return
	}
	if req.params.Query.Filter == nil {
		req.writer.Error(w, crest.BadRequest("The action patch needs a _queryFilter"))
		return
	}
	ops, err := readPatch(r)
	if err != nil {
		req.writer.Error(w, err)
		return
	}
	patched, err := managed.PatchByQuery(r.Context(), objs, managed.PatchByQueryParams{Type: typ, Filter: req.params.Query.Filter, Operations: ops})
	if err != nil {
		req.writer.Error(w, objectError(err, typ, ""))
		return
	}
	out := make([]crest.Resource, len(patched))
	for i, o := range patched {
		out[i] = crest.Project(resourceOf(o), req.params.Fields)
	}
	req.writer.JSON(w, http.StatusOK, out)
}

// queryObjects answers a GET on a type: _queryFilter pushed down to the
// store, or _queryId=query-all-ids.
func (s *server) queryObjects(w http.ResponseWriter, r *http.Request, req *request, objs store.Objects, typ string) {
	if !req.allow(w, auth.PermRead) {
		return
	}
	q := req.params.Query
	if !q.IsQuery() {
		req.writer.Error(w, crest.BadRequest("A query on managed/%s needs _queryFilter or _queryId", typ))
		return
	}
	if !s.noConditions(w, r, req) {
		return
	}
	out, err := queryStore(r.Context(), objs, typ, q, req.params.Fields)
	if err != nil {
		req.writer.Error(w, objectError(err, typ, ""))
		return
	}
	req.writer.JSON(w, http.StatusOK, out)
}

// queryStore runs a CREST query of objects of typ in the store: the
// filter, sort keys and cookie pushed down, an offset (only without a
// cookie) read as a longer first page whose head is dropped.
func queryStore(ctx context.Context, objs store.Objects, typ string, q crest.QueryParams, fields []crest.Field) (crest.QueryResult, error) {
	if q.QueryID != "" {
		if q.QueryID != crest.IDsQuery {
			return crest.QueryResult{}, crest.BadRequest("only query-id of '%s' is supported.", crest.IDsQuery)
		}
		fields = []crest.Field{{"_id"}}
	}
	p := store.QueryObjectsParams{Type: typ, Filter: q.Filter, PageSize: q.PageSize,
		CountTotal: q.TotalPolicy == "ESTIMATE" || q.TotalPolicy == "EXACT"}
	skip := 0
	if q.Cookie != "" {
		p.Cookie = q.Cookie
	} else if q.Offset > 0 {
		skip = q.Offset
		if p.PageSize > 0 {
			p.PageSize += skip
		}
	}
	for _, k := range q.SortKeys {
		p.SortKeys = append(p.SortKeys, store.SortKey{Field: query.Pointer{Tokens: k.Field}, Descending: k.Descending})
	}
	res, err := objs.QueryObjects(ctx, p)
	if err != nil {
		return crest.QueryResult{}, err
	}
	page := res.Objects[min(skip, len(res.Objects)):]
	out := crest.QueryResult{
		Result:                  make([]crest.Resource, len(page)),
		ResultCount:             len(page),
		TotalPagedResultsPolicy: "NONE",
		TotalPagedResults:       -1,
		RemainingPagedResults:   -1,
	}
	for i, o := range page {
		out.Result[i] = crest.Project(resourceOf(o), fields)
		if q.QueryID != "" {
			out.Result[i].Rev = ""
		}
	}
	if res.Cookie != "" {
		out.PagedResultsCookie = &res.Cookie
	}
	if p.CountTotal {
		out.TotalPagedResultsPolicy = "EXACT"
		out.TotalPagedResults = res.Total
	}
	return out, nil
}

// readCreateBody reads a create's body and its id: id, or the body's
// "_id" when id is "".
func readCreateBody(r *http.Request, id string) (map[string]any, string, error) {
	content, err := readObjectBody(r)
	if err != nil {
		return nil, "", err
	}
	if id == "" {
		id, _ = content["_id"].(string)
	}
	return content, id, nil
}

// readObjectBody reads a create or update body: one JSON object, numbers
// kept as written.
func readObjectBody(r *http.Request) (map[string]any, error) {
	body, err := crest.ReadJSON(r, crest.BodyRequired)
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(strings.NewReader(string(body)))
	d.UseNumber()
	var content map[string]any
	if err := d.Decode(&content); err != nil {
		return nil, crest.BadRequest("The request body is not a JSON object: %v", err)
	}
	return content, nil
}

// readPatch reads a patch body: a JSON array of IDM's patch operations.
func readPatch(r *http.Request) ([]managed.PatchOperation, error) {
	body, err := crest.ReadBody(r)
	if err != nil {
		return nil, err
	}
	if body == nil {
		return nil, crest.BadRequest("The request body is empty: a JSON array of patch operations is required")
	}
	ops, err := managed.ParsePatch(body)
	if err != nil {
		return nil, crest.BadRequest("%v", err)
	}
	return ops, nil
}

// resourceOf is an object as a CREST resource.
func resourceOf(o store.Object) crest.Resource {
	return crest.Resource{ID: o.ID, Rev: o.Rev, Fields: o.Content}
}

// objectError gives a store or patch error its CREST status: 404 for a
// missing object, 412 for a revision that is not If-Match's, 400 for an
// invalid request or a patch that does not apply; anything else stays a
// 500.
func objectError(err error, typ, id string) error {
	var pe *managed.PatchError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pe):
		return crest.BadRequest("%s", pe.Message)
	case errors.Is(err, store.ErrNotFound):
		return crest.NotFound("Object managed/%s/%s not found", typ, id)
	case errors.Is(err, store.ErrConflict):
		return crest.PreconditionFailed("The revision of managed/%s/%s does not match the If-Match header", typ, id)
	case errors.Is(err, store.ErrInvalid):
		return crest.BadRequest("%v", err)
	}
	return err
}
