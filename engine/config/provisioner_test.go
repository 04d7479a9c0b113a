package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// syncCorpusDir holds the real provisioner, mapping and data files of the
// synchronization corpus, named like corpusDir's.
const syncCorpusDir = "../../../shared/corpus/forgerock-sync"

// corpusProvisionerEnv defines the deployment properties the corpus's
// provisioners reference, as a boot.properties would.
func corpusProvisionerEnv(key string) (string, bool) {
	v, ok := map[string]string{}[key]
	for k, val := range map[string]string{
		"userstore.host": "localhost", "userstore.port": "1389", "userstore.password": "secret",
		"userstore.basecontext": "dc=example,dc=com", "openam.userstore.password": "secret",
		"openidm.repo.host": "localhost", "openidm.repo.port": "5432",
	} {
		if EnvName(k) == key {
			v, ok = val, true
		}
	}
	return v, ok
}

// TestProvisionerCorpus loads every provisioner file of both corpora, each
// alone in a conf directory under its real name: none may fail, the
// connectors Sundial runs are runnable, the others warn naming theirs.
func TestProvisionerCorpus(t *testing.T) {
	var files []string
	for _, dir := range []string{syncCorpusDir, corpusDir} {
		m, _ := filepath.Glob(filepath.Join(dir, "*provisioner.openicf-*"))
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Skipf("SKIPPED: no provisioner file under %s or %s (the corpus lives outside the repository)", syncCorpusDir, corpusDir)
	}
	runnable := 0
	for _, f := range files {
		parts := strings.Split(filepath.Base(f), "__")
		name := parts[len(parts)-1]
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			project := t.TempDir()
			dir := filepath.Join(project, "conf")
			write(t, dir, name, string(data))
			d, err := Load(dir, LoadOptions{Env: corpusProvisionerEnv})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range d.AllErrors() {
				t.Error(e)
			}
			if len(d.Provisioners) != 1 {
				t.Fatalf("%d provisioners", len(d.Provisioners))
			}
			for _, p := range d.Provisioners {
				switch p.ConnectorRef.ConnectorName {
				case ConnectorCSV, ConnectorLDAP:
					if !p.Runnable && p.Enabled {
						t.Errorf("%s is not runnable: %v", p.Name, d.AllWarnings())
					}
					if p.Runnable {
						runnable++
					}
					if len(p.ObjectTypes) == 0 {
						t.Errorf("%s: no object types", p.Name)
					}
				default:
					if p.Runnable {
						t.Errorf("%s (%s) is runnable", p.Name, p.ConnectorRef.ConnectorName)
					}
					warned := false
					for _, w := range d.AllWarnings() {
						warned = warned || strings.Contains(w.Error(), "does not run")
					}
					if !warned {
						t.Errorf("no warning: %v", d.AllWarnings())
					}
				}
				for _, v := range p.ConfigurationProperties {
					if s, ok := v.(string); ok && strings.Contains(s, "&{") {
						t.Errorf("unresolved property: %s", s)
					}
				}
				if file, ok := p.ConfigurationProperties["csvFile"].(string); ok && !strings.HasPrefix(file, project) {
					t.Errorf("csvFile %s is not under the project directory %s", file, project)
				}
			}
		})
	}
	if runnable == 0 {
		t.Error("no runnable provisioner in the corpus")
	}
}

