package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"sundial/engine/api/crest"
	"sundial/engine/auth"
	"sundial/engine/query"
	"sundial/engine/store"
)

// Audits is what /openidm/audit serves. Errors that are a *crest.Error
// give their status; others are a 500.
type Audits interface {
	// ReconEntries calls fn with the audit/recon entries of the run
	// reconID ("" for those of every kept run), a run's in their order,
	// until fn fails.
	ReconEntries(ctx context.Context, reconID string, fn func(crest.Resource) error) error
	// ReconEntry is one audit/recon entry by its _id.
	ReconEntry(ctx context.Context, id string) (crest.Resource, error)
	// SyncEntries is the store of the audit/sync entries and their
	// object type in it.
	SyncEntries() (store.Objects, string, error)
	// ActivityEntries is the store of the audit/activity entries and
	// their object type in it.
	ActivityEntries() (store.Objects, string, error)
}

// AuditOptions are what NewAudit needs.
type AuditOptions struct {
	Audits Audits
	Auth   Authenticator
	Logger *slog.Logger
}

// NewAudit returns the handler of /openidm/audit/recon,
// /openidm/audit/sync and /openidm/audit/activity, read-only (read permission): GET ?_queryFilter=…
// (with _pageSize, _pagedResultsCookie, _pagedResultsOffset, _sortKeys,
// _fields, _totalPagedResultsPolicy) answers CREST's query envelope, GET
// /{id} one entry.
func NewAudit(o AuditOptions) http.Handler {
	if o.Audits == nil || o.Auth == nil {
		panic("api.NewAudit: Options.Audits and Options.Auth are required")
	}
	s := subserver(o.Auth, o.Logger)
	a := &audit{server: s, audits: o.Audits}
	mux := http.NewServeMux()
	mux.HandleFunc("/openidm/audit/recon", a.reconQuery)
	mux.HandleFunc("/openidm/audit/recon/{id}", a.reconEntry)
	for _, st := range []storedAudit{{"sync", o.Audits.SyncEntries}, {"activity", o.Audits.ActivityEntries}} {
		mux.HandleFunc("/openidm/audit/"+st.name, func(w http.ResponseWriter, r *http.Request) { a.storedQuery(w, r, st) })
		mux.HandleFunc("/openidm/audit/"+st.name+"/{id}", func(w http.ResponseWriter, r *http.Request) { a.storedEntry(w, r, st) })
	}
	return s.serve(mux)
}

type audit struct {
	*server
	audits Audits
}

// readable answers what a GET on the audit needs first: the method, the
// read permission, no conditions.
func (a *audit) readable(w http.ResponseWriter, r *http.Request, req *request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, r, "GET")
		return false
	}
	return req.allow(w, auth.PermRead) && a.noConditions(w, r, req)
}

// reconQuery streams the run's entries (a filter naming reconId eq "…")
// or every kept run's through the filter, holding no more than the page
// asked for (and its offset) at once, then sorts and pages what is held.
func (a *audit) reconQuery(w http.ResponseWriter, r *http.Request) {
	req := state(r)
	if !a.readable(w, r, req) {
		return
	}
	q := req.params.Query
	if !q.IsQuery() {
		req.writer.Error(w, crest.BadRequest("A query on audit/recon needs _queryFilter or _queryId"))
		return
	}
	// An empty query checks the filter, the cookie and the query id with
	// the messages of every other query.
	if _, err := crest.Query(nil, q, nil); err != nil {
		req.writer.Error(w, err)
		return
	}
	var match func(map[string]any) bool
	if q.Filter != nil {
		prog, _ := query.Compile(q.Filter) // compiled above
		m := prog.Matcher()
		match = m.Match
	}
	everything := &query.Literal{Value: true}
	keep := -1 // every match
	if q.PageSize > 0 {
		// One more than the page tells whether a next page exists.
		keep = q.Offset + q.PageSize + 1
	}
	var held []crest.Resource
	total := 0
	err := a.audits.ReconEntries(r.Context(), reconIDOf(q.Filter), func(res crest.Resource) error {
		if match != nil && !match(res.Map()) {
			return nil
		}
		total++
		held = append(held, res)
		if keep > 0 && len(held) >= 2*keep {
			top, err := crest.Query(held, crest.QueryParams{Filter: everything, SortKeys: q.SortKeys, PageSize: keep}, nil)
			if err != nil {
				return err
			}
			held = top.Result
		}
		return nil
	})
	if err != nil {
		req.writer.Error(w, err)
		return
	}
	page := q
	if page.Filter != nil {
		page.Filter = everything
	}
	out, err := crest.Query(held, page, req.params.Fields)
	if err != nil {
		req.writer.Error(w, err)
		return
	}
	if out.TotalPagedResultsPolicy == "EXACT" {
		out.TotalPagedResults = total
		out.RemainingPagedResults = max(total-q.Offset-out.ResultCount, 0)
	}
	req.writer.JSON(w, http.StatusOK, out)
}

