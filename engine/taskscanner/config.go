package taskscanner

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"sundial/engine/config"
	"sundial/engine/query"
	"sundial/engine/script"
)

// DefaultThreads is numberOfThreads when the invokeContext has none.
const DefaultThreads = 10

// scan is one invokeContext, read and checked, with its filter resolved
// at the scan's instant.
type scan struct {
	object                     string // managed/<type>
	typ                        string
	filterText                 string // after macro expansion
	filter                     query.Filter
	started                    query.Pointer
	completed                  query.Pointer
	startedText, completedText string
	recovery                   time.Duration
	threads                    int
	maxRecords                 int // < 0: no limit
	wait                       bool
	spec                       script.Spec
}

// ErrConfig is an invokeContext the task scanner cannot run.
var ErrConfig = errors.New("invalid task scan")

func configErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
}

// parseScan reads an invokeContext: waitForCompletion, numberOfThreads,
// maxRecords (numbers and booleans also as strings), scan.object,
// scan._queryFilter (or queryFilter, or the legacy _queryId / _query-id
// "scan-tasks" with scan.property and scan.condition.before, read as the
// filter "<property> lt <before> and !(<completed> pr)"),
// scan.taskState.started and .completed, scan.recovery.timeout and
// task.script. The ${…} macros are resolved at now, once. The script is
// not loaded here.
func parseScan(ic map[string]any, now time.Time) (*scan, error) {
	if ic == nil {
		return nil, configErrorf("the schedule has no invokeContext")
	}
	s := &scan{threads: DefaultThreads, maxRecords: -1}
	var err error
	if s.wait, err = boolOf(ic["waitForCompletion"], false); err != nil {
		return nil, configErrorf("invokeContext.waitForCompletion: %v", err)
	}
	if s.threads, err = intOf(ic["numberOfThreads"], DefaultThreads); err != nil || s.threads < 1 {
		return nil, configErrorf("invokeContext.numberOfThreads: want a positive integer, got %v", ic["numberOfThreads"])
	}
	if s.maxRecords, err = intOf(ic["maxRecords"], -1); err != nil || s.maxRecords < -1 {
		return nil, configErrorf("invokeContext.maxRecords: want a non-negative integer, got %v", ic["maxRecords"])
	}
	sc, ok := ic["scan"].(map[string]any)
	if !ok {
		return nil, configErrorf("invokeContext.scan: want an object")
	}
	s.object, _ = sc["object"].(string)
	s.object = strings.Trim(s.object, "/")
	typ, ok := strings.CutPrefix(s.object, "managed/")
	if !ok || typ == "" || strings.Contains(typ, "/") {
		return nil, configErrorf("invokeContext.scan.object %q: want managed/<type>", s.object)
	}
	s.typ = typ
	ts, _ := sc["taskState"].(map[string]any)
	s.startedText, _ = ts["started"].(string)
	s.completedText, _ = ts["completed"].(string)
	if s.startedText == "" || s.completedText == "" {
		return nil, configErrorf("invokeContext.scan.taskState: needs started and completed (JSON pointers)")
	}
	s.started, s.completed = pointer(s.startedText), pointer(s.completedText)
	if rec, ok := sc["recovery"].(map[string]any); ok && rec["timeout"] != nil {
		t, _ := rec["timeout"].(string)
		if s.recovery, err = config.ParseDuration(t); err != nil {
			return nil, configErrorf("invokeContext.scan.recovery.timeout %v: %v", rec["timeout"], err)
		}
	}
	mc := query.MacroContext{Now: now, TaskStateStarted: s.startedText, TaskStateCompleted: s.completedText}
	raw, err := filterText(sc)
	if err != nil {
		return nil, err
	}
	if s.filterText, _, err = query.ExpandMacros(raw, mc); err != nil {
		return nil, configErrorf("invokeContext.scan._queryFilter: %v", err)
	}
	if s.filter, err = query.Parse(s.filterText); err != nil {
		return nil, configErrorf("invokeContext.scan._queryFilter %q: %v", s.filterText, err)
	}
	task, _ := ic["task"].(map[string]any)
	block, ok := task["script"].(map[string]any)
	if !ok {
		return nil, configErrorf("invokeContext.task.script: want a script block")
	}
	if s.spec, err = script.ParseSpec(block); err != nil {
		return nil, configErrorf("invokeContext.task.script: %v", err)
	}
	return s, nil
}

// filterText is the scan's filter before macros: _queryFilter or
// queryFilter, or the legacy scan-tasks query as a filter.
func filterText(sc map[string]any) (string, error) {
	for _, k := range []string{"_queryFilter", "queryFilter"} {
		if f, ok := sc[k].(string); ok && f != "" {
			return f, nil
		}
	}
	for _, k := range []string{"_queryId", "queryId", "_query-id"} {
		id, ok := sc[k].(string)
		if !ok {
			continue
		}
		if id != "scan-tasks" {
			return "", configErrorf("invokeContext.scan.%s %q: only the scan-tasks query is known; write a _queryFilter", k, id)
		}
		prop, _ := sc["property"].(string)
		cond, _ := sc["condition"].(map[string]any)
		before, _ := cond["before"].(string)
		if prop == "" || before == "" {
			return "", configErrorf("invokeContext.scan: the scan-tasks query needs property and condition.before")
		}
		// scan-tasks selects property < condition.before whose completed
		// field is null.
		return "(" + prop + " lt " + quote(before) + ") and !(${taskState.completed} pr)", nil
	}
	return "", configErrorf("invokeContext.scan: needs _queryFilter (or the legacy _queryId \"scan-tasks\")")
}

// quote writes s as a filter string literal.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

// pointer splits a taskState pointer ("/sunset/task-started") into its
// tokens.
func pointer(s string) query.Pointer {
	s = strings.Trim(s, "/")
	if s == "" {
		return query.Pointer{}
	}
	return query.Pointer{Tokens: strings.Split(s, "/")}
}

// boolOf reads a boolean written as one or as "true"/"false".
func boolOf(v any, def bool) (bool, error) {
	switch t := v.(type) {
	case nil:
		return def, nil
	case bool:
		return t, nil
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(t))
		if err != nil {
			return false, fmt.Errorf("want true or false, got %q", t)
		}
		return b, nil
	}
	return false, fmt.Errorf("want a boolean, got %v", v)
}

// intOf reads an integer written as a JSON number or as a string.
func intOf(v any, def int) (int, error) {
	switch t := v.(type) {
	case nil:
		return def, nil
	case int:
		return t, nil
	case int64:
		return int(t), nil
	case float64:
		if t != float64(int(t)) {
			return 0, fmt.Errorf("not an integer: %v", t)
		}
		return int(t), nil
	case json.Number:
		return strconv.Atoi(t.String())
	case string:
		return strconv.Atoi(strings.TrimSpace(t))
	}
	return 0, fmt.Errorf("not an integer: %v", v)
}
