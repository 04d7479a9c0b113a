package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"sundial/engine/api"
	"sundial/engine/api/crest"
	"sundial/engine/config"
	"sundial/engine/connector"
	"sundial/engine/managed"
	"sundial/engine/scheduler"
	"sundial/engine/script"
	"sundial/engine/store"
	"sundial/engine/sync"
)

// syncServiceName is IDM's sync service, invoked with {"action":
// "reconcile"|"recon", "mapping": name} or {"action": "reconById",
// "mapping": name, "ids": id}.
const syncServiceName = "sync"

// newSyncService makes the reconciliation service over Options.DB (none
// with the memory store): the current snapshot's mappings, managed
// objects and the running connectors as the object sets, the current
// script engine.
func (d *Daemon) newSyncService() *sync.Service {
	if d.opts.DB == nil {
		return nil
	}
	objs, err := d.managedObjects()
	if err != nil {
		return nil
	}
	svc, err := sync.NewService(sync.Config{
		Store: d.opts.DB,
		Mappings: func() []*config.Mapping {
			if cur := d.current.Load(); cur != nil {
				return cur.Mappings
			}
			return nil
		},
		Resolve: func(resource string) (connector.ObjectSet, func(), error) {
			if strings.HasPrefix(resource, "system/") {
				return d.systems.Acquire(resource)
			}
			typ, ok := strings.CutPrefix(resource, "managed/")
			if !ok || strings.Contains(typ, "/") {
				return nil, nil, fmt.Errorf("%w: %s: neither managed/<type> nor system/<name>/<type>", connector.ErrNotFound, resource)
			}
			if !(managedTypes{d}).Declared(typ) {
				return nil, nil, fmt.Errorf("%w: managed/%s is not declared in managed.json", connector.ErrNotFound, typ)
			}
			return managed.NewSet(objs, typ), nil, nil
		},
		Scripts: func() *script.Engine {
			if s := d.scripts.Load(); s != nil {
				return s.Engine
			}
			return nil
		},
		ScriptsDir: d.opts.ScriptsDir,
		Resources:  managed.Resources{Objects: objs, Declared: managedTypes{d}.Declared},
		Logger:     d.log,
		KeepRuns: func() int {
			cur := d.current.Load()
			if cur == nil {
				return 0
			}
			n, _ := strconv.Atoi(cur.Properties["openidm.recon.maxcompletedruns"])
			return n
		},
		Retain: blockedPlans(d.opts.DB),
		Node:   d.nodeID,
	})
	if err != nil {
		return nil
	}
	// A run this node left ACTIVE when its process died would otherwise
	// stay ACTIVE for good.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if n, err := svc.FailInterrupted(ctx); err != nil {
		d.log.Warn("marking the reconciliations a stopped process left active failed", "err", err)
	} else if n > 0 {
		d.log.Warn("reconciliations the node's previous process left active are marked failed", "count", n)
	}
	return svc
}

// invokeSync runs a scheduled reconciliation to its end: the fire lasts
// as long as the recon, as in IDM.
func (d *Daemon) invokeSync(ctx context.Context, run scheduler.Run) error {
	if d.sync == nil {
		return errors.New("reconciliation needs the store (run with a database)")
	}
	ic := run.Schedule.InvokeContext.Map()
	action, _ := ic["action"].(string)
	params := sync.ReconParams{InitiatedBy: "schedule/" + run.Schedule.ID}
	switch action {
	case "reconcile", "recon":
	case "reconById":
		// IDM takes ids as one identifier.
		id, _ := ic["ids"].(string)
		if id == "" {
			return errors.New(`sync: reconById requires "ids", the identifier of the source object to reconcile`)
		}
		params.SourceID = id
	case "reconByQuery":
		return errors.New("sync: unknown action reconByQuery: a reconciliation by query is not supported (reconcile, recon or reconById)")
	default:
		return fmt.Errorf("sync action %q not supported (reconcile, recon or reconById)", action)
	}
	inline, err := config.InlineMapping(run.Schedule)
	if err != nil {
		return err
	}
	mapping, ok := ic["mapping"].(string)
	switch {
	case inline != nil:
		params.Inline, mapping = inline, inline.Name
	case !ok:
		return errors.New(`sync: "mapping" must name a mapping of sync.json or be a whole mapping`)
	}
	params.Mapping = mapping
	r, err := d.sync.Reconcile(ctx, params)
	if err != nil {
		return err
	}
	if r.State() != sync.StateSuccess {
		if err := r.Err(); err != nil {
			return fmt.Errorf("reconciliation %s of %s: %w", r.ID, mapping, err)
		}
		return fmt.Errorf("reconciliation %s of %s: %s", r.ID, mapping, r.State())
	}
	return nil
}

// recons serves /openidm/recon from the daemon's sync service.
type recons struct{ d *Daemon }

var _ api.Recons = recons{}

func (rc recons) service() (*sync.Service, error) {
	if rc.d.sync == nil {
		return nil, crest.Errorf(http.StatusServiceUnavailable, "Reconciliation needs the store (run with a database)")
	}
	return rc.d.sync, nil
}

func reconError(err error) error {
	switch {
	case errors.Is(err, sync.ErrNoSuchMapping):
		return crest.Conflict("No such mapping: %v", strings.TrimPrefix(err.Error(), sync.ErrNoSuchMapping.Error()+": "))
	case errors.Is(err, sync.ErrNoSuchRun):
		return crest.NotFound("%v", err)
	case errors.Is(err, store.ErrInvalid):
		return crest.BadRequest("%v", err)
	}
	return err
}

// Start starts a recon; waitForCompletion waits for it, and the recon
// goes on when the client hangs up.
func (rc recons) Start(ctx context.Context, p api.ReconStart) (map[string]any, error) {
	svc, err := rc.service()
	if err != nil {
		return nil, err
	}
	params := sync.ReconParams{Mapping: p.Mapping, DryRun: p.DryRun, InitiatedBy: p.User, SourceID: p.SourceID,
		RunTargetPhase: p.RunTargetPhase, AllowEmptySourceSet: p.AllowEmptySourceSet}
	var r *sync.Run
	if p.Wait {
		r, err = svc.Reconcile(context.WithoutCancel(ctx), params)
	} else {
		r, err = svc.Start(context.WithoutCancel(ctx), params)
	}
	if err != nil {
		return nil, reconError(err)
	}
	return map[string]any{"_id": r.ID, "state": r.State()}, nil
}

// Runs lists the kept runs.
func (rc recons) Runs(ctx context.Context) ([]map[string]any, error) {
	svc, err := rc.service()
	if err != nil {
		return nil, err
	}
	return svc.Summaries(ctx)
}

// Run is one run's summary.
func (rc recons) Run(ctx context.Context, id string) (map[string]any, error) {
	svc, err := rc.service()
	if err != nil {
		return nil, err
	}
	out, err := svc.Summary(ctx, id)
	return out, reconError(err)
}

// Cancel cancels an active run.
func (rc recons) Cancel(_ context.Context, id string) (map[string]any, error) {
	svc, err := rc.service()
	if err != nil {
		return nil, err
	}
	if err := svc.Cancel(id); err != nil {
		return nil, reconError(err)
	}
	return map[string]any{"_id": id, "action": "cancel", "status": "SUCCESS"}, nil
}

// mountRecon serves /openidm/recon on mux.
func (d *Daemon) mountRecon(mux *http.ServeMux) {
	h := api.NewRecon(api.ReconOptions{Recons: recons{d}, Auth: d.auth, Logger: d.log})
	mux.Handle("/openidm/recon", h)
	mux.Handle("/openidm/recon/", h)
}
