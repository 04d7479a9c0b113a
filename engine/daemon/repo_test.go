package daemon_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sundial/engine/daemon"
	"sundial/engine/store"
)

// TestDaemon_Repo: a change that fails past its retries lands in the
// dead-letter queue, which /openidm/repo lists and reads, and from which
// the operator deletes it once handled; the source's liveSync stage reads
// there too, and deleting it makes the next liveSync start again from the
// connector's current token (processing nothing).
func TestDaemon_Repo(t *testing.T) {
	conf, scripts := newDirs(t, map[string]string{
		"managed.json": `{"objects": [{"name": "user"}]}`,
		"provisioner.openicf-hr.json": `{"connectorRef": {"connectorName": "org.forgerock.openicf.csvfile.CSVFileConnector"},
			"configurationProperties": {"csvFile": "&{idm.instance.dir}/data/hr.csv"},
			"syncFailureHandler": {"maxRetries": 0, "postRetryAction": "dead-letter-queue"}}`,
		"sync.json": `{"mappings": [{"name": "hr_user", "source": "system/hr/account", "target": "managed/user",
			"properties": [{"source": "uid", "target": "userName"},
				{"source": "email", "target": "mail", "transform": {"type": "text/javascript",
					"source": "if (source === 'bad') { throw new Error('no mail for ' + source); } source"}}]}]}`,
	})
	data := filepath.Join(filepath.Dir(conf), "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	csv := filepath.Join(data, "hr.csv")
	writeFile(t, csv, "uid,email\nbjensen,b@example.com\n")
	dataDir := t.TempDir()
	db, err := store.Open(context.Background(), filepath.Join(dataDir, "sundial.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	b := start(t, conf, scripts, func(o *daemon.Options) { o.DB = db; o.DataDir = dataDir })
	call := func(method, path string, want int) map[string]any {
		t.Helper()
		code, _, body := adminRequest(t, b, dataDir, method, path, "")
		var m map[string]any
		if code != want || json.Unmarshal(body, &m) != nil {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, code, want, body)
		}
		return m
	}
	const liveSync = "/openidm/system?_action=liveSync&source=system/hr/account"
	call("POST", liveSync, 200) // records the token
	writeFile(t, csv, "uid,email\nbjensen,b@example.com\nmallory,bad\n")
	call("POST", liveSync, 200)

	queue := call("GET", "/openidm/repo/synchronisation/deadLetterQueue/hr?_queryFilter=true", 200)
	result, _ := queue["result"].([]any)
	if len(result) != 1 {
		t.Fatalf("dead-letter queue: %v, want one entry", queue)
	}
	entry, _ := result[0].(map[string]any)
	id, _ := entry["_id"].(string)
	if b, _ := json.Marshal(entry); !strings.Contains(string(b), "no mail for bad") || !strings.Contains(string(b), "mallory") {
		t.Errorf("the entry does not name the change and its cause: %s", b)
	}
	if got := call("GET", "/openidm/repo/synchronisation/deadLetterQueue/hr/"+id, 200); got["_id"] != id {
		t.Errorf("read of the entry: %v", got)
	}
	stage := call("GET", "/openidm/repo/synchronisation/pooledSyncStage/SYSTEMHRACCOUNT", 200)
	if stage["connectorData"] == nil {
		t.Errorf("the stage: %v", stage)
	}
	call("DELETE", "/openidm/repo/synchronisation/deadLetterQueue/hr/"+id, 200)
	call("GET", "/openidm/repo/synchronisation/deadLetterQueue/hr/"+id, 404)
	if got := call("GET", "/openidm/repo/synchronisation/deadLetterQueue/hr?_queryFilter=true", 200); got["resultCount"] != float64(0) {
		t.Errorf("the queue after the delete: %v", got)
	}
	call("GET", "/openidm/repo/synchronisation/deadLetterQueue/hr", 400) // no query
	call("GET", "/openidm/repo/nothing?_queryFilter=true", 404)
	call("PUT", "/openidm/repo/synchronisation/pooledSyncStage/SYSTEMHRACCOUNT", 405)

	// A deleted stage: the next liveSync records the current token and
	// processes nothing, so the row added meanwhile is not synced.
	call("DELETE", "/openidm/repo/synchronisation/pooledSyncStage/SYSTEMHRACCOUNT", 200)
	writeFile(t, csv, "uid,email\nbjensen,b@example.com\nmallory,bad\nscarter,s@example.com\n")
	call("POST", liveSync, 200)
	if users := call("GET", "/openidm/managed/user?_queryFilter=true", 200); users["resultCount"] != float64(0) {
		t.Errorf("users after the stage's reset: %v, want none", users)
	}
	writeFile(t, csv, "uid,email\nbjensen,b@example.com\nmallory,bad\nscarter,s@example.com\ntmorris,t@example.com\n")
	call("POST", liveSync, 200)
	if users := call("GET", "/openidm/managed/user?_queryFilter=true&_fields=userName", 200); users["resultCount"] != float64(1) || !strings.Contains(jsonText(users), "tmorris") {
		t.Errorf("users after the next change: %v, want tmorris only", users)
	}
}

func jsonText(v any) string { b, _ := json.Marshal(v); return string(b) }
