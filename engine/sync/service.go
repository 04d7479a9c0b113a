package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	stdsync "sync"
	"time"

	"github.com/google/uuid"

	"sundial/engine/actor"
	"sundial/engine/config"
	"sundial/engine/connector"
	"sundial/engine/script"
	"sundial/engine/store"
)

// ErrNoSuchMapping is wrapped by the error of a recon of a mapping that
// sync.json does not declare (IDM's 409 "No such mapping").
var ErrNoSuchMapping = errors.New("no such mapping")

// ErrNoSuchRun is wrapped by the error about an unknown recon id.
var ErrNoSuchRun = errors.New("no such reconciliation")

// Config configures a Service.
type Config struct {
	// Store holds links, runs, plans and audit entries.
	Store store.Store
	// Mappings returns the mappings of the conf directory now.
	Mappings func() []*config.Mapping
	// Resolve returns the object set of a resource name ("managed/user",
	// "system/csv/account") and the function that releases it at the end
	// of the run (nil: nothing to release).
	Resolve func(resource string) (connector.ObjectSet, func(), error)
	// Scripts returns the engine that runs the mappings' scripts now (nil:
	// an engine of the Service's own); ScriptsDir is where their files
	// are.
	Scripts    func() *script.Engine
	ScriptsDir string
	// Resources serves the scripts' openidm.*; nil: none.
	Resources script.Resources
	// Now is the clock; nil is time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// KeepRuns returns how many completed runs are kept (IDM's
	// openidm.recon.maxcompletedruns), read at each run's end; nil or 0
	// is 100.
	KeepRuns func() int
	// Retain returns the ids of the runs whose plans must outlive
	// KeepRuns (the plans blocked jobs wait on); nil: none. While one is
	// named, the runs that ended after it are kept too.
	Retain func(ctx context.Context) ([]string, error)
	// Node is the id of the node that runs the Service's recons, recorded
	// in each run's summary (Sundial's "node"), so that FailInterrupted
	// finds the runs a dead process of this node left ACTIVE.
	Node string
}

// Service runs reconciliations.
type Service struct {
	cfg    Config
	recons store.Recons
	own    *script.Engine // without Config.Scripts

	mu     stdsync.Mutex
	active map[string]*Run
}

// NewService returns a Service over cfg.
func NewService(cfg Config) (*Service, error) {
	r, err := store.ReconsOf(cfg.Store)
	if err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	own := script.New(script.Config{ScriptsDir: cfg.ScriptsDir, Logger: cfg.Logger})
	return &Service{cfg: cfg, recons: r, active: map[string]*Run{}, own: own}, nil
}

// scripts is the engine to run a script with now.
func (s *Service) scripts() *script.Engine {
	if s.cfg.Scripts != nil {
		if e := s.cfg.Scripts(); e != nil {
			return e
		}
	}
	return s.own
}

// ReconParams start a reconciliation.
type ReconParams struct {
	// Mapping is the name of a mapping of sync.json, unless Inline is
	// set.
	Mapping string
	// Inline is a mapping a schedule writes whole in its invokeContext
	// (config.InlineMapping); the run is listed under its name.
	Inline *config.Mapping
	// DryRun computes and stores the plan without changing anything.
	DryRun bool
	// ID is the run's id; "" for a new UUID.
	ID string
	// SourceID makes the run IDM's reconById: the source phase
	// reconciles this one source object (gone, it is assessed as a
	// deleted source: SOURCE_MISSING, LINK_ONLY or ALL_GONE), and the
	// target phase runs only when RunTargetPhase says so. "" reconciles
	// the whole source set.
	SourceID string
	// RunTargetPhase and AllowEmptySourceSet override the mapping's when
	// not nil (IDM's request overrides).
	RunTargetPhase      *bool
	AllowEmptySourceSet *bool
	// InitiatedBy names who started the run, for the audit's start entry.
	InitiatedBy string
}