func TestProvisionerFields(t *testing.T) {
	project := t.TempDir()
	dir := filepath.Join(project, "conf")
	write(t, dir, "provisioner.openicf-hr.json", `{
  "connectorRef": {"connectorName": "org.forgerock.openicf.csvfile.CSVFileConnector", "bundleVersion": "[1.5.0.0,1.6.0.0)"},
  "configurationProperties": {"csvFile": "&{idm.instance.dir}/data/hr.csv", "headerUid": "uid", "syncFileRetentionCount": 3},
  "syncFailureHandler": {"maxRetries": 5, "postRetryAction": "dead-letter-queue"},
  "objectTypes": {"account": {"id": "__ACCOUNT__", "properties": {
    "uid": {"type": "string", "nativeName": "__NAME__", "required": true},
    "mail": {"type": "string", "nativeName": "email", "flags": ["NOT_UPDATEABLE"]},
    "roles": {"type": "array", "items": {"type": "string", "nativeType": "string"}}
  }}}
}`)
	d, err := Load(dir, LoadOptions{Env: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if !d.Valid() || len(d.AllWarnings()) > 0 {
		t.Fatalf("errors %v, warnings %v", d.AllErrors(), d.AllWarnings())
	}
	p := d.Provisioners["hr"]
	if p == nil || !p.Runnable || p.File != "provisioner.openicf-hr.json" {
		t.Fatalf("%+v", p)
	}
	if got := p.ConfigurationProperties["csvFile"]; got != filepath.Join(project, "data", "hr.csv") {
		t.Errorf("csvFile %v", got)
	}
	if got := p.ConfigurationProperties["syncFileRetentionCount"]; got != int64(3) {
		t.Errorf("syncFileRetentionCount %#v", got)
	}
	if h := p.SyncFailureHandler; h.MaxRetries != 5 || h.PostRetryAction != "dead-letter-queue" || h.PostRetryScript != nil {
		t.Errorf("%+v", p.SyncFailureHandler)
	}
	acct := p.ObjectTypes["account"]
	if acct == nil || acct.NativeType != "__ACCOUNT__" || len(acct.Properties) != 3 {
		t.Fatalf("%+v", acct)
	}
	uid, _ := acct.Property("uid")
	mail, _ := acct.Property("mail")
	roles, _ := acct.Property("roles")
	if uid.NativeName != "__NAME__" || !uid.Required || !mail.HasFlag("NOT_UPDATEABLE") || mail.NativeName != "email" ||
		roles.NativeName != "roles" || roles.ItemsNativeType != "string" {
		t.Errorf("%+v %+v %+v", uid, mail, roles)
	}
	if _, ok := acct.Property("nosuch"); ok {
		t.Error("an undeclared property exists")
	}
	if got := d.RunnableProvisioners(); len(got) != 1 || got[0] != p {
		t.Errorf("runnable %v", got)
	}
}

func TestProvisionerErrors(t *testing.T) {
	const csv = `"connectorRef": {"connectorName": "org.forgerock.openicf.csvfile.CSVFileConnector"}`
	for _, tc := range []struct{ name, file, content, want string }{
		{"bad name", "provisioner.openicf-x.json", `{"name": "a/b", ` + csv + `}`, `provisioner.openicf-x.json:1:10`},
		{"bad retry action", "provisioner.openicf-x.json", `{` + csv + `,
 "syncFailureHandler": {"postRetryAction": "retry"}}`, `provisioner.openicf-x.json:2:44: syncFailureHandler.postRetryAction: must be`},
		{"objectTypes not an object", "provisioner.openicf-x.json", `{` + csv + `, "objectTypes": []}`, `provisioner.openicf-x.json:1:102: objectTypes: expected object`},
		{"undefined property", "provisioner.openicf-x.yaml", "connectorRef: {connectorName: x}\nconfigurationProperties:\n  host: '&{nosuch.host}'\n", `provisioner.openicf-x.yaml:3:9`},
		{"empty", "provisioner.openicf-x.json", ``, `empty provisioner file`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tc.file, tc.content)
			d, err := Load(dir, LoadOptions{Env: noEnv})
			if err != nil {
				t.Fatal(err)
			}
			errs := d.AllErrors()
			if len(errs) == 0 || !strings.Contains(errs[0].Error(), tc.want) {
				t.Fatalf("errors %v, want %q", errs, tc.want)
			}
			if len(d.Provisioners) != 0 {
				t.Errorf("a bad file declared %v", d.Provisioners)
			}
		})
	}
}

