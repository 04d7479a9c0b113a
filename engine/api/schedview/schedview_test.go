package schedview

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"sundial/engine/config"
	"sundial/engine/scheduler"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const guideBody = `{
    "enabled": %t,
    "type": "cron",
    "schedule": "0/1 * * * * ?",
    "persisted": true,
    "misfirePolicy": "fireAndProceed",
    "invokeService": "script",
    "invokeContext": {"script": {"type": "text/javascript", "file": "script/testlog.js"}}
}`

const simpleBody = `{
    "type": "simple",
    "repeatInterval": 3600000,
    "repeatCount": -1,
    "persisted": true,
    "invokeService": "sync",
    "invokeContext": {"action": "reconcile", "mapping": "systemLdapAccounts_managedUser"}
}`

func parse(t *testing.T, id, body string) *config.Schedule {
	t.Helper()
	loc, err := time.LoadLocation("Africa/Johannesburg")
	if err != nil {
		t.Fatal(err)
	}
	s, errs := config.ParseScheduleJSON(id, []byte(body), config.ParseOptions{Location: loc, PersistedDefault: true})
	if len(errs) > 0 {
		t.Fatalf("parse %s: %v", id, errs)
	}
	return s
}

// The guide's times: previous 2019-10-09T08:59:28Z, next one second later.
var (
	prev    = time.UnixMilli(1570611568000)
	next    = time.UnixMilli(1570611569000)
	created = time.UnixMilli(1570611391000)
)

func jobJSON(t *testing.T, p JobParams) map[string]any {
	t.Helper()
	r := Job(p)
	m := map[string]any{"_id": r.ID, "_rev": r.Rev}
	for k, v := range r.Fields {
		m[k] = v
	}
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestJobShapes(t *testing.T) {
	cron := parse(t, "testlog-schedule", fmt.Sprintf(guideBody, true))
	disabled := parse(t, "testlog-schedule", fmt.Sprintf(guideBody, false))
	simple := parse(t, "reconcile_systemLdapAccounts_managedUser", simpleBody)
	normal := scheduler.ScheduleInfo{Status: scheduler.StatusNormal, PreviousFireTime: prev, NextFireTime: next, TimesTriggered: 178}
	with := func(info scheduler.ScheduleInfo, s *config.Schedule) scheduler.ScheduleInfo {
		info.ID, info.Schedule = s.ID, s
		return info
	}
	paused := normal
	paused.Paused = true
	tests := []struct {
		name  string
		p     JobParams
		guide string // the guide's example this shape must match
		// skip are keys of serialized that differ by trigger type.
		skip []string
	}{
		{"cron", JobParams{Info: with(normal, cron), NodeID: "node1", TriggerStart: created}, "guide_cron.json", nil},
		{"paused", JobParams{Info: with(paused, cron), NodeID: "node1", TriggerStart: created, Rev: "7"}, "guide_cron.json", nil},
		{"disabled", JobParams{Info: with(scheduler.ScheduleInfo{Status: scheduler.StatusNone}, disabled)}, "guide_disabled.json", nil},
		{"simple", JobParams{Info: with(normal, simple), TriggerStart: created}, "guide_cron.json", []string{"cronEx", "repeatInterval", "repeatCount", "invokeContext", "scheduler.invokeContext"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := jobJSON(t, tt.p)
			golden := filepath.Join("testdata", tt.name+".golden.json")
			data, err := json.MarshalIndent(got, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			data = append(data, '\n')
			if *update {
				if err := os.WriteFile(golden, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if string(want) != string(data) {
				t.Errorf("%s differs from the golden file:\n%s", tt.name, data)
			}
			raw, err := os.ReadFile(filepath.Join("testdata", tt.guide))
			if err != nil {
				t.Fatal(err)
			}
			var guide map[string]any
			if err := json.Unmarshal(raw, &guide); err != nil {
				t.Fatal(err)
			}
			// The guide's job has no _rev in the body (IDM sends it as the
			// ETag only for jobs); Sundial writes it first, as CREST does.
			delete(got, "_rev")
			compareShape(t, "", guide, got, tt.skip)
		})
	}
}

// compareShape checks that got has exactly the keys of want, each with the
// same JSON type (null matches anything: the guide itself shows nodeId and
// fireInstanceId both null and set).
func compareShape(t *testing.T, path string, want, got any, skip []string) {
	t.Helper()
	if want == nil || got == nil {
		return
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			t.Errorf("%s: got %T, want an object", path, got)
			return
		}
		for k := range w {
			if _, ok := g[k]; !ok && !slices.Contains(skip, k) {
				t.Errorf("%s/%s: missing", path, k)
			}
		}
		for k := range g {
			if _, ok := w[k]; !ok && !slices.Contains(skip, k) && k != "timesTriggered" {
				t.Errorf("%s/%s: not in the guide", path, k)
			}
			if !slices.Contains(skip, k) {
				compareShape(t, path+"/"+k, w[k], g[k], skip)
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			t.Errorf("%s: got %v, want %d items", path, got, len(w))
			return
		}
		for i := range w {
			compareShape(t, fmt.Sprintf("%s/%d", path, i), w[i], g[i], skip)
		}
	default:
		if fmt.Sprintf("%T", want) != fmt.Sprintf("%T", got) {
			t.Errorf("%s: got %T %v, want %T %v", path, got, got, want, want)
		}
	}
}

// The content revision stays while nothing changes and changes with the
// content (a fire moves the dates; a pause changes the trigger's state).
func TestContentRev(t *testing.T) {
	s := parse(t, "a", fmt.Sprintf(guideBody, true))
	info := scheduler.ScheduleInfo{ID: "a", Schedule: s, Status: scheduler.StatusNormal, PreviousFireTime: prev, NextFireTime: next}
	base := Job(JobParams{Info: info}).Rev
	if again := Job(JobParams{Info: info}).Rev; again != base {
		t.Fatalf("rev of the same content: %s then %s", base, again)
	}
	fired := info
	fired.PreviousFireTime, fired.NextFireTime = next, next.Add(time.Second)
	paused := info
	paused.Paused = true
	for name, changed := range map[string]scheduler.ScheduleInfo{"fired": fired, "paused": paused} {
		if rev := Job(JobParams{Info: changed}).Rev; rev == base {
			t.Errorf("%s: rev %s did not change", name, rev)
		}
	}
}
