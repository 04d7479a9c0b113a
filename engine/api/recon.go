package api

import (
	"context"
	"encoding/json"
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
	// SourceID is reconById's ids: the one source object to reconcile
	// ("" for a whole recon).
	SourceID string
	// RunTargetPhase and AllowEmptySourceSet are the body's overrides of
	// the mapping's (nil: the mapping's, or reconById's default).
	RunTargetPhase, AllowEmptySourceSet *bool
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
// and ?_action=reconById&mapping=M&ids=ID (operate), GET (read: {"reconciliations": [...]}), GET /{id} (read),
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
		byID := strings.EqualFold(a, "reconById")
		switch {
		case a == "":
			req.writer.Error(w, crest.BadRequest("An action is required: _action is missing"))
			return
		case strings.EqualFold(a, "reconByQuery"):
			// IDM declares it and refuses it when the run starts.
			req.writer.Error(w, crest.BadRequest("Unknown action: %s: a reconciliation by query is not supported (recon, reconcile or reconById)", a))
			return
		case !byID && !strings.EqualFold(a, "recon") && !strings.EqualFold(a, "reconcile"):
			req.writer.Error(w, crest.BadRequest("Unknown action: %s", a))
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
		if err := readReconOverrides(r, &p); err != nil {
			req.writer.Error(w, err)
			return
		}
		if byID {
			// IDM takes ids as one identifier.
			if p.SourceID = req.params.Extra["ids"]; p.SourceID == "" {
				req.writer.Error(w, crest.BadRequest("Action reconById requires a parameter 'ids' with the identifier(s) to reconcile"))
				return
			}
		}
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

// readReconOverrides reads the optional body of a recon request: IDM's
// overrides of the mapping's runTargetPhase and allowEmptySourceSet.
func readReconOverrides(r *http.Request, p *ReconStart) error {
	body, err := crest.ReadJSON(r, crest.BodyOptional)
	if err != nil || body == nil {
		return err
	}
	var o struct {
		RunTargetPhase      *bool `json:"runTargetPhase"`
		AllowEmptySourceSet *bool `json:"allowEmptySourceSet"`
	}
	if err := json.Unmarshal(body, &o); err != nil {
		return crest.BadRequest("The request body is not a recon's overrides (runTargetPhase, allowEmptySourceSet): %v", err)
	}
	p.RunTargetPhase, p.AllowEmptySourceSet = o.RunTargetPhase, o.AllowEmptySourceSet
	return nil
}

func isTrue(s string) bool { return strings.EqualFold(s, "true") }
