package config

import (
	"strings"
	"testing"
)

// TestInlineMapping: a sync schedule's invokeContext may hold a whole
// mapping; it is checked with sync.json's code, its errors at the
// schedule file's positions, and InlineMapping builds it for the run.
func TestInlineMapping(t *testing.T) {
	schedule := func(mapping string) string {
		return `{"enabled": true, "type": "simple", "invokeService": "sync",
 "invokeContext": {"action": "reconcile",
  "mapping": ` + mapping + `}}`
	}
	good := `{"name": "inlineCsv", "source": "system/csv/account", "target": "managed/user",
   "properties": [{"source": "email", "target": "mail"}],
   "policies": [{"situation": "ABSENT", "action": "CREATE"}], "taskThreads": 0}`
	tests := []struct {
		name, mapping, wantErr string
	}{
		{"good", good, ""},
		{"a name is still allowed", `"csv_user"`, ""},
		{"unknown key", `{"name": "m", "source": "managed/a", "target": "managed/b", "polices": []}`,
			`schedule-inline.json:3:74: invokeContext.mapping: unknown key "polices"`},
		{"bad action", `{"name": "m", "source": "managed/a", "target": "managed/b",
   "policies": [{"situation": "CONFIRMED", "action": "UPDATES"}]}`, "schedule-inline.json:4:"},
		{"bad script", `{"name": "m", "source": "managed/a", "target": "managed/b",
   "validSource": {"type": "text/javascript", "source": "source.x ==="}}`, "schedule-inline.json:4:"},
		{"bad filter", `{"name": "m", "source": "managed/a", "target": "managed/b", "sourceCondition": "/a eq"}`, "schedule-inline.json:3:"},
		{"no name", `{"source": "managed/a", "target": "managed/b"}`, "schedule-inline.json:3:14"},
		{"bad resource", `{"name": "m", "source": "managed/", "target": "managed/b"}`, "schedule-inline.json:3:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, "schedule-inline.json", schedule(tc.mapping))
			wantLoadError(t, dir, tc.wantErr)
		})
	}

	dir := t.TempDir()
	write(t, dir, "schedule-inline.json", schedule(good))
	d, err := Load(dir, LoadOptions{Env: noEnv, CheckScript: compileJS})
	if err != nil || !d.Valid() {
		t.Fatal(err, d.AllErrors())
	}
	m, err := InlineMapping(d.Schedules["inline"])
	if err != nil || m == nil {
		t.Fatalf("InlineMapping: %v %v", m, err)
	}
	if m.Name != "inlineCsv" || m.Source != "system/csv/account" || m.Links != "inlineCsv" || m.File != "schedule-inline.json" ||
		m.TaskThreads != 0 || !m.RunTargetPhase || len(m.Properties) != 1 || m.Properties[0].Target != "mail" ||
		len(m.Policies) != 1 || m.Policies[0].Action != "CREATE" || strings.Join(m.LinkQualifiers, ",") != "default" {
		t.Errorf("mapping %+v", m)
	}
	write(t, dir, "schedule-byquery.json", strings.Replace(schedule(`"csv_user"`), "reconcile", "reconByQuery", 1))
	d, _ = Load(dir, LoadOptions{Env: noEnv})
	if w := d.Warnings["schedule-byquery.json"]; len(w) != 1 || !strings.Contains(w[0].Error(), "reconByQuery is not supported") {
		t.Errorf("reconByQuery's warnings: %v", w)
	}
	write(t, dir, "schedule-named.json", schedule(`"csv_user"`))
	d, _ = Load(dir, LoadOptions{Env: noEnv})
	if m, err := InlineMapping(d.Schedules["named"]); m != nil || err != nil {
		t.Errorf("a mapping's name is not inline: %v %v", m, err)
	}
}
