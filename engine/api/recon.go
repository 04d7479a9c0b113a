package api

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"sundial/engine/api/crest"
	"sundial/engine/auth"
)

// Recons is what /openidm/recon serves. Errors that are a *crest.Error
// give their status; others are a 500.
type Recons interface {
	// Start starts a reconciliation of a mapping and returns {"_id",
	// "state"}: at once, or once it is over when Wait.
	Start(ctx context.Context, p ReconStart) (map[string]any, error)
	// Runs lists the kept runs' summaries, oldest first.
	Runs(ctx context.Context) ([]map[string]any, error)
	// Run is one run's summary.
	Run(ctx context.Context, id string) (map[string]any, error)
	// Cancel cancels a run: {"_id", "action": "cancel", "status": "SUCCESS"}.
	Cancel(ctx context.Context, id string) (map[string]any, error)
}

// ReconStart are the parameters of POST /openidm/recon?_action=recon.
type ReconStart struct {
	Mapping string
	Wait    bool // waitForCompletion
	DryRun  bool // dryRun: compute and store the plan, change nothing
	// User is the client that asked, for the audit.
	User string
}

// ReconOptions are what NewRecon needs.
type ReconOptions struct {
	Recons Recons
	Auth   Authenticator
	Logger *slog.Logger
}

// NewRecon returns the handler of /openidm/recon, with the
// authentication, permissions and audit of the scheduler's API: POST
// ?_action=recon&mapping=M[&waitForCompletion=true][&dryRun=true]
// (operate), GET (read: {"reconciliations": [...]}), GET /{id} (read),
// POST /{id}?_action=cancel (operate).
func NewRecon(o ReconOptions) http.Handler {
	if o.Recons == nil || o.Auth == nil {
		panic("api.NewRecon: Options.Recons and Options.Auth are required")
	}
	s := subserver(o.Auth, o.Logger)
	rc := &recon{server: s, recons: o.Recons}
	mux := http.NewServeMux()
	mux.HandleFunc("/openidm/recon", rc.collection)
	mux.HandleFunc("/openidm/recon/{id}", rc.run)
	return s.serve(mux)
}

type recon struct {
	*server
	recons Recons
}

func (rc *recon) collection(w http.ResponseWriter, r *http.Request) {
	req := state(r)
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if !req.allow(w, auth.PermRead) {
			return
		}
		runs, err := rc.recons.Runs(r.Context())
		if runs == nil {
			runs = []map[string]any{}
		}
		req.reply(w, map[string]any{"reconciliations": runs}, err)
	case http.MethodPost:
		a := req.params.Action
		if !strings.EqualFold(a, "recon") && !strings.EqualFold(a, "reconcile") {
			if a == "" {
				req.writer.Error(w, crest.BadRequest("An action is required: _action is missing"))
			} else {
				req.writer.Error(w, crest.BadRequest("Unknown action: %s", a))
			}
			return
		}
		if !req.allow(w, auth.PermOperate) || !rc.noConditions(w, r, req) {
			return
		}
		mapping := req.params.Extra["mapping"]
		if mapping == "" {
			req.writer.Error(w, crest.BadRequest("Reconciliation requires the parameter mapping"))
			return
		}
		p := ReconStart{Mapping: mapping, Wait: isTrue(req.params.Extra["waitForCompletion"]), DryRun: isTrue(req.params.Extra["dryRun"]),
			User: req.principal.ClientID}
		out, err := rc.recons.Start(r.Context(), p)
		req.reply(w, out, err)
	default:
		methodNotAllowed(w, r, "GET, POST")
	}
}

func (rc *recon) run(w http.ResponseWriter, r *http.Request) {
	req := state(r)
	id := r.PathValue("id")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if !req.allow(w, auth.PermRead) || !rc.noConditions(w, r, req) {
			return
		}
		out, err := rc.recons.Run(r.Context(), id)
		req.reply(w, out, err)
	case http.MethodPost:
		if !strings.EqualFold(req.params.Action, "cancel") {
			req.writer.Error(w, crest.BadRequest("Action '%s' on reconciliation '%s' not supported", req.params.Action, id))
			return
		}
		if !req.allow(w, auth.PermOperate) || !rc.noConditions(w, r, req) {
			return
		}
		out, err := rc.recons.Cancel(r.Context(), id)
		req.reply(w, out, err)
	default:
		methodNotAllowed(w, r, "GET, POST")
	}
}

func isTrue(s string) bool { return strings.EqualFold(s, "true") }
