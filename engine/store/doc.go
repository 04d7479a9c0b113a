// Package store owns Sundial's persistent state behind one interface, Store,
// with one package per backend: [sundial/engine/store/sqlite] (the embedded
// default, a file under var/) and [sundial/engine/store/postgres] (a cluster of
// nodes sharing one database). The conformance suite in
// [sundial/engine/store/storetest] runs against both, so they behave the same.
//
// # What it holds
//
//   - Triggers: the state of persisted schedules (next and previous fire time,
//     times triggered, paused, the scheduler's own data, a revision).
//   - Runs: one row per fire, keyed by its fire id "<scheduleId>@<scheduled
//     time, RFC 3339 UTC>", so a fire can never be recorded twice; pruned by
//     PruneRuns' retention.
//   - Nodes: heartbeats (database time and node time, so clock skew shows),
//     the config hash each node applied, and recovery of dead nodes.
//
// Later tables (managed objects, task-scan runs, job instances) arrive as new
// numbered migrations in each backend's migrations/ directory.
//
// # The life of a persisted fire
//
//  1. UpsertTriggers stores each persisted schedule's trigger; nodes starting
//     together with the same config store it once.
//  2. Every node keeps its own timer for each persisted schedule and, when a
//     fire comes due, calls ClaimFires for that very fire. In one transaction
//     the store records the run (status running) and advances the trigger to
//     the state the node computed, only if no node has fired the trigger past
//     that fire yet (same config hash, waiting, not paused, next fire time not
//     after the fire's, fire id not recorded); the losers get the stored
//     trigger back and continue from it. A node executes a fire only after
//     ClaimFires reported it won.
//  3. FinishRuns records the outcome; it succeeds only for a run still running
//     on that node, and it unblocks a trigger that the run blocked
//     (concurrentExecution: false).
//
// A node that stops checking in is found by DeadNodes; RecoverNode then hands
// its running recoverable runs to exactly one recovering node (marked as
// recovery runs) and marks its other running runs abandoned. A run whose
// completion was recorded is never handed out again.
//
// # Opening
//
// Open picks the backend from the DSN: "" or a file path or "sqlite:<path>"
// opens SQLite, "postgres://" or "postgresql://" opens PostgreSQL. Backends
// register themselves when imported, as database/sql drivers do:
//
//	import (
//		_ "sundial/engine/store/postgres"
//		_ "sundial/engine/store/sqlite"
//	)
//
// Every method takes a context and a params struct. Times are stored with
// microsecond precision in UTC; the store truncates what it is given.
package store
