// Package config turns a configuration directory into a validated,
// immutable snapshot of desired state (Desired), the only input of the
// scheduler. It owns the file formats, property resolution, JSON-Schema and
// semantic validation, and the diff between two snapshots (Plan).
//
// # What a directory holds
//
//   - schedule-<id>.json|yaml|yml: one schedule each, id <id>. Two files with
//     the same id are both errors.
//   - scheduler.json|yaml: the scheduler settings (thread count, whether this
//     node fires persisted schedules, misfire threshold, default zone).
//   - boot.properties (or boot/boot.properties, IDM's layout): properties for
//     &{key} references.
//   - sync.json, managed.json, provisioner.openicf-<name>.json: mappings,
//     managed object types, connectors. Each mapping's source, target and
//     property targets are checked against the other two (synccheck.go).
//   - scheduler-<name>.json: a legacy name; a warning asks to rename it.
//   - anything else is not Sundial's and is skipped (debug log); hidden files
//     and editor leftovers (.#x, x~, x.swp, x.bak) silently.
//
// JSON files may contain // and /* */ comments. They are parsed by a small
// positional JSON parser (yaml.v3 rejects some valid JSON, e.g. "\/", and
// ignores trailing garbage); YAML files by yaml.v3. Both give every value
// its line and column, so every problem is reported as
// "file:line:col: message" (*FileError), all problems of a file at once.
//
// # Properties
//
// Any string value may contain &{key} or &{key|default}. A key is looked up,
// first match wins, in:
//
//  1. the environment variable named after the key: upper-cased, with '.'
//     and '-' replaced by '_' (openidm.node.id → OPENIDM_NODE_ID);
//  2. boot.properties in the conf directory;
//  3. Sundial's built-in defaults for IDM's standard boot properties
//     (openidm.scheduler.execute.persistent.schedules=true, openidm.node.id =
//     the host name, openidm.port.http=8080, …);
//  4. the default written after '|'.
//
// A boot.properties value may itself contain &{key} references, resolved
// the same way (values from the environment and the defaults are taken as
// they are); a reference cycle, a chain of more than 32 references or an
// undefined key is an error at the value's boot.properties:line:col, and the
// file is not applied. (A literal &{ in a boot.properties value is written
// \\&{: the properties escape leaves \&{, which keeps it.)
//
// So the environment overrides boot.properties (12-factor style: the same
// git-synced directory runs on every node, and each node's environment says
// what differs). A key found nowhere is an error naming the key, the
// variable to set and the position. Only &{ is substituted: the task
// scanner's ${Time.now} macros are left as they are. A backslash before &{
// keeps it literally. After substitution, an object with the single key
// $bool, $int or $number ({"$bool": "&{key}"}) is replaced by the value
// converted to that type.
//
// # Script files
//
// A script "file" (or its old spelling "name") is a relative path under the
// scripts directory (LoadOptions.ScriptsDir). It is looked up as written and
// then without a leading "script/", IDM's project layout: "script/x.js" and
// "x.js" both find <scripts>/x.js. It must be a regular file that, symlinks
// resolved, stays inside the scripts directory. See ResolveScriptPath.
// With LoadOptions.CheckScript, every inline source and script file is also
// compiled, and its errors are reported at file:line:col.
//
// # Compatibility choices
//
//   - Keys that ForgeRock exports carry (_id, _rev, triggers, nextRunDate,
//     previousRunDate, and $schema for editors) are accepted and ignored;
//     any other unknown key is an error with a "did you mean" hint.
//   - A simple schedule without repeatInterval fires once (OpenIDM 5); with
//     a repeatInterval and no repeatCount it repeats forever (IDM 6.5+).
//     repeatCount -1 with repeatInterval 0 is an error.
//   - Cron increments that Quartz 2 rejects but OpenIDM's Quartz 1 accepted
//     ("0 0/60 * * * ?", found in production files) load with a warning, read
//     as Quartz 1 did ("0 0 * * * ?").
//   - An invokeService close to a known one ("scirpt", "taskScanner") is an
//     error; another unknown one is a warning, and its fires are skipped.
//   - misfirePolicy is checked for cron schedules; on a simple schedule an
//     unknown value is a warning and falls back to fireAndProceed.
//   - timeZone takes the ids IDM's Java reads, "GMT+2" included (see
//     ParseZone), where IDM itself wants the normalised "GMT+02:00".
//   - An empty schedule file (no bytes, white space or comments only, or
//     {}) is an error, so that a truncated file never removes a running
//     schedule; an empty scheduler file is an error too (it would reset
//     every setting). An empty boot.properties is fine: it defines nothing,
//     and a reference to a key it used to define is an error where it is
//     used.
//   - A file that is not a regular file (a FIFO, a socket, a device) is an
//     error for that file, found without blocking.
//   - A simple schedule repeating more often than once a second gets a
//     warning.
//
// # Reload semantics
//
// Load never fails because of a file: a file with errors contributes the
// version of its schedule found in LoadOptions.Previous (the last good
// snapshot), or nothing. Diff compares two snapshots by schedule id.
package config
