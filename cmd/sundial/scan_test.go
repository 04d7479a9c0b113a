package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScanDryRun prints the sunset scan's filter resolved at --at and the
// matches of imported users, and changes nothing.
func TestScanDryRun(t *testing.T) {
	conf, db := importDir(t)
	src, err := os.ReadFile("../../examples/sunset-taskscan/conf/schedule-taskscan_sunset.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(conf, "schedule-taskscan_sunset.json"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	users := `{"_id": "a", "sunset": {"date": "2019-12-20T12:00:00.000Z"}}
{"_id": "b", "sunset": {"date": "2031-01-01T00:00:00.000Z"}}
{"_id": "c"}
`
	var out, errOut bytes.Buffer
	if err := runImport(t.Context(), importOptions{conf: conf, store: db, format: "auto", batch: 10, progress: "none"},
		"managed/user", writeFile(t, "u.jsonl", users), &out, &errOut); err != nil {
		t.Fatalf("%v %s", err, errOut.String())
	}
	scripts := filepath.Join(filepath.Dir(conf), "scripts")
	if err := os.Mkdir(scripts, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(scripts, "sunset.js"), []byte("true;"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err = runScan(t.Context(), scanOptions{conf: conf, scripts: scripts, store: db, at: "2030-06-01T00:00:00Z", first: 5, dryRun: true}, "taskscan_sunset", &out)
	if err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		`filter:  ((/sunset/date lt "2030-06-01T00:00:00.000Z") AND !(/sunset/task-completed pr))`,
		"matches: 1 (the scan would take 1; maxRecords none, threads 5)",
		`"_id":"a"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, `"_id":"b"`) {
		t.Errorf("b matched:\n%s", got)
	}
	if n := len(storedUsers(t, db, "/sunset/task-started pr")); n != 0 {
		t.Errorf("the dry run claimed %d objects", n)
	}
	if err := runScan(t.Context(), scanOptions{conf: conf, scripts: scripts, store: db}, "taskscan_sunset", &out); err == nil {
		t.Error("a scan without --dry-run ran")
	}
	if err := runScan(t.Context(), scanOptions{conf: conf, scripts: scripts, store: db, dryRun: true}, "nope", &out); err == nil {
		t.Error("an unknown schedule was scanned")
	}
}
