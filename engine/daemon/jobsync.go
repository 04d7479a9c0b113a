package daemon

import (
	"context"
	"fmt"

	"sundial/engine/jobs"
	"sundial/engine/store"
	syncsvc "sundial/engine/sync"
)

// jobSync runs the reconciliations of jobs' synchronize and provisioning
// tasks on the node's sync service: a plan is a dry-run recon whose
// changes stay staged under its id, and the validation of a blocked task
// applies exactly that plan.
type jobSync struct{ svc *syncsvc.Service }

var _ jobs.Synchronizer = jobSync{}

// synchronizer is the sync service's adapter, nil without a store.
func (d *Daemon) synchronizer() jobs.Synchronizer {
	if d.sync == nil {
		return nil
	}
	return jobSync{d.sync}
}

// blockedPlans lists the plans blocked synchronize tasks wait on, so that
// the sync service keeps them past openidm.recon.maxcompletedruns until a
// resume applies them; nil without job tables.
func blockedPlans(db store.Store) func(context.Context) ([]string, error) {
	js, err := store.JobInstancesOf(db)
	if err != nil {
		return nil
	}
	return func(ctx context.Context) ([]string, error) {
		blocked, err := js.ListJobInstances(ctx, store.ListJobInstancesParams{State: store.JobBlocked})
		if err != nil {
			return nil, err
		}
		var ids []string
		for _, ji := range blocked {
			tasks, err := js.ListTaskInstances(ctx, ji.ID)
			if err != nil {
				return nil, err
			}
			for _, ti := range tasks {
				if ti.State == store.JobBlocked && ti.ReconID != "" {
					ids = append(ids, ti.ReconID)
				}
			}
		}
		return ids, nil
	}
}

// Plan runs mapping as a dry run.
func (j jobSync) Plan(ctx context.Context, mapping string) (jobs.SyncOutcome, error) {
	r, err := j.svc.Reconcile(ctx, syncsvc.ReconParams{Mapping: mapping, DryRun: true, InitiatedBy: "job"})
	return outcome(r, err)
}

// Apply applies the plan the dry run reconID staged.
func (j jobSync) Apply(ctx context.Context, reconID string) (jobs.SyncOutcome, error) {
	r, err := j.svc.ApplyPlan(ctx, reconID)
	return outcome(r, err)
}

// Reconcile runs mapping and applies its changes at once.
func (j jobSync) Reconcile(ctx context.Context, mapping string) (jobs.SyncOutcome, error) {
	r, err := j.svc.Reconcile(ctx, syncsvc.ReconParams{Mapping: mapping, InitiatedBy: "job"})
	return outcome(r, err)
}

// Changes lists the creates, updates and deletes the dry run reconID
// staged, in the order it planned them.
func (j jobSync) Changes(ctx context.Context, reconID string) ([]jobs.Change, error) {
	plan, err := j.svc.Plan(ctx, reconID)
	if err != nil {
		return nil, err
	}
	var out []jobs.Change
	for _, c := range plan {
		switch {
		case c.Create != nil:
			out = append(out, jobs.Change{Action: "create", ObjectID: c.TargetID, Object: c.Create})
		case c.Update != nil:
			out = append(out, jobs.Change{Action: "update", ObjectID: c.TargetID, Object: c.Update.Object})
		case c.Delete != nil:
			out = append(out, jobs.Change{Action: "delete", ObjectID: c.TargetID})
		}
	}
	return out, nil
}

// outcome is a finished run's counts; a run that failed, was canceled or
// had entries fail is an error naming the run, so the task's instance
// says where to look.
func outcome(r *syncsvc.Run, err error) (jobs.SyncOutcome, error) {
	if err != nil {
		return jobs.SyncOutcome{}, err
	}
	c := r.Counts()
	o := jobs.SyncOutcome{ReconID: r.ID, Created: c.Created, Updated: c.Updated, Deleted: c.Deleted,
		SourceTotal: c.SourceTotal, TargetTotal: c.TargetTotal}
	switch state := r.State(); {
	case state == syncsvc.StateFailed:
		return o, fmt.Errorf("reconciliation %s of %s failed: %w", r.ID, r.Mapping, r.Err())
	case state != syncsvc.StateSuccess:
		return o, fmt.Errorf("reconciliation %s of %s ended %s", r.ID, r.Mapping, state)
	case c.Failed > 0:
		return o, fmt.Errorf("reconciliation %s of %s: %d entries failed (GET /openidm/recon/%s)", r.ID, r.Mapping, c.Failed, r.ID)
	}
	return o, nil
}
