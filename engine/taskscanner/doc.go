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
// On a store that can (store.ObjectIndexer: PostgreSQL), a scan first
// indexes the fields its filter compares with strings (the sunset date),
// so the count and the pages read the matches through the index.
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
// (managed/<type>/<id>) and openidm bound to a unit of work over the
// managed objects (managed.Unit): its writes are buffered, its reads see
// them. Exactly true is a success; anything else, a throw included, is a
// failure for that object, which writes nothing of its task, and the scan
// goes on.
//
// A success adds the completion (completed = now, if started is still the
// claim's) to the task's unit, and the completer commits the units in
// batches (store.Objects.CommitObjectUnits): one transaction per 100
// units or per 5 ms, the last batch at the scan's end, each unit all or
// nothing (a revision conflict is that object's failure), counted once
// committed. So a task's writes and its completion are one commit: a node
// killed before it leaves the object as claimed and otherwise untouched,
// for the recovery timeout to hand to another scan, and the writes of
// every task land exactly once. Claims commit with store.WithDeferredSync
// (no wait for the disk); each completion batch commits durably, which
// makes every earlier commit durable too, so a power loss, like a crash,
// loses only work not yet counted.
//
// Every claim and every unit goes through Options.Objects, so in the
// daemon each is followed by the implicit sync of the objects it wrote
// (sync.SyncedObjects.CommitObjectUnits), the scanner's own taskState
// writes included, as IDM's task scanner writes them through the managed
// objects; a mapping that does not map taskState finds nothing to write.
// A claim whose sync fails does not run its task, and a unit whose sync
// fails stays committed: both are failures, as in IDM.
//
// Runs are kept in memory (Runs, Run) and, with Options.Runs, in the
// store: their progress (state, processed, total, successes, failures,
// node), started and ended, stored when the run starts, once a second
// while it goes on and at its end, so a restart or another node lists
// them; the newest MaxCompletedRuns COMPLETED runs are kept and every
// other run. A run its node left unfinished (killed) stays ACTIVE in the
// store, with that node, until the node starts again: its new Scanner
// marks its unfinished runs ERROR. Cancel stops the claiming and lets the
// objects claimed already finish; a run of another node is cancelled on
// that node.
package taskscanner
