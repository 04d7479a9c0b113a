package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"sundial/engine/actor"
	"sundial/engine/api/crest"
	"sundial/engine/auth"
	"sundial/engine/cron"
	"sundial/engine/store"
)

// Authenticator says who made a request; an error is a 401.
type Authenticator interface {
	Authenticate(r *http.Request) (auth.Principal, error)
}

// Options are what New needs.
type Options struct {
	Schedules Schedules
	Auth      Authenticator
	// Objects keeps the managed objects of /openidm/managed/<type>; nil
	// (a node without a database) answers them 501.
	Objects store.Objects
	// ManagedTypes are the types /openidm/managed serves; nil declares
	// none (every type is a 404).
	ManagedTypes ManagedTypes
	// Systems are the connectors of /openidm/system (system.go); nil
	// serves none (every system path is a 404).
	Systems Systems
	// LiveSync runs the liveSync actions of /openidm/system; nil answers
	// them as unknown actions.
	LiveSync LiveSync
	// Logger gets the audit lines and internal errors; nil is
	// slog.Default().
	Logger *slog.Logger
}

// SchedulerVersion is the resource version of /openidm/scheduler, used
// when a request names none.
var SchedulerVersion = crest.Version{Major: 2, Minor: 0}

// New returns the handler of /openidm/scheduler and
// /openidm/managed/<type> (managed.go). Every request is
// authenticated first (401 "Access Denied"), then routed; a role without
// the request's permission is a 403 "Access denied". Unknown paths are a
// CREST 404, a method a path does not take a 405. The scheduler serves
// resource version 2.0 (also when none is asked for); a request for a
// version it does not serve (1.x, 2.1, 3.0) is a 404 "Resource '<path>'
// not found", as CREST's router answers. Every request that is not a read
// is logged at info as "api write" (client, method, path, status).
//
// Schedules and Auth must be set (there is no open API): New panics
// without them.
func New(o Options) http.Handler {
	if o.Schedules == nil || o.Auth == nil {
		panic("api.New: Options.Schedules and Options.Auth are required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &server{Options: o}
	mux := http.NewServeMux()
	mux.HandleFunc("/openidm/scheduler/job", s.jobs)
	mux.HandleFunc("/openidm/scheduler/job/{id}", s.job)
	mux.HandleFunc("/openidm/scheduler/trigger", s.triggers)
	mux.HandleFunc("/openidm/scheduler/trigger/{id}", s.trigger)
	mux.HandleFunc("/openidm/managed/{type}", s.managedCollection)
	mux.HandleFunc("/openidm/managed/{type}/{id}", s.managedObject)
	mux.HandleFunc("/openidm/system", s.systemRoot)
	mux.HandleFunc("/openidm/system/{name}", s.systemConnector)
	mux.HandleFunc("/openidm/system/{name}/{type}", s.systemCollection)
	mux.HandleFunc("/openidm/system/{name}/{type}/{id}", s.systemObject)
	mux.HandleFunc("/openidm/scheduler", s.other)
	mux.HandleFunc("/openidm/scheduler/", s.other)
	return s.serve(mux)
}

// subserver is the server of a handler that lives beside New's (recon,
// task scanner, jobs, audit): the same authentication, permissions and
// audit, with slog.Default when logger is nil.
func subserver(auth Authenticator, logger *slog.Logger) *server {
	if logger == nil {
		logger = slog.Default()
	}
	return &server{Options: Options{Auth: auth, Logger: logger}}
}

// serve is mux behind s's middleware, answering CREST's 404 for every
// path mux does not route and honouring X-HTTP-Method-Override.
func (s *server) serve(mux *http.ServeMux) http.Handler {
	mux.HandleFunc("/", s.notFound)
	return crest.MethodOverride(s.middleware(mux))
}

type server struct {
	Options
}

type ctxKey struct{}

// request is what the middleware and the handlers share about one
// request.
type request struct {
	principal auth.Principal
	params    crest.Params
	version   crest.APIVersion
	// perm is the permission the handler asked for; a request that never
	// reached one is audited unless it was a GET or HEAD.
	perm    auth.Perm
	hasPerm bool
	writer  crest.Writer
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (s *server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w := &statusWriter{ResponseWriter: rw}
		req := &request{writer: crest.Writer{Logger: s.Logger}}
		defer func() {
			if v := recover(); v != nil {
				s.Logger.Error("api handler panic", "panic", v, "method", r.Method, "path", r.URL.Path)
				if w.status == 0 {
					req.writer.Error(w, errors.New("panic"))
				}
			}
			read := r.Method == http.MethodGet || r.Method == http.MethodHead
			if req.hasPerm {
				read = req.perm == auth.PermRead
			}
			if !read {
				s.Logger.Info("api write", "client", req.principal.ClientID, "method", r.Method, "path", r.URL.Path, "status", w.status)
			}
		}()
		params, perr := crest.ParseParams(r)
		req.params, req.writer.Pretty = params, params.Pretty
		if !s.authenticate(w, r, req) {
			return
		}
		if perr != nil {
			req.writer.Error(w, perr)
			return
		}
		if err := crest.RejectDateConditions(r); err != nil {
			req.writer.Error(w, err)
			return
		}
		v, err := crest.ParseAcceptAPIVersion(r)
		if err != nil {
			req.writer.Error(w, err)
			return
		}
		req.version = v
		// The client is who changes what the request changes.
		ctx := actor.With(r.Context(), actor.Actor{UserID: req.principal.ClientID, TransactionID: r.Header.Get("X-ForgeRock-TransactionId")})
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, ctxKey{}, req)))
	})
}

