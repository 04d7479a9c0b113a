package store

import "context"

// deferredSyncKey marks a context whose writes may defer their sync.
type deferredSyncKey struct{}

// WithDeferredSync returns a context whose write transactions commit
// without waiting for the disk: each is atomic and visible at once, and
// survives the crash of the process that wrote it, but a power loss (or,
// on PostgreSQL, a crash of the server) may lose the newest of them. A
// later commit made without the mark is durable together with every
// commit before it (both backends write one log, in commit order), so a
// caller that counts work as done only after such a commit loses, on a
// power loss, only work it had not counted yet. The task scanner so runs
// its claims and scripts, and commits their completions durably.
func WithDeferredSync(ctx context.Context) context.Context {
	return context.WithValue(ctx, deferredSyncKey{}, true)
}

// DeferredSync reports whether ctx carries WithDeferredSync's mark.
func DeferredSync(ctx context.Context) bool {
	v, _ := ctx.Value(deferredSyncKey{}).(bool)
	return v
}
