package daemon_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sundial/engine/daemon"
)

// A CSV provisioner in the conf directory is served under /openidm/system
// by a real daemon, and a reload that edits it applies at once.
func TestSystemREST_Daemon(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	const prov = `{"connectorRef": {"connectorName": "org.forgerock.openicf.csvfile.CSVFileConnector"},
  "configurationProperties": {"csvFile": "&{idm.instance.dir}/data/FILE"}}`
	conf, scripts := newDirs(t, map[string]string{"provisioner.openicf-hr.json": strings.Replace(prov, "FILE", "hr.csv", 1)})
	project := filepath.Dir(conf)
	for name, content := range map[string]string{"hr.csv": "uid,email\nbjensen,b@example.com\n", "hr2.csv": "uid,email\nscarter,s@example.com\n"} {
		if err := os.MkdirAll(filepath.Join(project, "data"), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(project, "data", name), content)
	}
	b := start(t, conf, scripts, func(o *daemon.Options) { o.DataDir = dataDir })
	code, _, body := adminRequest(t, b, dataDir, "POST", "/openidm/system?_action=test", "")
	if code != 200 || !strings.Contains(string(body), `"name":"hr"`) || !strings.Contains(string(body), `"ok":true`) {
		t.Errorf("test: %d %s", code, body)
	}
	if code, _, body = adminRequest(t, b, dataDir, "GET", "/openidm/system/hr/account/bjensen", ""); code != 200 || !strings.Contains(string(body), "b@example.com") {
		t.Errorf("read: %d %s", code, body)
	}
	mark := b.mark()
	writeFile(t, filepath.Join(conf, "provisioner.openicf-hr.json"), strings.Replace(prov, "FILE", "hr2.csv", 1))
	b.waitApplied(t, mark, "applied")
	if code, _, body = adminRequest(t, b, dataDir, "GET", "/openidm/system/hr/account?_queryId=query-all-ids", ""); code != 200 || !strings.Contains(string(body), `[{"_id":"scarter"}]`) {
		t.Errorf("after the reload: %d %s", code, body)
	}
}
