package api

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"sundial/engine/api/crest"
	"sundial/engine/auth"
)

// TaskScans is what /openidm/taskscanner serves. Errors that are a
// *crest.Error give their status; others are a 500.
type TaskScans interface {
	// Execute starts a scan of the named schedule ("taskscan_sunset" or
	// "schedule/taskscan_sunset") and returns {"_id": run id}, at once or,
	// when the schedule says waitForCompletion, once the scan is over.
	Execute(ctx context.Context, name string) (map[string]any, error)
	// Cancel cancels a run: {"_id", "action": "cancel", "status":
	// "SUCCESS"}, or "FAILURE" for a run that is over.
	Cancel(ctx context.Context, id string) (map[string]any, error)
	// Runs lists the runs kept, oldest first, each as Run shows it.
	Runs(ctx context.Context) ([]map[string]any, error)
	// Run is one run: _id, name, progress, started, ended.
	Run(ctx context.Context, id string) (map[string]any, error)
}

// TaskScannerOptions are what NewTaskScanner needs.
type TaskScannerOptions struct {
	Scans  TaskScans
	Auth   Authenticator
	Logger *slog.Logger
}

// NewTaskScanner returns the handler of /openidm/taskscanner, with the
// authentication, permissions and audit of the scheduler's API:
// POST ?_action=execute&name=<schedule> (operate), GET ?_queryFilter=true
// (read; {"result": [...]} as CREST queries answer), GET /{id} (read),
// POST /{id}?_action=cancel (operate). Actions are matched ignoring case,
// as IDM does.
func NewTaskScanner(o TaskScannerOptions) http.Handler {
	if o.Scans == nil || o.Auth == nil {
		panic("api.NewTaskScanner: Options.Scans and Options.Auth are required")
	}
	s := subserver(o.Auth, o.Logger)
	t := &taskScanner{server: s, scans: o.Scans}
	mux := http.NewServeMux()
	mux.HandleFunc("/openidm/taskscanner", t.collection)
	mux.HandleFunc("/openidm/taskscanner/{id}", t.run)
	return s.serve(mux)
}

type taskScanner struct {
	*server
	scans TaskScans
}

func (t *taskScanner) collection(w http.ResponseWriter, r *http.Request) {
	req := state(r)
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if !req.allow(w, auth.PermRead) {
			return
		}
		if !req.params.Query.IsQuery() {
			req.writer.Error(w, crest.BadRequest("Empty resourceId"))
			return
		}
		runs, err := t.scans.Runs(r.Context())
		if err != nil {
			req.writer.Error(w, err)
			return
		}
		all := make([]crest.Resource, len(runs))
		for i, m := range runs {
			id, _ := m["_id"].(string)
			all[i] = crest.Resource{ID: id, Fields: m}
		}
		out, err := crest.Query(all, req.params.Query, req.params.Fields)
		req.reply(w, out, err)
	case http.MethodPost:
		if !strings.EqualFold(req.params.Action, "execute") {
			t.unknownTaskAction(w, req, "")
			return
		}
		if !req.allow(w, auth.PermOperate) || !t.noConditions(w, r, req) {
			return
		}
		name := req.params.Extra["name"]
		if name == "" {
			req.writer.Error(w, crest.BadRequest("The execute action needs the parameter name (the schedule's id)"))
			return
		}
		out, err := t.scans.Execute(r.Context(), name)
		req.reply(w, out, err)
	default:
		methodNotAllowed(w, r, "GET, POST")
	}
}

func (t *taskScanner) run(w http.ResponseWriter, r *http.Request) {
	req := state(r)
	id := r.PathValue("id")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if !req.allow(w, auth.PermRead) || !t.noConditions(w, r, req) {
			return
		}
		out, err := t.scans.Run(r.Context(), id)
		req.reply(w, out, err)
	case http.MethodPost:
		if !strings.EqualFold(req.params.Action, "cancel") {
			t.unknownTaskAction(w, req, id)
			return
		}
		if !req.allow(w, auth.PermOperate) || !t.noConditions(w, r, req) {
			return
		}
		out, err := t.scans.Cancel(r.Context(), id)
		req.reply(w, out, err)
	default:
		methodNotAllowed(w, r, "GET, POST")
	}
}

// unknownTaskAction is IDM's 400 for an action the path does not take.
func (t *taskScanner) unknownTaskAction(w http.ResponseWriter, req *request, id string) {
	a := req.params.Action
	switch {
	case a == "":
		req.writer.Error(w, crest.BadRequest("An action is required: _action is missing"))
	case id == "":
		req.writer.Error(w, crest.BadRequest("Unknown action: %s", a))
	default:
		req.writer.Error(w, crest.BadRequest("Action '%s' on Task '%s' not supported", a, id))
	}
}
