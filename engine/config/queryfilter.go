package config

import (
	"time"

	"sundial/engine/query"
)

// queryFilterSample is the instant ${Time.now} resolves to when a filter is
// validated; any instant gives the same syntax.
var queryFilterSample = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// queryFilters checks that the task scan's _queryFilter (or queryFilter)
// parses as the scanner will parse it when a run starts: macros expanded
// (with a sample instant and the scan's taskState pointers), then read as a
// CREST filter. A filter that does not parse is an error at the string,
// naming the character offset inside the filter. Malformed macros are
// reported by macros, so they are skipped here.
func (b *builder) queryFilters(scan *node, ptr string) {
	mc := scanMacroContext(scan)
	for _, k := range []string{"_queryFilter", "queryFilter"} {
		n := scan.get(k)
		if n == nil || n.kind != kindString {
			continue
		}
		expanded, macros, err := query.ExpandMacros(n.s, mc)
		if err != nil {
			continue
		}
		if _, err := query.Parse(expanded); err != nil {
			note := ""
			if len(macros) > 0 {
				note = " (after macro expansion)"
			}
			b.errAt(n, ptr+"/"+k, errorw(ErrInvalidValue, err, "%s: %v%s", dottedPath(ptr+"/"+k), err, note))
		}
	}
}

// scanMacroContext is what a scan's macros are checked against: a sample
// instant and the scan's taskState pointers.
func scanMacroContext(scan *node) query.MacroContext {
	ts := scan.get("taskState")
	return query.MacroContext{
		Now:                queryFilterSample,
		TaskStateStarted:   str(ts.get("started")),
		TaskStateCompleted: str(ts.get("completed")),
	}
}
