package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"sundial/engine/config"
	"sundial/engine/persist"
	"sundial/engine/scheduler"
	"sundial/engine/script"
	"sundial/engine/store"
)

// newPersist makes the node's persistence and cluster membership over
// Options.DB.
func (d *Daemon) newPersist(nodeID string) (*persist.Node, error) {
	info, _ := json.Marshal(map[string]any{"pid": os.Getpid(), "listen": d.opts.Listen, "conf": d.opts.ConfDir})
	n, err := persist.New(persist.Options{
		Store:           d.opts.DB,
		NodeID:          nodeID,
		CheckInInterval: d.opts.CheckInInterval,
		NodeTimeout:     d.opts.NodeTimeout,
		Grace:           d.opts.Grace,
		Info:            info,
		Logger:          d.log,
		Registerer:      d.registry,
	})
	if err != nil {
		return nil, fmt.Errorf("set up the store: %w", err)
	}
	return n, nil
}

// Cluster returns the node's persistence and cluster membership, nil
// without Options.DB.
func (d *Daemon) Cluster() *persist.Node { return d.persist }

// appliedHash is the config version this node applied, for its check-ins.
func (d *Daemon) appliedHash() string {
	if st := d.applied.Load(); st != nil {
		return st.Hash
	}
	return ""
}

// executesPersisted is scheduler.json's executePersistentSchedules.
func (d *Daemon) executesPersisted() bool {
	if cur := d.current.Load(); cur != nil {
		return cur.Scheduler.ExecutePersistentSchedules
	}
	return true
}

// runRecovery runs again a run that a dead node, or this node's previous
// process, left running: the schedule's service with the run's fire id and
// scheduled time, and context.recovery = true, context.recoveredFrom (the
// node that died) and context.attempt (2 for the first recovery).
func (d *Daemon) runRecovery(ctx context.Context, r store.Run) error {
	var sc *config.Schedule
	if cur := d.current.Load(); cur != nil {
		sc = cur.Schedules[r.ScheduleID]
	}
	if sc == nil {
		return fmt.Errorf("schedule %s is not in this node's configuration", r.ScheduleID)
	}
	if name := strings.TrimPrefix(sc.InvokeService, config.ServicePrefix); name != script.ServiceName {
		return fmt.Errorf("schedule %s: service %q cannot run here", r.ScheduleID, sc.InvokeService)
	}
	run := scheduler.Run{
		FireID: r.ID, ScheduleID: r.ScheduleID, Schedule: sc,
		ScheduledFireTime: r.ScheduledAt, ActualFireTime: time.Now(), NodeID: d.nodeID,
	}
	rc := run.Context()
	rc["recovery"] = true
	rc["recoveredFrom"] = r.RecoveredFrom
	rc["attempt"] = r.Attempt
	return d.scripts.Load().InvokeSchedule(ctx, sc.ID, sc.InvokeLogLevel, sc.InvokeContext, rc)
}