// reconIDOf is the run a filter reads only: the value of a top-level
// `reconId eq "…"`, or of one operand of a top-level and; "" otherwise.
func reconIDOf(f query.Filter) string {
	switch f := f.(type) {
	case *query.Comparison:
		if f.Operator == query.OpEqual && f.Value.Kind == query.KindString && len(f.Field.Tokens) == 1 && f.Field.Tokens[0] == "reconId" {
			return f.Value.Str
		}
	case *query.And:
		for _, op := range f.Operands {
			if id := reconIDOf(op); id != "" {
				return id
			}
		}
	}
	return ""
}

func (a *audit) reconEntry(w http.ResponseWriter, r *http.Request) {
	req := state(r)
	if !a.readable(w, r, req) {
		return
	}
	res, err := a.audits.ReconEntry(r.Context(), r.PathValue("id"))
	if err != nil {
		req.writer.Error(w, err)
		return
	}
	req.writer.Resource(w, http.StatusOK, res, req.params.Fields)
}

// storedAudit is an audit whose entries are objects of the store: its
// name under /openidm/audit and where its entries are.
type storedAudit struct {
	name    string
	entries func() (store.Objects, string, error)
}

// storedQuery answers a query of st's entries from the store, the filter
// and the paging pushed down to it.
func (a *audit) storedQuery(w http.ResponseWriter, r *http.Request, st storedAudit) {
	req := state(r)
	if !a.readable(w, r, req) {
		return
	}
	q := req.params.Query
	if !q.IsQuery() {
		req.writer.Error(w, crest.BadRequest("A query on audit/%s needs _queryFilter or _queryId", st.name))
		return
	}
	objs, typ, err := st.entries()
	if err != nil {
		req.writer.Error(w, err)
		return
	}
	out, err := queryStore(r.Context(), objs, typ, q, req.params.Fields)
	if err != nil {
		req.writer.Error(w, auditError(err, st.name, ""))
		return
	}
	for i := range out.Result {
		out.Result[i].Rev = "" // audit entries are written once
	}
	req.writer.JSON(w, http.StatusOK, out)
}

// storedEntry reads one of st's entries.
func (a *audit) storedEntry(w http.ResponseWriter, r *http.Request, st storedAudit) {
	req := state(r)
	if !a.readable(w, r, req) {
		return
	}
	objs, typ, err := st.entries()
	if err != nil {
		req.writer.Error(w, err)
		return
	}
	id := r.PathValue("id")
	o, err := objs.ReadObject(r.Context(), store.ReadObjectParams{Type: typ, ID: id})
	if err != nil {
		req.writer.Error(w, auditError(err, st.name, id))
		return
	}
	res := resourceOf(o)
	res.Rev = ""
	req.writer.Resource(w, http.StatusOK, res, req.params.Fields)
}

// auditError gives a store error about the audit name its CREST status.
func auditError(err error, name, id string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return crest.NotFound("Audit entry audit/%s/%s not found", name, id)
	case errors.Is(err, store.ErrInvalid):
		return crest.BadRequest("%v", err)
	}
	return err
}
