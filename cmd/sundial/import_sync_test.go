package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	syncsvc "sundial/engine/sync"
)

// importSyncDir is a project whose conf maps managed/user to a CSV file
// (and, with enableSync false, to another one), with the store beside
// it; it returns the conf directory, the store and the CSV target.
func importSyncDir(t *testing.T) (conf, db, csvFile string) {
	t.Helper()
	dir := t.TempDir()
	conf = filepath.Join(dir, "conf")
	data := filepath.Join(dir, "data")
	for _, d := range []string{conf, data} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"managed.json":    `{"objects": [{"name": "user"}]}`,
		"boot.properties": "openidm.audit.activity.enabled=true\n",
		"provisioner.openicf-csv.json": `{"connectorRef": {"connectorName": "org.forgerock.openicf.csvfile.CSVFileConnector"},
			"configurationProperties": {"csvFile": "&{idm.instance.dir}/data/accounts.csv"}}`,
		"sync.json": `{"mappings": [
			{"name": "managedUser_csv", "source": "managed/user", "target": "system/csv/account",
			 "properties": [{"source": "_id", "target": "uid"}, {"source": "mail", "target": "email",
			  "transform": {"type": "text/javascript", "source": "if (source == 'refuse@example.com') { throw 'refused' } source"}}]},
			{"name": "managedUser_off", "source": "managed/user", "target": "system/csv/account", "enableSync": false,
			 "properties": [{"source": "_id", "target": "uid"}]}]}`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(conf, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	csvFile = filepath.Join(data, "accounts.csv")
	if err := os.WriteFile(csvFile, []byte("uid,email\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return conf, filepath.Join(dir, "sundial.db"), csvFile
}

// timing is what changes from run to run in the import's summary line.
var timing = regexp.MustCompile(`in [0-9.]+[µnm]?s \([0-9]+/s\)`)

// TestImportSyncGolden: without --sync the import leaves the CSV alone
// and says which mappings it did not run and how to run them; with
// --sync every object imported reaches the CSV file through the mapping
// with enableSync (and only that one). Only with --sync does each create
// record its audit/activity entry, by "import".
func TestImportSyncGolden(t *testing.T) {
	users := writeFile(t, "users.jsonl", `{"_id": "alice", "mail": "alice@example.com"}`+"\n"+`{"_id": "bob", "mail": "bob@example.com"}`+"\n")
	for _, tc := range []struct {
		name         string
		flags        []string
		wantCSV      string
		wantActivity int
	}{
		{"import-unsynced", nil, "uid,email\n", 0},
		{"import-sync", []string{"--sync"}, "uid,email\nalice,alice@example.com\nbob,bob@example.com\n", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf, db, csvFile := importSyncDir(t)
			args := append([]string{"import", "--conf", conf, "--store", db, "--progress", "none"}, tc.flags...)
			code, stdout, stderr := runCLI(append(args, "managed/user", users)...)
			checkGolden(t, tc.name, code, timing.ReplaceAllString(stdout, "in T (R/s)"), strings.ReplaceAll(stderr, users, "users.jsonl"))
			b, err := os.ReadFile(csvFile)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.ReplaceAll(string(b), `"`, ""); got != tc.wantCSV {
				t.Errorf("the CSV file:\n%s\nwant\n%s", got, tc.wantCSV)
			}
			if got := len(storedUsers(t, db, "true")); got != 2 {
				t.Errorf("%d users stored, want 2", got)
			}
			activity := storedObjects(t, db, syncsvc.AuditActivityType, `userId eq "import" and operation eq "CREATE" and objectId sw "managed/user/"`)
			if all := storedObjects(t, db, syncsvc.AuditActivityType, "true"); len(activity) != tc.wantActivity || len(all) != tc.wantActivity {
				t.Errorf("audit/activity entries: %v, want %d creates by import", all, tc.wantActivity)
			}
		})
	}
}

// TestImportSyncFailure: an object whose sync fails stays imported, is
// reported with its id, and the exit status is 1; the others are synced.
func TestImportSyncFailure(t *testing.T) {
	conf, db, csvFile := importSyncDir(t)
	users := writeFile(t, "users.jsonl", `{"_id": "alice", "mail": "alice@example.com"}`+"\n"+`{"_id": "eve", "mail": "refuse@example.com"}`+"\n")
	code, stdout, stderr := runCLI("import", "--conf", conf, "--store", db, "--progress", "none", "--sync", "managed/user", users)
	checkGolden(t, "import-sync-failure", code, timing.ReplaceAllString(stdout, "in T (R/s)"), stderr)
	b, err := os.ReadFile(csvFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.ReplaceAll(string(b), `"`, ""); got != "uid,email\nalice,alice@example.com\n" {
		t.Errorf("the CSV file: %q", got)
	}
	if got := len(storedUsers(t, db, "true")); got != 2 {
		t.Errorf("%d users stored, want 2: a failed sync leaves its object imported", got)
	}
}

// TestImportSyncNoMapping: --sync on a type no mapping has as its source
// imports and says there was nothing to synchronize.
func TestImportSyncNoMapping(t *testing.T) {
	conf, db := importDir(t)
	users := writeFile(t, "users.jsonl", `{"_id": "alice"}`+"\n")
	code, stdout, stderr := runCLI("import", "--conf", conf, "--store", db, "--progress", "none", "--sync", "managed/user", users)
	checkGolden(t, "import-sync-no-mapping", code, timing.ReplaceAllString(stdout, "in T (R/s)"), stderr)
}
