// Package script runs JavaScript task scripts in goja. It owns the parsing of
// an invokeContext.script block (ParseSpec), the resolution of script files
// under the scripts directory, a cache of compiled programs keyed by content,
// the standard bindings scripts see, and the timeout and cancellation of a
// run.
//
// # Runs
//
// Every Run gets a fresh goja.Runtime, so nothing a script does (global
// variables, changes to built-in prototypes, replaced bindings) can be seen by
// a later run. goja cannot reset a runtime to a pristine state, so a pool
// could not guarantee that; and a fresh runtime is cheap: goja builds its
// built-ins lazily, and so does this package (the members of logger, java,
// ... are made on first use). A whole run of a small task script costs
// 15-25µs and 92 allocations on a 2-core machine (BenchmarkRun).
//
// Compiled programs (*goja.Program) are immutable and shared by all runs. They
// are cached, least recently used first out, by the SHA-256 of the script's
// name and source. A spec's file is read at every run, so an edited file is
// recompiled and used from the next run on, and an unchanged file is a cache
// hit. Load reads a file once, for validation and for a task scan that runs
// one version of the script for every object.
//
// InvokeSchedule adapts the engine to the scheduler's script service.
//
// # Script files
//
// A spec's file is a slash-separated path relative to Config.ScriptsDir,
// found by the rules of config.ResolveScriptPath: it is first tried as given;
// if that does not exist and the path starts with "script/", it is tried
// again without that prefix. So with ScriptsDir "scripts", both
// "script/testlog.js" (the ForgeRock layout, where the project has a "script"
// directory) and "testlog.js" name "scripts/testlog.js". Absolute paths and
// paths that climb out of the directory with ".." are rejected; the directory
// is opened as an os.Root, so a symbolic link cannot lead a script path out
// of it either. The file must be a regular file (a FIFO is an error, never a
// wait) of at most MaxScriptSize (1 MiB, the cap on configuration files);
// inline sources have the same cap.
//
// Check compiles a script exactly as a run would, for validation: its error
// gives the line and column through Position.
//
// # Bindings
//
// Every script sees:
//
//   - logger.trace|debug|info|warn|error(message, ...params): SLF4J-style
//     logging through the Config.Logger, with "{}" placeholders replaced by the
//     params in order (a backslash makes a placeholder literal: \{}). Plain
//     objects and arrays are formatted as JSON (SLF4J would print
//     "[object Object]"), everything else as JavaScript's String(value).
//     Every record carries the attribute
//     logger=org.forgerock.script.javascript.JavaScript.<Request.Name>.
//     Messages below Request.LogLevel (the schedule's invokeLogLevel: trace,
//     debug, info, warn, error or fatal; fatal lets only error through) are
//     dropped. Trace records use LevelTrace. Note that IDM applies
//     invokeLogLevel only to the scheduler's own log lines; Sundial also uses it
//     as the script logger's threshold.
//   - identityServer.getProperty(name[, default[, useCache]]): Config.Properties
//     (the boot properties, including openidm.node.id); the default, or null,
//     when the property is not set. useCache is accepted and ignored.
//   - identityServer.getInstallLocation(), getProjectLocation(),
//     getWorkingLocation(): the properties launcher.install.location,
//     launcher.project.location and launcher.working.location when set;
//     otherwise the daemon's working directory, the same, and <project>/var.
//   - console.log(...values) and java.lang.System.out.println(value): one line
//     on Config.Stdout (or an info record on the logger when Stdout is nil).
//   - java.lang.System.currentTimeMillis() and java.util.Date (an alias of
//     Date), so that ForgeRock example scripts run unchanged.
//   - java.lang.Thread.sleep(millis): blocks the run without using the CPU,
//     until the time has passed or the run is interrupted (its timeout or
//     the scheduler stopping).
//   - The spec's Bindings (the extra keys of the script block, such as
//     "input": {"edit": 26}), then its Globals, then Request.Bindings (for the
//     scheduler: context and object; for the task scanner: input and objectID),
//     each as a global variable; a later source wins over an earlier one. Values
//     are deep-copied into native JavaScript values, so a script cannot change
//     the configuration it was given; a time.Time becomes an ISO-8601 string in
//     UTC with milliseconds.
//
// There is no require, module, process, fs, fetch, setTimeout or any other
// access to files, network or processes: goja provides none, and this package
// adds none. Source maps are disabled, so a "//# sourceMappingURL=" comment
// cannot make the parser read a file either.
//
// # Errors
//
// A failed run returns an *Error naming the script and, when known, the line
// and column: a syntax error ("script/x.js:2:5: syntax error: ..."), an
// uncaught exception ("script/x.js:3:7: TypeError: ..."), a timeout
// (ErrTimeout: "script/x.js:1:8: script timed out after 30s", with a position
// in the code that was running when it was interrupted), a cancelled
// context (ErrInterrupted), the memory limit (ErrMemoryLimit: "inline:1:23:
// script exceeded its memory limit of 64 MiB") or the memory ceiling
// (ErrMemoryCeiling, before the script starts: no room under the ceiling
// within the run's timeout). A bad script block is a *SpecError naming the
// key.
//
// # Memory
//
// A run may grow the heap by its memory limit (the script block's
// memoryLimit, else Config.DefaultMemoryLimit, else 64 MiB); the runs going
// at once may together reserve at most the ceiling of the MemoryGuard they
// share (4 GiB by default), and a run that does not fit waits for room. goja has no heap limit, so the guard samples the
// Go heap while runs go and interrupts the run that grew it too much; see
// MemoryGuard for what is measured and the README's "Script limits" for the
// overshoot measured per allocation pattern.
//
// The timeout and the memory limit interrupt JavaScript code only: a single
// call into a long-running native function (a pathological regular
// expression, a huge string or array operation) finishes before the
// interrupt is seen, and a single native call can allocate any amount
// ("x".repeat(1e9) is 1 GB at once).
package script
