package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// syncCorpusDirs hold real IDM mapping files (outside the repository).
var syncCorpusDirs = []string{"../../../shared/corpus/forgerock-sync", corpusDir}

// TestSyncCorpus loads every real sync.json of the corpus, each alone in a
// conf directory, with the script files it references stubbed: none may
// have an error.
func TestSyncCorpus(t *testing.T) {
	n := 0
	for _, dir := range syncCorpusDirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Logf("SKIPPED: corpus directory %s is not here: %v", dir, err)
			continue
		}
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), "__sync.json") {
				continue
			}
			n++
			t.Run(e.Name(), func(t *testing.T) {
				t.Parallel()
				data, err := os.ReadFile(filepath.Join(dir, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				conf, scripts := t.TempDir(), t.TempDir()
				write(t, conf, "sync.json", string(data))
				stubScripts(t, conf, scripts)
				d, err := Load(conf, LoadOptions{Env: deploymentEnv, ScriptsDir: scripts, CheckScript: compileJS})
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range d.AllErrors() {
					t.Error(e)
				}
				if len(d.Mappings) == 0 {
					t.Error("no mappings")
				}
			})
		}
	}
	if n == 0 {
		t.Skip("SKIPPED: no sync.json in the corpus directories")
	}
}

// deploymentEnv defines the properties the corpus's deployments set in
// their environment.
func deploymentEnv(key string) (string, bool) {
	if key == "USERSTORE_BASECONTEXT" {
		return "ou=identities", true
	}
	return "", false
}

// stubScripts writes an empty script for every "file" the sync file in conf
// references.
func stubScripts(t *testing.T, conf, scripts string) {
	d, err := Load(conf, LoadOptions{Env: deploymentEnv, ScriptsDir: scripts})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range d.AllErrors() {
		var fe *FileError
		if !errors.As(e, &fe) || !errors.Is(e, ErrScriptNotFound) {
			continue
		}
		msg := fe.Err.Error()
		i := strings.Index(msg, "script file \"")
		if i < 0 {
			continue
		}
		rest := msg[i+len("script file \""):]
		file := rest[:strings.Index(rest, "\"")]
		write(t, scripts, strings.TrimPrefix(file, "script/"), "// stub\n")
	}
}

func TestSyncFile(t *testing.T) {
	good := `{"mappings": [{
  "name": "csv_user", "source": "system/csv/account", "target": "managed/user",
  "displayName": "CSV to users", "icon": null,
  "correlationQuery": {"type": "text/javascript", "source": "({_queryFilter: 'userName eq \"' + source.name + '\"'})"},
  "properties": [
    {"source": "email", "target": "mail"},
    {"source": "", "target": "displayName", "transform": {"type": "text/javascript", "source": "source.first + ' ' + source.last"}},
    {"target": "status", "default": "active", "condition": "/linkQualifier eq \"default\""}
  ],
  "policies": [
    {"situation": "CONFIRMED", "action": "UPDATE"},
    {"situation": "ABSENT", "action": {"type": "text/javascript", "source": "'CREATE'"}, "comment": "x"}
  ],
  "taskThreads": "4", "runTargetPhase": "false"
}, {"name": "back", "source": "managed/user", "target": "system/csv/account", "links": "csv_user", "linkQualifiers": ["a", "b"]}]}`
	tests := []struct {
		name, file, wantErr string
	}{
		{"good", good, ""},
		{"unknown key", `{"mappings": [{"name": "m", "source": "managed/a", "target": "managed/b", "polices": []}]}`, `sync.json:1:75: mappings.0: unknown key "polices"`},
		{"bad situation", `{"mappings": [{"name": "m", "source": "managed/a", "target": "managed/b",
 "policies": [{"situation": "CONFIRMD", "action": "UPDATE"}]}]}`, "sync.json:2:29"},
		{"bad action", `{"mappings": [{"name": "m", "source": "managed/a", "target": "managed/b",
 "policies": [{"situation": "CONFIRMED", "action": "UPDATES"}]}]}`, "sync.json:2:"},
		{"bad script", `{"mappings": [{"name": "m", "source": "managed/a", "target": "managed/b",
 "validSource": {"type": "text/javascript", "source": "source.x ==="}}]}`, "sync.json:2:"},
		{"bad filter", `{"mappings": [{"name": "m", "source": "managed/a", "target": "managed/b",
 "sourceCondition": "/a eq"}]}`, "sync.json:2:21"},
		{"bad resource", `{"mappings": [{"name": "m", "source": "managed/", "target": "managed/b"}]}`, "sync.json:1:39"},
		{"duplicate", `{"mappings": [{"name": "m", "source": "managed/a", "target": "managed/b"},
 {"name": "m", "source": "managed/a", "target": "managed/b"}]}`, "declared twice"},
		{"bad links", `{"mappings": [{"name": "m", "source": "managed/a", "target": "managed/b", "links": "z"}]}`, `no mapping called "z"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, "sync.json", tc.file)
			d, err := Load(dir, LoadOptions{Env: noEnv, CheckScript: compileJS})
			if err != nil {
				t.Fatal(err)
			}
			errs := d.AllErrors()
			if tc.wantErr == "" {
				for _, e := range errs {
					t.Error(e)
				}
				return
			}
			if len(errs) == 0 || !strings.Contains(errs[0].Error(), tc.wantErr) {
				t.Fatalf("errors %v, want one containing %q", errs, tc.wantErr)
			}
		})
	}

	dir := t.TempDir()
	write(t, dir, "sync.json", good)
	d, err := Load(dir, LoadOptions{Env: noEnv, CheckScript: compileJS})
	if err != nil {
		t.Fatal(err)
	}
	m, ok := d.Mapping("csv_user")
	if !ok || len(d.Mappings) != 2 || d.Mappings[1].Name != "back" {
		t.Fatalf("mappings %v", d.Mappings)
	}
	if m.TaskThreads != 4 || m.RunTargetPhase || !m.PrefetchLinks || m.AllowEmptySourceSet || m.Links != "csv_user" ||
		len(m.Properties) != 3 || !m.Properties[1].HasSource || m.Properties[1].Source != "" || m.Properties[1].Transform == nil ||
		m.Properties[2].HasSource || m.Properties[2].Default != "active" || m.Properties[2].Condition.Filter == "" ||
		len(m.Policies) != 2 || m.Policies[1].ActionScript == nil || len(m.Correlations) != 1 || m.Correlations[0].LinkQualifier != "default" ||
		strings.Join(m.LinkQualifiers, ",") != "default" || strings.Join(d.Mappings[1].LinkQualifiers, ",") != "a,b" {
		t.Errorf("mapping %+v", m)
	}

	// A bad file keeps the last good mappings.
	write(t, dir, "sync.json", `{"mappings": [{"name": "m"}]}`)
	d2, err := Load(dir, LoadOptions{Env: noEnv, Previous: d})
	if err != nil {
		t.Fatal(err)
	}
	if d2.Valid() || len(d2.Mappings) != 2 {
		t.Errorf("bad file: valid %v, %d mappings", d2.Valid(), len(d2.Mappings))
	}
}
