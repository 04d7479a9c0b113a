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
// by id (500 a page), at most maxRecords of them, and claims them in
// batches of min(100, 4×numberOfThreads), each batch one ModifyObjects
// transaction in which every object is checked against the revision the
// query read and gets started (now, ISO 8601 UTC with milliseconds) and
// completed (null), unless another scan owns it (a started younger than
// the recovery timeout). An object whose revision changed since is read
// again and claimed on its own if it still matches and is not completed.
// So two scanners, on one node or two, never both process an object, and
// an object whose scanner died is claimed again once the recovery timeout
// has passed. The claimed objects go to numberOfThreads workers; the
// script runs with input (the object as claimed), objectID
// (managed/<type>/<id>) and openidm bound to the managed objects
// (managed.Resources); exactly true is a success, anything else, a throw
// included, is a failure for that object and the scan goes on.
//
// Successes go to a completer that writes completed (if started is still
// the claim's) in batches: one transaction per 100 completions or per 5 ms,
// the last batch at the scan's end, and counts them once committed. Claims
// and scripts commit with store.WithDeferredSync (no wait for the disk);
// each completion batch commits durably, which makes every earlier commit
// durable too, so a power loss, like a crash, loses only work not yet
// counted: objects claimed and not completed, which the recovery timeout
// hands to the next scan (their scripts may then run a second time, as
// after any crash between a script and its completion).
//
// Runs are kept in memory (Runs, Run): their progress (state, processed,
// total, successes, failures), started and ended, the newest
// MaxCompletedRuns COMPLETED runs and every other run. Cancel stops the
// claiming and lets the objects claimed already finish.
package taskscanner