// Reconcile runs a reconciliation of one mapping to its end and returns
// the run. An error is returned for a run that could not start (an
// unknown mapping); a run that started and failed is returned with state
// FAILED.
func (s *Service) Reconcile(ctx context.Context, p ReconParams) (*Run, error) {
	r, err := s.Start(ctx, p)
	if err != nil {
		return nil, err
	}
	r.wait(ctx)
	return r, nil
}

// Start starts a reconciliation and returns at once; the run ends by
// itself (Run.Done), or when canceled.
func (s *Service) Start(ctx context.Context, p ReconParams) (*Run, error) {
	m := p.Inline
	if m == nil {
		var err error
		if m, err = s.mapping(p.Mapping); err != nil {
			return nil, err
		}
	}
	id := p.ID
	if id == "" {
		id = uuid.NewString()
	}
	r := s.newRun(id, m, p)
	r.ctx = actor.With(r.ctx, reconActor(r.ID))
	if err := s.register(ctx, r); err != nil {
		return nil, err
	}
	go s.finish(r, func(rctx context.Context) error { return s.reconcile(rctx, r, m) })
	return r, nil
}

// ApplyPlan applies the plan a dry run stored, and returns the new run
// that applied it (its own id; its parameters name the plan's run).
func (s *Service) ApplyPlan(ctx context.Context, reconID string) (*Run, error) {
	planned, err := s.recons.ReadReconRun(ctx, reconID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("apply the plan of %s: %w", reconID, ErrNoSuchRun)
		}
		return nil, err
	}
	var sum struct {
		DryRun   bool   `json:"dryRun"`
		State    string `json:"state"`
		Progress struct {
			Source struct {
				Existing struct {
					Total any `json:"total"`
				} `json:"existing"`
			} `json:"source"`
			Target struct {
				Existing struct {
					Total any `json:"total"`
				} `json:"existing"`
			} `json:"target"`
		} `json:"progress"`
	}
	_ = json.Unmarshal(planned.Summary, &sum)
	if !sum.DryRun || sum.State != StateSuccess {
		return nil, fmt.Errorf("apply the plan of %s: %w: the run is not a completed dry run (state %s)", reconID, store.ErrInvalid, sum.State)
	}
	m, err := s.mapping(planned.Mapping)
	if err != nil {
		return nil, err
	}
	r := s.newRun(uuid.NewString(), m, ReconParams{Mapping: m.Name})
	r.planOf = reconID
	r.ctx = actor.With(r.ctx, reconActor(r.ID))
	// The plan's set sizes are those the thresholds compare with.
	if n, ok := sum.Progress.Source.Existing.Total.(float64); ok {
		r.counts.SourceTotal = int(n)
	}
	if n, ok := sum.Progress.Target.Existing.Total.(float64); ok {
		r.counts.TargetTotal = int(n)
	}
	if err := s.register(ctx, r); err != nil {
		return nil, err
	}
	go s.finish(r, func(rctx context.Context) error { return s.applyPlan(rctx, r, m, reconID) })
	r.wait(ctx)
	return r, nil
}

// reconActor is who changes what a recon run changes: the run, whoever
// started it (its audit/recon start entry names them).
func reconActor(reconID string) actor.Actor {
	return actor.Actor{UserID: "recon/" + reconID, TransactionID: reconID}
}

