package jobs

import (
	"context"
	"fmt"
	"math"
	"strings"

	"sundial/engine/config"
)

// Synchronizer runs the reconciliations of synchronize and provisioning
// tasks. A plan stages its changes under SyncOutcome.ReconID until Apply
// applies them.
type Synchronizer interface {
	// Plan reconciles mapping as a dry run: its changes are staged, not
	// applied.
	Plan(ctx context.Context, mapping string) (SyncOutcome, error)
	// Apply applies the changes a Plan staged under reconID.
	Apply(ctx context.Context, reconID string) (SyncOutcome, error)
	// Reconcile plans and applies at once, thresholds ignored.
	Reconcile(ctx context.Context, mapping string) (SyncOutcome, error)
	// Changes lists the changes staged under reconID, for review.
	Changes(ctx context.Context, reconID string) ([]Change, error)
}

// SyncOutcome counts what a reconciliation planned or applied: objects
// created, updated and deleted in the target, and the objects in the
// source and in the target before it ran.
type SyncOutcome struct {
	ReconID                   string
	Created, Updated, Deleted int
	SourceTotal, TargetTotal  int
}

// Change is one staged change.
type Change struct {
	Action   string         `json:"action"` // create, update or delete
	ObjectID string         `json:"objectId"`
	Object   map[string]any `json:"object,omitempty"`
}

// exceeded returns why the outcome exceeds the thresholds ("" when it does
// not). A limit of 0 is off; a count over a limit exceeds it (reaching it
// does not); percentages are of the target's objects before the run, so
// with an empty target any change exceeds a percentage limit.
func exceeded(th config.Thresholds, o SyncOutcome) string {
	var why []string
	check := func(what string, n, limit, percent int) {
		if n == 0 {
			return
		}
		if limit > 0 && n > limit {
			why = append(why, fmt.Sprintf("%d %s > max %d", n, what, limit))
		}
		if percent > 0 {
			p := math.Inf(1)
			if o.TargetTotal > 0 {
				p = 100 * float64(n) / float64(o.TargetTotal)
			}
			if p > float64(percent) {
				why = append(why, fmt.Sprintf("%d %s = %s of %d > max %d%%", n, what, percentText(p), o.TargetTotal, percent))
			}
		}
	}
	check("inserted", o.Created, th.MaxInserted, th.MaxInsertedPercent)
	check("updated", o.Updated, th.MaxUpdated, th.MaxUpdatedPercent)
	check("deleted", o.Deleted, th.MaxDeleted, th.MaxDeletedPercent)
	return strings.Join(why, "; ")
}

func percentText(p float64) string {
	if math.IsInf(p, 1) {
		return "∞%"
	}
	return fmt.Sprintf("%.1f%%", p)
}
