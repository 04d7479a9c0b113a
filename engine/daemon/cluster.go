package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"

	"sundial/engine/cluster"
	"sundial/engine/scheduler"
	"sundial/engine/store"
)

// newClusterNode makes the node's persistence and cluster membership over
// Options.DB. Start it once the first configuration is applied: the stored
// triggers are synced and recovery runs find their schedules.
func (d *Daemon) newClusterNode(nodeID string) (*cluster.Node, error) {
	host, _ := os.Hostname()
	info, _ := json.Marshal(map[string]any{"pid": os.Getpid(), "host": host, "listen": d.opts.Listen, "conf": d.opts.ConfDir})
	n, err := cluster.New(cluster.Options{
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
		Clock:           d.opts.Clock,
		// Called from the node's Start on, once the scheduler exists.
		Adopt:            func(states []scheduler.TriggerState) int { return d.sched.Adopt(states) },
		Recover:          d.runRecovery,
		ConfigHash:       d.appliedHash,
		ExecutePersisted: d.executesPersisted,
		OnChanges:        d.onChanges,
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

// canRecover reports whether this node can run a recovered run of the
// schedule (the scheduler has it, with a service): recoveries of the others
// are handed back for a node that can.
func (d *Daemon) canRecover(scheduleID string) bool {
	return d.sched != nil && d.sched.CanRun(scheduleID)
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

// runRecovery runs again, through the scheduler, a run that a dead node, or
// this node's previous process, left running: the schedule's service with
// the run's fire id and scheduled time, and context.recovery = true,
// context.recoveredFrom (the node that died) and context.attempt (2 for the
// first recovery).
func (d *Daemon) runRecovery(ctx context.Context, r store.Run) error {
	return d.sched.RunRecovery(ctx, scheduler.RecoveryRun{
		FireID: r.ID, ScheduleID: r.ScheduleID, ScheduledTime: r.ScheduledAt,
		RecoveredFrom: r.RecoveredFrom, Attempt: r.Attempt,
	})
}
