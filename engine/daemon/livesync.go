package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"sundial/engine/api"
	"sundial/engine/api/crest"
	"sundial/engine/config"
	"sundial/engine/scheduler"
	"sundial/engine/store"
	"sundial/engine/sync"
	"sundial/engine/system"
)

// provisionerServiceName is IDM's provisioner service, invoked with
// {"action": "liveSync"|"activeSync", "source": "system/<name>/<type>"}.
const provisionerServiceName = "provisioner"

// managedObjects are the database's managed objects as every writer of
// the daemon writes them: through implicit sync, so that each create,
// update and delete runs the mappings whose source is its managed type.
// Nil without Options.DB.
func (d *Daemon) managedObjects() (store.Objects, error) {
	objs, err := d.syncedObjects()
	if err != nil {
		return nil, err
	}
	return objs, nil
}

// syncedObjects are managedObjects as what they are.
func (d *Daemon) syncedObjects() (sync.SyncedObjects, error) {
	if d.opts.DB == nil {
		return sync.SyncedObjects{}, errors.New("no database")
	}
	objs, err := store.ObjectsOf(d.opts.DB)
	if err != nil {
		return sync.SyncedObjects{}, err
	}
	return sync.SyncedObjects{Objects: objs, Service: func() *sync.Service { return d.sync }, Node: d.nodeID,
		Activity: d.activityEnabled, Now: d.opts.Clock.Now, Logger: d.log}, nil
}

// syncPendingWait bounds the implicit syncs a start runs for the task
// scans its node's previous process committed and did not sync.
const syncPendingWait = time.Minute

// syncPending runs, before the scheduler starts, the implicit syncs that
// this node's previous process committed the writes of (a task scan's
// units) but was stopped before running (sync.SyncedObjects.SyncPending).
// What does not finish in syncPendingWait is left for the next start.
func (d *Daemon) syncPending(ctx context.Context) {
	objs, err := d.syncedObjects()
	if err != nil || d.sync == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, syncPendingWait)
	defer cancel()
	done, err := objs.SyncPending(ctx)
	for _, f := range done.Failed {
		d.log.Warn("an implicit sync the node's previous process left pending failed", "err", f)
	}
	if err != nil {
		d.log.Warn("running the implicit syncs the node's previous process left pending stopped; the rest waits for the next start", "synced", done.Synced, "err", err)
	} else if done.Synced > 0 {
		d.log.Warn("ran the implicit syncs the node's previous process left pending", "objects", done.Synced, "failed", len(done.Failed))
	}
}

// liveSync runs one liveSync pass of source with its provisioner's
// syncFailureHandler.
func (d *Daemon) liveSync(ctx context.Context, source string, detailed bool) (map[string]any, error) {
	if d.sync == nil {
		return nil, errors.New("liveSync needs the store (run with a database)")
	}
	name, _, err := system.ParseResource(source)
	if err != nil {
		return nil, err
	}
	handler := config.SyncFailureHandler{MaxRetries: -1}
	if cur := d.current.Load(); cur != nil {
		if p := cur.Provisioners[name]; p != nil {
			handler = p.SyncFailureHandler
		}
	}
	return d.sync.LiveSync(ctx, sync.LiveSyncParams{Source: source, Handler: handler, DetailedFailure: detailed})
}

// invokeProvisioner runs a scheduled liveSync pass; a pass that stopped
// at a change to retry fails the fire.
func (d *Daemon) invokeProvisioner(ctx context.Context, run scheduler.Run) error {
	ic := run.Schedule.InvokeContext.Map()
	action, _ := ic["action"].(string)
	if action != "liveSync" && action != "activeSync" {
		return fmt.Errorf("provisioner action %q not supported (liveSync or activeSync)", action)
	}
	source, _ := ic["source"].(string)
	if !strings.HasPrefix(source, "system/") {
		return fmt.Errorf(`provisioner: "source" must name system/<name>/<type>, got %q`, source)
	}
	_, err := d.liveSync(ctx, source, false)
	return err
}

// liveSyncs serve the liveSync actions of /openidm/system.
type liveSyncs struct{ d *Daemon }

var _ api.LiveSync = liveSyncs{}

// LiveSync answers the stage, a pass that stopped at a failed change
// included (its lastException says so), as IDM does.
func (l liveSyncs) LiveSync(ctx context.Context, source string, detailed bool) (map[string]any, error) {
	if l.d.sync == nil {
		return nil, crest.Errorf(http.StatusServiceUnavailable, "liveSync needs the store (run with a database)")
	}
	stage, err := l.d.liveSync(context.WithoutCancel(ctx), source, detailed)
	if errors.Is(err, sync.ErrChangeFailed) {
		return stage, nil
	}
	return stage, err
}
