// Package taskscanner is the taskscanner service: IDM's task scanner,
// which on a schedule queries managed objects with a filter and runs a
// task script on each match.
//
// A scan reads its invokeContext (parseScan): scan.object (managed/<type>,
// a type managed.json declares), scan._queryFilter (its ${…} macros
// resolved once, at the scan's start, by query.ExpandMacros; or the legacy
// scan-tasks query), scan.taskState.started and .completed (JSON
// pointers), scan.recovery.timeout, numberOfThreads (default 10),
// maxRecords, waitForCompletion and task.script, numbers and booleans
// also as strings. The script is loaded once, so the whole scan runs one
// version of it.
//
// The matches are streamed: one goroutine pages through the store's query
// by id (500 a page) and hands the objects to numberOfThreads workers, at
// most maxRecords of them. A worker claims an object with one
// revision-checked ModifyObject that writes started (now, ISO 8601 UTC
// with milliseconds) and completed (null), unless another scan owns it (a
// started younger than the recovery timeout); on a lost revision race it
// reads the object again and claims it if it still matches and is not
// completed. So two scanners, on one node or two, never both process an
// object, and an object whose scanner died is claimed again once the
// recovery timeout has passed. The script runs with input (the object as
// claimed), objectID (managed/<type>/<id>) and openidm bound to the
// managed objects (managed.Resources); exactly true is a success, which
// writes completed if started is still the claim's; anything else, a throw
// included, is a failure for that object and the scan goes on.
//
// Runs are kept in memory (Runs, Run): their progress (state, processed,
// total, successes, failures), started and ended, the newest
// MaxCompletedRuns COMPLETED runs and every other run. Cancel stops the
// claiming and lets the objects in flight finish.
package taskscanner