func (s *server) authenticate(w http.ResponseWriter, r *http.Request, req *request) bool {
	p, err := s.Auth.Authenticate(r)
	if err != nil {
		req.writer.Error(w, crest.Errorf(http.StatusUnauthorized, "Access Denied"))
		return false
	}
	req.principal = p
	return true
}

func state(r *http.Request) *request { return r.Context().Value(ctxKey{}).(*request) }

// allow records the request's permission and answers 403 when the role
// lacks it.
func (req *request) allow(w http.ResponseWriter, p auth.Perm) bool {
	req.perm, req.hasPerm = p, true
	if !req.principal.Role.Allows(p) {
		req.writer.Error(w, crest.Errorf(http.StatusForbidden, "Access denied"))
		return false
	}
	return true
}

// scheduler checks the resource version against the scheduler's and sets
// Content-API-Version.
func (req *request) scheduler(w http.ResponseWriter, r *http.Request) bool {
	if req.version.HasResource && !SchedulerVersion.Serves(req.version.Resource) {
		req.writer.Error(w, crest.NotFound("Resource '%s' not found", resourcePath(r)))
		return false
	}
	w.Header().Set("Content-API-Version", crest.ContentAPIVersion(req.version.Protocol, SchedulerVersion))
	return true
}

func resourcePath(r *http.Request) string {
	return strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/openidm"), "/")
}

func (s *server) notFound(w http.ResponseWriter, r *http.Request) {
	state(r).writer.Error(w, crest.NotFound("Resource '%s' not found", resourcePath(r)))
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	state(r).writer.Error(w, crest.Errorf(http.StatusMethodNotAllowed, "Method %s is not allowed on '%s'", r.Method, resourcePath(r)))
}

// other serves the paths under /openidm/scheduler that are neither jobs
// nor triggers: only validateQuartzCronExpression, which IDM answers on
// any of them.
func (s *server) other(w http.ResponseWriter, r *http.Request) {
	req := state(r)
	if r.Method == http.MethodPost && req.params.Action == "validateQuartzCronExpression" {
		if req.scheduler(w, r) {
			s.validateCron(w, r, req)
		}
		return
	}
	s.notFound(w, r)
}

func (s *server) validateCron(w http.ResponseWriter, r *http.Request, req *request) {
	if !req.allow(w, auth.PermRead) || !s.noConditions(w, r, req) {
		return
	}
	body, err := crest.ReadJSON(r, crest.BodyRequired)
	if err != nil {
		req.writer.Error(w, err)
		return
	}
	var in struct {
		CronExpression *string `json:"cronExpression"`
	}
	if err := json.Unmarshal(body, &in); err != nil || in.CronExpression == nil {
		req.writer.Error(w, crest.BadRequest("cronExpression is required and must be a string"))
		return
	}
	_, perr := cron.Parse(*in.CronExpression)
	req.writer.JSON(w, http.StatusOK, map[string]bool{"valid": perr == nil})
}
