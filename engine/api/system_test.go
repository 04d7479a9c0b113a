package api

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sundial/engine/config"
	"sundial/engine/system"
)

// newSystemHarness serves system/hr/account from a real CSV connector
// in a temporary project directory, and system/xml, a connector Sundial
// does not run.
func newSystemHarness(t *testing.T) *harness {
	t.Helper()
	project := t.TempDir()
	conf := filepath.Join(project, "conf")
	for name, content := range map[string]string{
		"data/hr.csv": "\"uid\", \"email\"\n\"bjensen\", \"bjensen@example.com\"\n\"jdoe\", \"jdoe@example.com\"\n",
		"conf/provisioner.openicf-hr.json": `{"connectorRef": {"connectorName": "org.forgerock.openicf.csvfile.CSVFileConnector"},
  "configurationProperties": {"csvFile": "&{idm.instance.dir}/data/hr.csv"},
  "objectTypes": {"account": {"nativeType": "__ACCOUNT__", "properties": {
    "uid": {"type": "string", "nativeName": "__NAME__"}, "email": {"type": "string", "nativeName": "email"}}}}}`,
		"conf/provisioner.openicf-xml.json": `{"connectorRef": {"connectorName": "org.forgerock.openicf.connectors.xml.XMLConnector"}}`,
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(project, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(project, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return serveSystems(t, conf)
}

// serveSystems is a harness serving the connectors of the conf directory.
func serveSystems(t *testing.T, conf string) *harness {
	t.Helper()
	d, err := config.Load(conf, config.LoadOptions{})
	if err != nil || !d.Valid() {
		t.Fatal(err, d.AllErrors())
	}
	reg := system.New(nil)
	reg.Apply(d)
	t.Cleanup(reg.Close)
	var buf bytes.Buffer
	mem := newMem()
	h := New(Options{Schedules: mem, Auth: fixedAuth{}, Logger: slog.New(slog.NewTextHandler(&buf, nil)), Systems: reg})
	return &harness{h: h, mem: mem, log: &buf}
}

func TestSystemREST(t *testing.T) {
	h := newSystemHarness(t)
	const acct = "/openidm/system/hr/account"
	for _, tc := range []struct {
		what string
		c    call
		code int
		want string // in the body
	}{
		{"test all", call{method: "POST", target: "/openidm/system?_action=test"}, 200, `"name":"hr","enabled":true,"config":"config/provisioner.openicf/hr","objectTypes":["account"]`},
		{"test all: xml", call{method: "POST", target: "/openidm/system?_action=test"}, 200, `"ok":false,"error":"the connector org.forgerock.openicf.connectors.xml.XMLConnector is not one Sundial runs"`},
		{"test one", call{method: "POST", target: "/openidm/system/hr?_action=test"}, 200, `"displayName":"CSV File Connector","ok":true}`},
		{"test unknown", call{method: "POST", target: "/openidm/system/nosuch?_action=test"}, 404, `system/nosuch`},
		{"bad action", call{method: "POST", target: "/openidm/system?_action=explode"}, 400, `explode`},
		{"GET root", call{method: "GET", target: "/openidm/system"}, 405, ``},
		{"query all ids", call{method: "GET", target: acct + "?_queryId=query-all-ids"}, 200, `"result":[{"_id":"bjensen"},{"_id":"jdoe"}],"resultCount":2`},
		{"query filter", call{method: "GET", target: acct + "?_queryFilter=email+sw+%22jd%22"}, 200, `"result":[{"_id":"jdoe","email":"jdoe@example.com","uid":"jdoe"}],"resultCount":1`},
		{"query paged", call{method: "GET", target: acct + "?_queryFilter=true&_pageSize=1&_fields=_id"}, 200, `"result":[{"_id":"bjensen"}],"resultCount":1,"pagedResultsCookie":"1"`},
		{"no query", call{method: "GET", target: acct}, 400, `needs _queryFilter or _queryId`},
		{"read", call{method: "GET", target: acct + "/bjensen"}, 200, `{"_id":"bjensen","email":"bjensen@example.com","uid":"bjensen"}`},
		{"read missing", call{method: "GET", target: acct + "/nobody"}, 404, `system/hr/account/nobody`},
		{"unknown type", call{method: "GET", target: "/openidm/system/hr/group/x"}, 404, ``},
		{"not run", call{method: "GET", target: "/openidm/system/xml/account?_queryFilter=true"}, 404, `not one Sundial runs`},
		{"create", call{method: "POST", target: acct + "?_action=create", body: `{"uid":"alice","email":"alice@example.com"}`}, 201, `"_id":"alice"`},
		{"create again", call{method: "PUT", target: acct + "/alice", body: `{"email":"x"}`, headers: []string{"If-None-Match", "*"}}, 412, `already exists: system/hr/account/alice`},
		{"update", call{method: "PUT", target: acct + "/alice", body: `{"uid":"alice","email":"new@example.com"}`}, 200, `"email":"new@example.com"`},
		{"update missing", call{method: "PUT", target: acct + "/nobody", body: `{"email":"x"}`}, 404, ``},
		{"delete", call{method: "DELETE", target: acct + "/alice"}, 200, `"_id":"alice"`},
		{"delete again", call{method: "DELETE", target: acct + "/alice"}, 404, ``},
	} {
		rec := h.do("admin", tc.c)
		if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("%s: %s %s: %d %s, want %d with %s", tc.what, tc.c.method, tc.c.target, rec.Code, rec.Body, tc.code, tc.want)
		}
	}
	if rec := h.do("reader", call{method: "POST", target: acct + "?_action=create", body: `{"uid":"x"}`}); rec.Code != 403 {
		t.Errorf("a reader's create: %d", rec.Code)
	}
	if rec := h.do("reader", call{method: "GET", target: acct + "/jdoe"}); rec.Code != 200 {
		t.Errorf("a reader's read: %d", rec.Code)
	}
	if rec := h.do("", call{method: "GET", target: acct + "/jdoe"}); rec.Code != 401 {
		t.Errorf("no credentials: %d", rec.Code)
	}
	if rec := newHarness().do("admin", call{method: "POST", target: "/openidm/system?_action=test"}); rec.Code != 404 {
		t.Errorf("without systems: %d", rec.Code)
	}
}
