package taskscanner

import (
	"context"
	"fmt"
	"time"

	"sundial/engine/store"
)

// PlanParams describe a dry run of a scan.
type PlanParams struct {
	Objects       store.Objects
	InvokeContext map[string]any
	// At is the instant the macros resolve to.
	At time.Time
	// First is how many matching objects to return.
	First int
}

// Plan is what a scan would do at At, without doing it.
type Plan struct {
	Object string // managed/<type>
	Type   string
	// Filter is the query filter with its macros resolved.
	Filter string
	// Matches counts the matching objects (before maxRecords), Total the
	// ones the scan would take (after it).
	Matches, Total int
	Threads        int
	MaxRecords     int // -1: no limit
	// First are the first matches, by id. Some may be owned by another
	// scan (started within the recovery timeout), which the scan would
	// skip.
	First []store.Object
}

// DryRun reads an invokeContext, resolves its filter at p.At and queries
// the matches, changing nothing and running no script.
func DryRun(ctx context.Context, p PlanParams) (Plan, error) {
	sc, err := parseScan(p.InvokeContext, p.At)
	if err != nil {
		return Plan{}, err
	}
	out := Plan{Object: sc.object, Type: sc.typ, Filter: sc.filterText, Threads: sc.threads, MaxRecords: sc.maxRecords}
	page, err := p.Objects.QueryObjects(ctx, store.QueryObjectsParams{Type: sc.typ, Filter: sc.filter, PageSize: max(p.First, 1), CountTotal: true})
	if err != nil {
		return out, fmt.Errorf("query %s: %w", sc.object, err)
	}
	out.Matches, out.Total = page.Total, page.Total
	if sc.maxRecords >= 0 {
		out.Total = min(out.Total, sc.maxRecords)
	}
	out.First = page.Objects[:min(len(page.Objects), p.First)]
	return out, nil
}
