package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"sundial/engine/api/crest"
	"sundial/engine/auth"
	"sundial/engine/store"
)

// Repo is what /openidm/repo serves: the collections of the store that
// IDM keeps under its repo and an operator reads or clears, such as
// liveSync's stages and dead-letter queues.
type Repo interface {
	// Collection is the store and object type that hold the collection at
	// path (under repo/, e.g. "synchronisation/pooledSyncStage"); ok is
	// false for a path that names none. Errors that are a *crest.Error
	// give their status.
	Collection(path string) (objs store.Objects, typ string, ok bool, err error)
}

// RepoOptions are what NewRepo needs.
type RepoOptions struct {
	Repo   Repo
	Auth   Authenticator
	Logger *slog.Logger
}

// NewRepo returns the handler of /openidm/repo/<collection>: GET
// ?_queryFilter=… queries it (CREST's paging, sorting and _fields; read
// permission), GET /<id> reads an object (read), DELETE /<id> deletes one
// (write permission; If-Match honoured), as IDM's repo endpoint does: a
// dead-letter queue entry handled by hand is deleted, and deleting a
// source's liveSync stage makes its next liveSync start again from the
// connector's current token.
func NewRepo(o RepoOptions) http.Handler {
	if o.Repo == nil || o.Auth == nil {
		panic("api.NewRepo: Options.Repo and Options.Auth are required")
	}
	s := subserver(o.Auth, o.Logger)
	rp := &repo{server: s, repo: o.Repo}
	mux := http.NewServeMux()
	mux.HandleFunc("/openidm/repo/{path...}", rp.serveHTTP)
	return s.serve(mux)
}

type repo struct {
	*server
	repo Repo
}

func (rp *repo) serveHTTP(w http.ResponseWriter, r *http.Request) {
	req := state(r)
	path := strings.Trim(r.PathValue("path"), "/")
	if objs, typ, ok, err := rp.repo.Collection(path); err != nil || ok {
		if err != nil {
			req.writer.Error(w, err)
			return
		}
		rp.query(w, r, req, objs, typ, path)
		return
	}
	cut := strings.LastIndexByte(path, '/')
	if cut < 0 {
		rp.notFound(w, r)
		return
	}
	objs, typ, ok, err := rp.repo.Collection(path[:cut])
	switch {
	case err != nil:
		req.writer.Error(w, err)
		return
	case !ok:
		rp.notFound(w, r)
		return
	}
	rp.object(w, r, req, objs, typ, path[:cut], path[cut+1:])
}

func (rp *repo) query(w http.ResponseWriter, r *http.Request, req *request, objs store.Objects, typ, path string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, r, "GET")
		return
	}
	if !req.allow(w, auth.PermRead) || !rp.noConditions(w, r, req) {
		return
	}
	q := req.params.Query
	if !q.IsQuery() {
		req.writer.Error(w, crest.BadRequest("A query on repo/%s needs _queryFilter or _queryId", path))
		return
	}
	out, err := queryStore(r.Context(), objs, typ, q, req.params.Fields)
	if err != nil {
		req.writer.Error(w, repoError(err, path, ""))
		return
	}
	req.writer.JSON(w, http.StatusOK, out)
}

func (rp *repo) object(w http.ResponseWriter, r *http.Request, req *request, objs store.Objects, typ, path, id string) {
	var (
		o   store.Object
		err error
	)
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if !req.allow(w, auth.PermRead) || !rp.noConditions(w, r, req) {
			return
		}
		o, err = objs.ReadObject(r.Context(), store.ReadObjectParams{Type: typ, ID: id})
	case http.MethodDelete:
		ifMatch, ok := req.writeIfMatch(w, r)
		if !ok {
			return
		}
		o, err = objs.DeleteObject(context.WithoutCancel(r.Context()), store.DeleteObjectParams{Type: typ, ID: id, IfRev: ifMatch})
		if err == nil {
			rp.Logger.Info("repo object deleted", "object", "repo/"+path+"/"+id, "client", req.principal.ClientID)
		}
	default:
		methodNotAllowed(w, r, "GET, DELETE")
		return
	}
	if err != nil {
		req.writer.Error(w, repoError(err, path, id))
		return
	}
	req.writer.Resource(w, http.StatusOK, resourceOf(o), req.params.Fields)
}

// repoError gives a store error its CREST status.
func repoError(err error, path, id string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return crest.NotFound("Object repo/%s/%s not found", path, id)
	case errors.Is(err, store.ErrConflict):
		return crest.PreconditionFailed("The revision of repo/%s/%s does not match the If-Match header", path, id)
	case errors.Is(err, store.ErrInvalid):
		return crest.BadRequest("%v", err)
	}
	return err
}
