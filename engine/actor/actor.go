// Package actor carries, in a context, who makes the changes a call
// makes: the REST client, a schedule, a reconciliation, a liveSync pass.
// The audit/activity entries of managed objects name it as their userId.
package actor

import "context"

// System is the actor of a change no caller named: the daemon's own
// work outside a request, a schedule, a recon and a liveSync pass.
const System = "system"

// Actor is who changes objects, and in which transaction.
type Actor struct {
	// UserID is the REST client's id, "schedule/<id>",
	// "recon/<reconId>", "liveSync/<source>" or "import".
	UserID string
	// TransactionID groups the changes of one request or run; "" lets
	// each write call make its own.
	TransactionID string
}

type ctxKey struct{}

// With returns ctx carrying a, which replaces the actor ctx carried.
func With(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, ctxKey{}, a)
}

// Of is the actor ctx carries, and whether it carries one.
func Of(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(ctxKey{}).(Actor)
	return a, ok
}
