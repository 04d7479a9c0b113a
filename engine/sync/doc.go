// Package sync reconciles the objects of a mapping's source set onto its
// target set as ForgeRock IDM's reconciliation does (its code, where its
// documentation differs): a source phase (each valid source object: its
// link, or a correlation, and the situation that follows), a target phase
// for the targets no source reached, the situations and their default
// actions, policies with conditions, action scripts and postAction,
// property mappings with transform, condition and default, the hook
// scripts, link qualifiers, and links kept in the store (one per source
// and per target of a link type and qualifier).
//
// Every entry goes through one code path: assess (the situation and the
// action), then plan (the concrete change: the object to create, the
// update with its property diff, the delete, the link or unlink), then
// apply. A dry run stores the plan under the run's id instead of applying
// it; ApplyPlan later applies exactly those changes, re-checking each
// target's revision, so that a target changed since the plan fails its
// entry rather than being overwritten.
//
// A run's summary has IDM's shape (stage, progress, situationSummary,
// statusSummary, durationSummary); runs, plans and audit entries
// (start, entry, summary) are kept in the store. A run is recorded with
// the node that runs it, so that a node started again marks FAILED the
// runs its dead process left ACTIVE (Service.FailInterrupted).
package sync
