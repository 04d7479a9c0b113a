// Package jobs runs multi-step jobs (config.Job, the job-<id> files) as
// Usercube's Invoke-Job state machine does.
//
// Starting a job computes its launch plan (Plan): tasks are grouped by
// level, lower levels first (without levels, each task is its own group in
// document order), and a level with more tasks than the job's maxParallel
// is split into consecutive groups. The launch options (StartOptions)
// select tasks inside the plan: a window of launch groups (Begin, End),
// and at most one of a single task, the first task of a type, or every
// task whose id contains a text. Groups run one after the other; the
// tasks of a group run in parallel on the engine's worker pool.
//
// Before a task starts, its parents (dependsOn) that ran in the same job
// instance are checked: a parent that did not end completed (it ended in
// warning, or was skipped itself) makes the task skipped, with the reason;
// a parent the launch options left out does not. A task then ends:
//   - completed: the job goes on;
//   - errored: the job ends errored once the group's other tasks finish;
//   - warning: an error of a task with continueOnError; the job goes on
//     and ends in warning;
//   - blocked: a synchronize or generateProvisioningOrders task whose
//     planned changes exceed a threshold; nothing was applied, the changes
//     stay staged under the task instance's ReconID, and the job ends
//     blocked at that task once the group's other tasks finish.
//
// A cancel request lets running tasks finish and starts nothing more; the
// job ends cancelled. Resume continues a blocked job instance: a blocked
// synchronize task gets a validation run (its staged changes applied), a
// blocked provisioning task a forced run (thresholds ignored), each
// recorded as a task instance of its own that no job file defines; then
// the tasks that had not started run, in the same job instance.
//
// A job instance runs (and resumes) on the definition snapshotted when it
// started, whatever reloads happen meanwhile. Job and task instances are
// in the store (store.JobInstances); task instance writes commit without
// waiting for the disk (store.WithDeferredSync) and each job instance
// write durably, so a crash loses at most the task progress since the
// last group boundary, and InterruptJobInstances then marks the instance
// interrupted at the place it last recorded.
//
// Tasks run through Services (the scheduler's script, taskscanner, ...
// services, adapted by the daemon) or, for reconciliations, through a
// Synchronizer. The engine's pool has the scheduler's threadCount slots
// (Options.Workers), shared by every job of the node; a job started by a
// schedule also holds one of the scheduler's own threads while it waits
// for its tasks.
package jobs
