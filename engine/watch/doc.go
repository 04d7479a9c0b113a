// Package watch owns Sundial's hot-reload trigger: it watches the conf and
// scripts directories with fsnotify and turns bursts of file-system events
// into single, debounced "reload now" signals on a channel.
//
// It reads, parses and validates nothing. engine/config does that: the daemon
// calls config.Load on each signal and skips a reload whose file hashes have
// not changed, so a spurious signal costs one no-op load. That is why the
// watcher signals on every create, write, remove and rename it sees (only
// chmod-only events are ignored) rather than guessing which files matter.
//
// A Watcher survives the ways configuration arrives on a node:
//
//   - in-place writes, write-to-temp-then-rename saves, deletions, new files;
//   - new subdirectories, watched recursively as they appear (".git"
//     directories are skipped);
//   - symlinked trees, as git-sync and Kubernetes ConfigMaps make them: every
//     symlink on the way to a watched directory, intermediate path
//     components included (conf -> ..data -> ..2026_11_22_rev, or
//     /git/link/conf with link -> rev), is tracked by watching the directory
//     that holds it. When one is replaced, typically by renaming a new
//     symlink over it, the path is resolved again and the watches move to the
//     new target before the signal goes out;
//   - the watched directory disappearing: it is watched again as soon as it
//     (or any missing component on its path) reappears, with a periodic retry
//     logged at warn as a backstop.
//
// Ping lets a liveness probe check that the watcher's goroutine still
// answers.
//
// Symlinks inside a watched tree are not followed. A ConfigMap volume watched
// directly still works: its "..data" link and the revision directory it
// points to both live in the tree.
package watch
