// Package cluster makes a node of the cluster: it connects a node's scheduler to the store and to the other
// nodes sharing it. Node implements scheduler.StateStore over a store.Store,
// and runs the node's membership of the cluster.
//
// # Firing once across the cluster
//
// Every node keeps every persisted schedule in its own scheduler, with its
// own timer. When a fire comes due, every node asks the store for it
// (AcquireFires → store.ClaimFires). The store records the run and advances
// the trigger, in one transaction, only if no node has fired the trigger past
// that fire yet. So each fire runs once. A node that loses the race continues
// from the stored state (scheduler.Adopt), unless another node holds the
// trigger blocked by its run. Claims are batched: the scheduler hands over
// many due fires at once, and one transaction carries every claim that
// arrived while the previous one ran. Run ends are batched the same way, in
// the background, except those a blocked trigger waits for.
//
// # Trigger state across restarts
//
// SyncTriggers stores the triggers of persisted schedules, keyed by schedule
// id and config hash. A restarted node continues each schedule from its
// stored state: next and previous fire, times triggered, paused, and the
// scheduler's own part of the state (store.Trigger.Data). Fires missed while
// no node ran the schedule then follow its misfire policy. Runs are recorded
// with the node that ran them; fires that did not run are recorded as
// skipped, with the reason.
//
// # Membership
//
// Start checks the node in and recovers the runs its previous process left
// running; then a loop checks in every CheckInInterval, recording the config
// hash the node applied and its clock skew against the database, and looks
// for nodes that have not checked in for NodeTimeout. A dead node's running
// recoverable runs are handed to exactly one surviving node, which runs them
// again as recovery runs (see Options.Recover); its other running runs are
// recorded as abandoned.
//
// A node fences itself: while the store fails, or its own last check-in is
// older than NodeTimeout minus CheckInInterval (so before any other node
// can declare it dead), AcquireFires refuses to fire persisted schedules. Once
// the store answers again, the node reads back every stored trigger and
// adopts them, so the fires missed meanwhile follow the misfire policy,
// exactly once across the cluster.
package cluster