// TestProvisionerKeepsLastGood: a file that turns bad keeps its previous
// version, a fixed file replaces it, a removed file removes it, and two
// files naming one provisioner are an error.
func TestProvisionerKeepsLastGood(t *testing.T) {
	dir := t.TempDir()
	good := `{"connectorRef": {"connectorName": "org.identityconnectors.ldap.LdapConnector"}, "configurationProperties": {"host": "a"}}`
	write(t, dir, "provisioner.openicf-ldap.json", good)
	d1, err := Load(dir, LoadOptions{Env: noEnv})
	if err != nil || !d1.Valid() {
		t.Fatal(err, d1.AllErrors())
	}
	write(t, dir, "provisioner.openicf-ldap.json", `{"connectorRef": 1}`)
	d2, err := Load(dir, LoadOptions{Env: noEnv, Previous: d1})
	if err != nil {
		t.Fatal(err)
	}
	if d2.Valid() || d2.Provisioners["ldap"] != d1.Provisioners["ldap"] {
		t.Errorf("bad file: errors %v, provisioner %+v", d2.AllErrors(), d2.Provisioners["ldap"])
	}
	write(t, dir, "provisioner.openicf-ldap.json", strings.Replace(good, `"a"`, `"b"`, 1))
	d3, _ := Load(dir, LoadOptions{Env: noEnv, Previous: d2})
	if !d3.Valid() || d3.Provisioners["ldap"].ConfigurationProperties["host"] != "b" || d3.Hash == d1.Hash {
		t.Errorf("fixed file: %v %+v", d3.AllErrors(), d3.Provisioners["ldap"])
	}
	write(t, dir, "provisioner.openicf-other.json", `{"name": "ldap", "connectorRef": {"connectorName": "org.identityconnectors.ldap.LdapConnector"}}`)
	d4, _ := Load(dir, LoadOptions{Env: noEnv, Previous: d3})
	if d4.Valid() || !strings.Contains(d4.AllErrors()[0].Error(), `provisioner "ldap" is declared twice`) {
		t.Errorf("duplicate: %v", d4.AllErrors())
	}
	if err := os.Remove(filepath.Join(dir, "provisioner.openicf-other.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "provisioner.openicf-ldap.json")); err != nil {
		t.Fatal(err)
	}
	d5, _ := Load(dir, LoadOptions{Env: noEnv, Previous: d4})
	if len(d5.Provisioners) != 0 {
		t.Errorf("removed file: %v", d5.Provisioners)
	}
}

// TestSyncFailureHandlerScript: a postRetryAction script is kept and
// checked as a mapping's scripts are, at the provisioner file's position.
func TestSyncFailureHandlerScript(t *testing.T) {
	prov := func(script string) string {
		return `{"connectorRef": {"connectorName": "` + ConnectorCSV + `"}, "configurationProperties": {"csvFile": "u.csv"},
 "syncFailureHandler": {"maxRetries": 0, "postRetryAction": {"script": ` + script + `}}}`
	}
	for _, tc := range []struct{ name, script, wantErr string }{
		{"good", `{"type": "text/javascript", "source": "failureHandlers.loggedIgnore(syncFailure, failureCause)"}`, ""},
		{"does not compile", `{"type": "text/javascript", "source": "failureHandlers.("}`, "provisioner.openicf-csv.json:2:"},
		{"no source", `{"type": "text/javascript"}`, "provisioner.openicf-csv.json:2:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, "provisioner.openicf-csv.json", prov(tc.script))
			wantLoadError(t, dir, tc.wantErr)
			if tc.wantErr != "" {
				return
			}
			d, _ := Load(dir, LoadOptions{Env: noEnv})
			if h := d.Provisioners["csv"].SyncFailureHandler; h.PostRetryAction != "script" || !strings.Contains(string(h.PostRetryScript), "loggedIgnore") {
				t.Errorf("%+v", h)
			}
		})
	}
}
