package daemon_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sundial/engine/daemon"
	"sundial/engine/store"
)

// TestDaemon_LiveSync: a schedule of the provisioner service takes the
// first pass (the token, nothing synced); REST passes then sync the CSV's
// changes into managed/user, whose implicit sync goes on to managed/copy;
// a managed/user written over REST is synced to managed/copy too.
func TestDaemon_LiveSync(t *testing.T) {
	conf, scripts := newDirs(t, map[string]string{
		"managed.json": `{"objects": [{"name": "user"}, {"name": "copy"}]}`,
		"provisioner.openicf-csv.json": `{"connectorRef": {"connectorName": "org.forgerock.openicf.csvfile.CSVFileConnector"},
			"configurationProperties": {"csvFile": "&{idm.instance.dir}/data/users.csv"}}`,
		"sync.json": `{"mappings": [
			{"name": "csv_user", "source": "system/csv/account", "target": "managed/user",
			 "properties": [{"source": "uid", "target": "_id"}, {"source": "email", "target": "mail"}]},
			{"name": "user_copy", "source": "managed/user", "target": "managed/copy",
			 "properties": [{"source": "_id", "target": "_id"}, {"source": "mail", "target": "mail"}]}]}`,
		"schedule-livesync.json": `{"enabled": true, "type": "simple", "repeatCount": 0, "invokeService": "provisioner",
			"invokeContext": {"action": "liveSync", "source": "system/csv/account"}}`,
	})
	data := filepath.Join(filepath.Dir(conf), "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(data, "users.csv"), "uid,email\nbjensen,b@example.com\n")
	dataDir := t.TempDir()
	db, err := store.Open(context.Background(), filepath.Join(dataDir, "sundial.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	objs, _ := store.ObjectsOf(db)
	b := start(t, conf, scripts, func(o *daemon.Options) { o.DB = db; o.DataDir = dataDir })

	waitFor(t, "the scheduled first pass", 20*time.Second, func() bool {
		_, err := objs.ReadObject(context.Background(), store.ReadObjectParams{Type: "repo:synchronisation:pooledSyncStage", ID: "SYSTEMCSVACCOUNT"})
		return err == nil
	})
	ids := func(typ string) string {
		page, err := objs.QueryObjects(context.Background(), store.QueryObjectsParams{Type: typ})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, o := range page.Objects {
			out = append(out, o.ID+"="+o.Content["mail"].(string))
		}
		return strings.Join(out, ",")
	}
	if got := ids("user"); got != "" {
		t.Fatalf("the first pass synced %s", got)
	}

	writeFile(t, filepath.Join(data, "users.csv"), "uid,email\nbjensen,b@example.com\nscarter,s@example.com\n")
	code, _, body := adminRequest(t, b, dataDir, "POST", "/openidm/system?_action=liveSync&source=system/csv/account", "")
	var stage map[string]any
	if err := json.Unmarshal(body, &stage); code != 200 || err != nil || stage["connectorData"] == nil {
		t.Fatalf("liveSync: %d %s", code, body)
	}
	if got := ids("user") + " " + ids("copy"); got != "scarter=s@example.com scarter=s@example.com" {
		t.Fatalf("after liveSync: %s", got)
	}
	writeFile(t, filepath.Join(data, "users.csv"), "uid,email\nbjensen,b@example.com\nscarter,steve@example.com\n")
	if code, _, body := adminRequest(t, b, dataDir, "POST", "/openidm/system/csv/account?_action=liveSync", ""); code != 200 {
		t.Fatalf("liveSync of the collection: %d %s", code, body)
	}
	if got := ids("copy"); got != "scarter=steve@example.com" {
		t.Fatalf("after an update: %s", got)
	}

	if code, _, body := adminRequest(t, b, dataDir, "PUT", "/openidm/managed/user/alice", `{"mail": "a@example.com"}`, "If-None-Match", "*"); code != 201 {
		t.Fatalf("create alice: %d %s", code, body)
	}
	if got := ids("copy"); got != "alice=a@example.com,scarter=steve@example.com" {
		t.Fatalf("implicit sync of a REST create: %s", got)
	}
	if code, _, body := adminRequest(t, b, dataDir, "POST", "/openidm/system?_action=liveSync", ""); code != 400 {
		t.Errorf("no source: %d %s", code, body)
	}
	if code, _, body := adminRequest(t, b, dataDir, "POST", "/openidm/system?_action=liveSync&source=system/nope/account", ""); code != 404 {
		t.Errorf("an unknown source: %d %s", code, body)
	}
}
