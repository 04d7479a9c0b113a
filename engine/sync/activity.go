package sync

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"sundial/engine/actor"
	"sundial/engine/store"
)

// AuditActivityType is where audit/activity entries are kept: objects of
// an internal type of the objects store, one per change of a managed
// object, whose ids (UUIDv7) order them by the time they were written.
const AuditActivityType = "audit:activity"

// ActivityEnabledProperty is the boot property that turns the
// audit/activity entries on ("true"). They are off without it, unlike
// IDM's: an entry per write halves a reconciliation's creates.
const ActivityEnabledProperty = "openidm.audit.activity.enabled"

// ActivityEnabled says whether the boot properties props record
// audit/activity entries: when ActivityEnabledProperty is a true boolean.
func ActivityEnabled(props map[string]string) bool {
	on, err := strconv.ParseBool(strings.TrimSpace(props[ActivityEnabledProperty]))
	return on && err == nil
}

// The operations of audit/activity entries.
const (
	OpCreate = "CREATE"
	OpUpdate = "UPDATE"
	OpPatch  = "PATCH"
	OpDelete = "DELETE"
)

// change is one write of a managed object, as its activity entry says.
type change struct {
	op, typ, id string
	// before and after are the object's contents (nil for the side a
	// create or a delete has none); rev is the revision written.
	before, after map[string]any
	rev           string
}

// recordsActivity says whether writes of typ get audit/activity entries:
// managed types (the store's internal types have a ':'), when
// SyncedObjects.Activity says so.
func (so SyncedObjects) recordsActivity(typ string) bool {
	return so.Activity != nil && !strings.Contains(typ, ":") && so.Activity()
}

// recordActivity stores the audit/activity entries of changes, in one
// create. It runs after the writes: a failure to record is logged, never
// the write's error.
func (so SyncedObjects) recordActivity(ctx context.Context, changes []change) {
	if len(changes) == 0 {
		return
	}
	who, at := so.actor(ctx), so.timestamp()
	entries := make([]store.NewObject, len(changes))
	for i, c := range changes {
		entries[i] = store.NewObject{Content: activityEntry(who, at, c)}
	}
	// No ids: the store makes version 7 UUIDs, which order the entries by
	// time for the retention.
	if _, err := so.Objects.CreateObjects(store.WithDeferredSync(context.WithoutCancel(ctx)),
		store.CreateObjectsParams{Type: AuditActivityType, Objects: entries}); err != nil {
		logger := so.Logger
		if logger == nil {
			logger = slog.Default()
		}
		logger.Warn("recording audit/activity entries failed", "objectId", entries[0].Content["objectId"], "entries", len(entries), "err", err)
	}
}

// actor is who writes with ctx: its actor, else InitiatedBy, else
// actor.System; with a new transaction id when ctx carries none.
func (so SyncedObjects) actor(ctx context.Context) actor.Actor {
	who, _ := actor.Of(ctx)
	if who.UserID == "" {
		who.UserID = so.InitiatedBy
	}
	if who.UserID == "" {
		who.UserID = actor.System
	}
	if who.TransactionID == "" {
		if id, err := uuid.NewV7(); err == nil {
			who.TransactionID = id.String()
		}
	}
	return who
}

// timestamp is now as the audit/activity entries say it.
func (so SyncedObjects) timestamp() string {
	now := time.Now
	if so.Now != nil {
		now = so.Now
	}
	return now().UTC().Format(time.RFC3339Nano)
}

// activityEntry is the audit/activity entry of c, written by who at at.
func activityEntry(who actor.Actor, at string, c change) map[string]any {
	changed := changedFields(c.before, c.after)
	var before, after any
	if c.before != nil {
		before = c.before
	}
	if c.after != nil {
		after = c.after
	}
	return map[string]any{"eventName": "activity", "timestamp": at,
		"transactionId": who.TransactionID, "userId": who.UserID, "runAs": who.UserID,
		"objectId": "managed/" + c.typ + "/" + c.id, "operation": c.op, "before": before, "after": after,
		"changedFields": changed, "revision": c.rev, "status": "SUCCESS", "message": "",
		"passwordChanged": slices.Contains(changed, "/password")}
}

// changedFields are the top-level fields whose values differ between
// before and after (a field only one side has differs), as sorted JSON
// pointers; the object's _id and _rev are not fields.
func changedFields(before, after map[string]any) []any {
	keys := map[string]bool{}
	for k := range maps.Keys(before) {
		keys[k] = true
	}
	for k := range maps.Keys(after) {
		keys[k] = true
	}
	var out []string
	for k := range keys {
		if k == "_id" || k == "_rev" {
			continue
		}
		b, inBefore := before[k]
		a, inAfter := after[k]
		if inBefore != inAfter || !sameJSON(b, a) {
			out = append(out, "/"+pointerEscaper.Replace(k))
		}
	}
	slices.Sort(out)
	list := make([]any, len(out))
	for i, p := range out {
		list[i] = p
	}
	return list
}

// pointerEscaper escapes a field name as a JSON pointer token. One for
// every entry: a Replacer builds its tables at its first use.
var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

// withIdentity is content with its _id and _rev, a copy of the top level.
func withIdentity(content map[string]any, id, rev string) map[string]any {
	out := make(map[string]any, len(content)+2)
	maps.Copy(out, content)
	out["_id"], out["_rev"] = id, rev
	return out
}
