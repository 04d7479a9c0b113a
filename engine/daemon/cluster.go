package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
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
	host, _ := os.Hostname()
	info, _ := json.Marshal(map[string]any{"pid": os.Getpid(), "host": host, "listen": d.opts.Listen, "conf": d.opts.ConfDir})
	n, err := persist.New(persist.Options{
		PreviousGone:    previousGone,
		Has:             d.canRecover,
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

// previousGone reports whether the process that last checked in under this
// node id provably died: it ran on this host (its info's host is ours) and
// its pid is this process's own (a container restarted) or no longer
// exists. A pid that exists may be the same process or a reused pid: not
// proof, so the node waits for the other's check-in to go stale instead.
func previousGone(stored store.Node) bool {
	var info struct {
		PID  int    `json:"pid"`
		Host string `json:"host"`
	}
	if json.Unmarshal(stored.Info, &info) != nil || info.PID <= 0 || info.Host == "" {
		return false
	}
	if host, err := os.Hostname(); err != nil || host != info.Host {
		return false
	}
	return info.PID == os.Getpid() || !pidAlive(info.PID)
}

// pidAlive reports whether a process with the pid may exist on this host;
// where that cannot be told, every pid counts as alive.
func pidAlive(pid int) bool {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		return true
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return true
	}
	err = p.Signal(syscall.Signal(0))
	return !errors.Is(err, os.ErrProcessDone) && !errors.Is(err, syscall.ESRCH)
}

// canRecover reports whether runRecovery can run a run of the schedule:
// recoveries of the others are handed back for a node that can.
func (d *Daemon) canRecover(scheduleID string) bool {
	cur := d.current.Load()
	if cur == nil {
		return false
	}
	sc := cur.Schedules[scheduleID]
	return sc != nil && strings.TrimPrefix(sc.InvokeService, config.ServicePrefix) == script.ServiceName
}

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
	return d.scripts.Load().InvokeSchedule(ctx, sc.ID, sc.InvokeLogLevel, sc.InvokeContext.Map(), rc)
}