func (s *Service) mapping(name string) (*config.Mapping, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: no mapping given", store.ErrInvalid)
	}
	if s.cfg.Mappings != nil {
		for _, m := range s.cfg.Mappings() {
			if m.Name == name {
				return m, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrNoSuchMapping, name)
}

// register records the new run as active in memory and in the store.
func (s *Service) register(ctx context.Context, r *Run) error {
	if err := s.recons.PutReconRun(ctx, r.record()); err != nil {
		return err
	}
	s.mu.Lock()
	s.active[r.ID] = r
	s.mu.Unlock()
	return nil
}

// FailInterrupted marks FAILED the runs the store holds as ACTIVE that
// this node started and this Service does not run: a process of this node
// that ended without finishing them (kill -9, a crash, a lost machine).
// Call it when the node starts, before it starts recons. The node ids of
// a cluster are distinct, so another node's runs are left alone; a run
// recorded without a node (by an older version) counts as this node's. It
// returns how many runs it marked.
func (s *Service) FailInterrupted(ctx context.Context) (int, error) {
	recs, err := s.recons.ListReconRuns(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, rec := range recs {
		if rec.State != StateActive {
			continue
		}
		s.mu.Lock()
		_, running := s.active[rec.ID]
		s.mu.Unlock()
		var sum map[string]any
		if running || json.Unmarshal(rec.Summary, &sum) != nil {
			continue
		}
		if node, _ := sum["node"].(string); node != "" && node != s.cfg.Node {
			continue
		}
		now := s.cfg.Now()
		sum["state"], sum["stage"] = StateFailed, "COMPLETED_FAILED"
		sum["stageDescription"] = stageDescriptions["COMPLETED_FAILED"]
		sum["ended"] = now.UTC().Format(time.RFC3339Nano)
		sum["duration"] = now.Sub(rec.Started).Milliseconds()
		sum["error"] = fmt.Sprintf("interrupted: node %s stopped during the run; it was marked failed when the node started again", s.cfg.Node)
		raw, err := json.Marshal(sum)
		if err != nil {
			return n, err
		}
		rec.State, rec.Ended, rec.Summary = StateFailed, now, raw
		if err := s.recons.PutReconRun(ctx, rec); err != nil {
			return n, err
		}
		s.cfg.Logger.Warn("reconciliation interrupted by the node's stop: marked failed", "recon", rec.ID, "mapping", rec.Mapping)
		n++
	}
	return n, nil
}

// finish runs body under the run's own context and records the outcome.
func (s *Service) finish(r *Run, body func(ctx context.Context) error) {
	defer close(r.done)
	err := body(r.ctx)
	r.release()
	r.mu.Lock()
	r.ended = s.cfg.Now()
	switch {
	case r.ctx.Err() != nil:
		r.state, r.stage = StateCanceled, "COMPLETED_CANCELED"
	case err != nil:
		r.state, r.stage, r.err = StateFailed, "COMPLETED_FAILED", err
	default:
		r.state, r.stage = StateSuccess, "COMPLETED_SUCCESS"
	}
	r.mu.Unlock()
	if err != nil {
		s.cfg.Logger.Error("reconciliation failed", "recon", r.ID, "mapping", r.Mapping, "err", err)
	}
	// The outcome must outlive a canceled run's context.
	ctx := context.WithoutCancel(r.ctx)
	r.audit(ctx, s, map[string]any{"entryType": "summary", "status": statusOf(r.State() == StateSuccess), "message": r.situationMessage(),
		"messageDetail": r.Summary()})
	if err := r.flush(ctx, s); err != nil {
		s.cfg.Logger.Error("recording a reconciliation's entries failed", "recon", r.ID, "err", err)
	}
	if err := s.recons.PutReconRun(ctx, r.record()); err != nil {
		s.cfg.Logger.Error("recording a reconciliation failed", "recon", r.ID, "err", err)
	}
	s.mu.Lock()
	delete(s.active, r.ID)
	s.mu.Unlock()
	r.cancel()
	s.prune(ctx)
}

// prune deletes the completed runs past the newest KeepRuns, keeping
// every run from the oldest one Config.Retain names.
func (s *Service) prune(ctx context.Context) {
	before := s.cfg.Now().Add(time.Second)
	keep, err := s.keepNewest(ctx, before)
	if err != nil {
		s.cfg.Logger.Warn("pruning old reconciliations skipped: cannot tell which plans to retain", "err", err)
		return
	}
	if _, err := s.recons.DeleteReconRuns(ctx, store.DeleteReconRunsParams{EndedBefore: before, KeepNewest: keep}); err != nil {
		s.cfg.Logger.Warn("pruning old reconciliations failed", "err", err)
	}
}

// keepRuns is Config.KeepRuns now.
func (s *Service) keepRuns() int {
	if s.cfg.KeepRuns != nil {
		if n := s.cfg.KeepRuns(); n > 0 {
			return n
		}
	}
	return 100
}

// keepNewest is how many of the runs that ended before the time before,
// newest first as DeleteReconRuns counts them, must stay so that KeepRuns
// do and so does every retained one.
func (s *Service) keepNewest(ctx context.Context, before time.Time) (int, error) {
	keep := s.keepRuns()
	if s.cfg.Retain == nil {
		return keep, nil
	}
	ids, err := s.cfg.Retain(ctx)
	if err != nil || len(ids) == 0 {
		return keep, err
	}
	recs, err := s.recons.ListReconRuns(ctx)
	if err != nil {
		return 0, err
	}
	ended := recs[:0]
	for _, rec := range recs {
		if !rec.Ended.IsZero() && rec.Ended.Before(before) {
			ended = append(ended, rec)
		}
	}
	slices.SortFunc(ended, func(a, b store.ReconRun) int {
		if c := b.Ended.Compare(a.Ended); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	for i, rec := range ended {
		if slices.Contains(ids, rec.ID) {
			keep = max(keep, i+1)
		}
	}
	return keep, nil
}

// Cancel cancels an active run.
func (s *Service) Cancel(id string) error {
	s.mu.Lock()
	r := s.active[id]
	s.mu.Unlock()
	if r == nil {
		return fmt.Errorf("cancel %s: %w", id, ErrNoSuchRun)
	}
	r.Cancel()
	return nil
}

// Summary returns a run's summary: from memory while it is active, else
// from the store.
func (s *Service) Summary(ctx context.Context, id string) (map[string]any, error) {
	s.mu.Lock()
	r := s.active[id]
	s.mu.Unlock()
	if r != nil {
		return r.Summary(), nil
	}
	rec, err := s.recons.ReadReconRun(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%s: %w", id, ErrNoSuchRun)
	}
	if err != nil {
		return nil, err
	}
	return decodeSummary(rec)
}

// Summaries returns every kept run's summary, oldest first, from the one
// listing of the store (an active run's from memory).
func (s *Service) Summaries(ctx context.Context) ([]map[string]any, error) {
	recs, err := s.recons.ListReconRuns(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(recs))
	for _, rec := range recs {
		s.mu.Lock()
		r := s.active[rec.ID]
		s.mu.Unlock()
		if r != nil {
			out = append(out, r.Summary()) // fresher than its stored record
			continue
		}
		m, err := decodeSummary(rec)
		if err != nil {
			continue // listed as before: a summary that does not decode is left out
		}
		out = append(out, m)
	}
	return out, nil
}

// decodeSummary is a stored run's summary.
func decodeSummary(rec store.ReconRun) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal(rec.Summary, &m); err != nil {
		return nil, fmt.Errorf("recon %s: summary: %w", rec.ID, err)
	}
	return m, nil
}

// Audit returns a run's audit entries, in order.
func (s *Service) Audit(ctx context.Context, id string) ([]map[string]any, error) {
	var out []map[string]any
	err := s.recons.ReadReconEntries(ctx, store.ReadReconEntriesParams{ReconID: id, Kind: store.ReconAudit}, func(e store.ReconEntry) error {
		var m map[string]any
		if err := json.Unmarshal(e.Doc, &m); err != nil {
			return err
		}
		out = append(out, m)
		return nil
	})
	return out, err
}

// Plan returns a dry run's planned changes, in order.
func (s *Service) Plan(ctx context.Context, id string) ([]Change, error) {
	var out []Change
	err := s.recons.ReadReconEntries(ctx, store.ReadReconEntriesParams{ReconID: id, Kind: store.ReconPlan}, func(e store.ReconEntry) error {
		var c Change
		if err := json.Unmarshal(e.Doc, &c); err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

// wait waits for the run's end; ctx ending cancels the run first.
func (r *Run) wait(ctx context.Context) {
	select {
	case <-r.done:
	case <-ctx.Done():
		r.Cancel()
		<-r.done
	}
}
