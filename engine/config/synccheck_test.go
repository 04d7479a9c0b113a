package config

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestSyncMappingChecks checks mappings against the directory's
// provisioners and managed types: each problem at its file:line:col.
func TestSyncMappingChecks(t *testing.T) {
	resources := map[string]string{
		"managed.json": `{"objects": [
  {"name": "user", "schema": {"properties": {"userName": {"type": "string"}, "mail": {"type": "string"}}}},
  {"name": "role"}]}`,
		"provisioner.openicf-csv.json": `{"connectorRef": {"connectorName": "` + ConnectorCSV + `"},
  "configurationProperties": {"csvFile": "users.csv"},
  "objectTypes": {"account": {"properties": {"uid": {"type": "string"}, "email": {"type": "string"}}}}}`,
		"provisioner.openicf-hr.json": `{"connectorRef": {"connectorName": "` + ConnectorCSV + `"},
  "configurationProperties": {"csvFile": "hr.csv"}}`,
	}
	mapping := func(source, target, extra string) string {
		return `{"mappings": [{"name": "m",
 "source": "` + source + `",
 "target": "` + target + `"` + extra + `}]}`
	}
	tests := []struct {
		name  string
		sync  string
		noRes bool     // without managed.json and provisioners
		errs  []string // relative to the conf directory
		warns []string
	}{
		{name: "known", sync: mapping("system/csv/account", "managed/user",
			`, "properties": [{"source": "uid", "target": "userName"}, {"source": "email", "target": "/mail"},
 {"source": "uid", "target": "_id"}, {"source": "x", "target": "userName/first"}]`)},
		{name: "a type without declared properties takes any", sync: mapping("managed/user", "managed/role",
			`, "properties": [{"source": "userName", "target": "anything"}]`)},
		{name: "the CSV connector's implied account type", sync: mapping("system/hr/account", "system/csv/account",
			`, "properties": [{"source": "anything", "target": "uid"}]`)},
		{name: "unknown provisioner", sync: mapping("system/cvs/account", "managed/user", ""),
			errs: []string{`sync.json:2:12: source: no provisioner called "cvs" (a provisioner.openicf-cvs.json file) (did you mean "csv"?)`}},
		{name: "unknown object type", sync: mapping("managed/user", "system/csv/acount", ""),
			errs: []string{`sync.json:3:12: target: provisioner "csv" (provisioner.openicf-csv.json) has no object type "acount" (did you mean "account"?)`}},
		{name: "implied account only", sync: mapping("system/hr/group", "managed/user", ""),
			errs: []string{`sync.json:2:12: source: provisioner "hr" (provisioner.openicf-hr.json) has no object type "group"`}},
		{name: "undeclared managed type", sync: mapping("system/csv/account", "managed/usr", ""),
			errs: []string{`sync.json:3:12: target: managed/usr is not declared in managed.json (did you mean "user"?)`}},
		{name: "unknown managed property", sync: mapping("system/csv/account", "managed/user",
			`,
 "properties": [{"source": "email", "target": "mial"}]`),
			errs: []string{`sync.json:4:47: mappings.0.properties.0.target: managed/user has no property "mial" (did you mean "mail"?)`}},
		{name: "unknown system property", sync: mapping("managed/user", "system/csv/account",
			`,
 "properties": [{"source": "mail", "target": "email"}, {"source": "userName", "target": "name/first"}]`),
			errs: []string{`sync.json:4:89: mappings.0.properties.1.target: system/csv/account has no property "name"`}},
		{name: "action not one of IDM's", sync: mapping("system/csv/account", "managed/user",
			`,
 "policies": [{"situation": "ABSENT", "action": "CRAETE"}]`),
			errs: []string{`sync.json:4:49: mappings.0.policies.0.action: must be one of CREATE, UPDATE, DELETE, LINK, UNLINK, EXCEPTION, IGNORE, REPORT, NOREPORT, ASYNC, or a script returning one, got "CRAETE"`}},
		{name: "script that does not compile", sync: mapping("system/csv/account", "managed/user",
			`,
 "properties": [{"source": "email", "target": "mail", "transform": {"type": "text/javascript", "source": "source.split("}}]`),
			errs: []string{`sync.json:4:120: mappings.0.properties.0.transform.source: SyntaxError: Unexpected end of input`}},
		{name: "no managed.json warns", sync: mapping("managed/user", "managed/role", ""), noRes: true,
			warns: []string{
				`sync.json:2:12: source: managed/user is not declared: there is no managed.json, so the daemon serves no managed objects and a recon of this mapping fails`,
				`sync.json:3:12: target: managed/role is not declared: there is no managed.json, so the daemon serves no managed objects and a recon of this mapping fails`,
			}},
		{name: "no provisioner at all", sync: mapping("system/ldap/account", "managed/user", ""), noRes: true,
			errs:  []string{`sync.json:2:12: source: no provisioner called "ldap" (a provisioner.openicf-ldap.json file)`},
			warns: []string{`sync.json:3:12: target: managed/user is not declared: there is no managed.json, so the daemon serves no managed objects and a recon of this mapping fails`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if !tc.noRes {
				writeConf(t, dir, resources)
			}
			write(t, dir, "sync.json", tc.sync)
			d, err := Load(dir, LoadOptions{Env: noEnv, CheckScript: compileJS})
			if err != nil {
				t.Fatal(err)
			}
			rel := func(errs []error) []string {
				var out []string
				for _, e := range errs {
					out = append(out, strings.TrimPrefix(e.Error(), dir+string(filepath.Separator)))
				}
				return out
			}
			if got := rel(d.Errors["sync.json"]); strings.Join(got, "\n") != strings.Join(tc.errs, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.errs, "\n"))
			}
			if got := rel(d.Warnings["sync.json"]); strings.Join(got, "\n") != strings.Join(tc.warns, "\n") {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.warns, "\n"))
			}
			if len(tc.errs) > 0 && d.Mappings != nil {
				t.Errorf("a sync file with errors gave mappings %v", d.Mappings)
			}
			if len(tc.errs) == 0 && len(d.Mappings) != 1 {
				t.Errorf("%d mappings", len(d.Mappings))
			}
		})
	}
}

// TestSyncMappingChecksKeepLastGood: a mapping that names a provisioner
// the directory no longer has makes the sync file invalid, and the
// snapshot keeps the mappings of the last good one.
func TestSyncMappingChecksKeepLastGood(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "provisioner.openicf-csv.json", csvProvisioner)
	write(t, dir, "managed.json", `{"objects": [{"name": "user"}]}`)
	write(t, dir, "sync.json", `{"mappings": [{"name": "m", "source": "system/csv/account", "target": "managed/user"}]}`)
	good, err := Load(dir, LoadOptions{Env: noEnv})
	if err != nil || !good.Valid() || len(good.Mappings) != 1 {
		t.Fatalf("first load: %v %v", err, good.AllErrors())
	}
	write(t, dir, "sync.json", `{"mappings": [{"name": "m2", "source": "system/csv/account", "target": "managed/user"},
 {"name": "m3", "source": "system/ldap/account", "target": "managed/user"}]}`)
	d, err := Load(dir, LoadOptions{Env: noEnv, Previous: good})
	if err != nil {
		t.Fatal(err)
	}
	if d.Valid() || len(d.Mappings) != 1 || d.Mappings[0].Name != "m" {
		t.Errorf("valid %v, mappings %v: want the last good mapping m", d.Valid(), d.Mappings)
	}
}
