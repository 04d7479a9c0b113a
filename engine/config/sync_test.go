package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// syncCorpusDirs hold real IDM mapping files (outside the repository).
var syncCorpusDirs = []string{"../../../shared/corpus/forgerock-sync", corpusDir}

// TestSyncCorpus loads every real sync.json of the corpus in a conf
// directory with its own provisioners: the provisioner files of its conf
// directory in the corpus, else the ones its sample got at assembly (the
// provisioners directory of the same commit, by name). A provisioner still
// missing (the corpus does not hold it) is stubbed with the object types
// the mappings name and no properties, as the script files they reference
// are. None may have an error: every source, target and property target
// checked against a real provisioner must exist.
func TestSyncCorpus(t *testing.T) {
	n := 0
	var withReal atomic.Int64
	for _, dir := range syncCorpusDirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Logf("SKIPPED: corpus directory %s is not here: %v", dir, err)
			continue
		}
		names := make([]string, len(entries))
		for i, e := range entries {
			names[i] = e.Name()
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
				if copyOwnProvisioners(t, dir, names, e.Name(), conf, data) {
					withReal.Add(1)
				}
				stubScripts(t, conf, scripts)
				d, err := Load(conf, LoadOptions{Env: corpusEnv, ScriptsDir: scripts, CheckScript: compileJS})
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
	t.Cleanup(func() { t.Logf("%d sync files, %d of them with at least one real provisioner", n, withReal.Load()) })
}

// corpusEnv is deploymentEnv and the properties of the corpus's
// provisioners.
func corpusEnv(key string) (string, bool) {
	if v, ok := deploymentEnv(key); ok {
		return v, ok
	}
	return corpusProvisionerEnv(key)
}

// copyOwnProvisioners writes into conf the provisioners the sync file
// syncName (of the corpus directory dir, whose files are names) names:
// every provisioner of its conf directory in the corpus; then, for an
// OpenIDM sample, the one of that name its assembly copies in (from the
// commit's provisioners directory, or the sample's other directories);
// else a stub. It reports whether one was real.
func copyOwnProvisioners(t *testing.T, dir string, names []string, syncName string, conf string, data []byte) bool {
	t.Helper()
	types := map[string][]string{} // provisioner name → object types named
	for _, m := range itemsOf(decodeCorpusFile(t, syncName, data).get("mappings")) {
		for _, side := range []string{"source", "target"} {
			parts := strings.Split(str(m.get(side)), "/")
			if len(parts) == 3 && parts[0] == "system" && !slices.Contains(types[parts[1]], parts[2]) {
				types[parts[1]] = append(types[parts[1]], parts[2])
			}
		}
	}
	confPrefix := strings.TrimSuffix(syncName, "sync.json")
	samplePrefix := strings.TrimSuffix(confPrefix, "conf__")
	commit, _, _ := strings.Cut(syncName, "__")
	assembled := strings.HasPrefix(syncName, "OpenIdentityPlatform_OpenIDM@") &&
		(strings.Contains(syncName, "__samples__") || strings.Contains(syncName, "openidm-samples__"))
	have := map[string]bool{}
	pool := map[string]string{} // provisioner name → corpus file, for an assembled sample
	for _, candidate := range names {
		_, file, ok := strings.Cut(candidate, "__provisioner.openicf")
		if !ok {
			continue
		}
		file = "provisioner.openicf" + file
		switch {
		case strings.HasPrefix(candidate, confPrefix) && !strings.Contains(strings.TrimPrefix(candidate, confPrefix), "__"):
			b := readCorpusFile(t, dir, candidate)
			write(t, conf, file, string(b))
			have[corpusProvisionerName(t, candidate, file, b)] = true
		case assembled && strings.HasPrefix(candidate, commit+"__") &&
			(strings.Contains(candidate, "__provisioners__") || strings.HasPrefix(candidate, samplePrefix)):
			name := corpusProvisionerName(t, candidate, file, readCorpusFile(t, dir, candidate))
			if _, taken := pool[name]; !taken || strings.HasPrefix(candidate, samplePrefix) {
				pool[name] = candidate
			}
		}
	}
	real := len(have) > 0
	for name, objectTypes := range types {
		if have[name] {
			continue
		}
		file := "provisioner.openicf-" + name + ".json"
		if found, ok := pool[name]; ok {
			write(t, conf, file, string(readCorpusFile(t, dir, found)))
			real = true
			continue
		}
		stub := map[string]any{"name": name, "connectorRef": map[string]any{"connectorName": "stub"}, "objectTypes": map[string]any{}}
		for _, ot := range objectTypes {
			stub["objectTypes"].(map[string]any)[ot] = map[string]any{}
		}
		b, err := json.Marshal(stub)
		if err != nil {
			t.Fatal(err)
		}
		write(t, conf, file, string(b))
	}
	return real
}

func readCorpusFile(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeCorpusFile(t *testing.T, name string, data []byte) *node {
	t.Helper()
	c := &fileCtx{file: name}
	root := c.decode(data, false, nil, nil)
	if root == nil {
		t.Fatalf("%s: %v", name, c.errs)
	}
	return root
}

// corpusProvisionerName is the system/<name> a provisioner file makes.
func corpusProvisionerName(t *testing.T, corpusName, file string, data []byte) string {
	if n := str(decodeCorpusFile(t, corpusName, data).get("name")); n != "" {
		return n
	}
	return strings.TrimSuffix(strings.TrimPrefix(file, provisionerPrefix), ".json")
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

// wantLoadError loads dir and checks its first error contains want
// ("": no error at all).
func wantLoadError(t *testing.T, dir, want string) {
	t.Helper()
	d, err := Load(dir, LoadOptions{Env: noEnv, CheckScript: compileJS})
	if err != nil {
		t.Fatal(err)
	}
	errs := d.AllErrors()
	if want == "" {
		for _, e := range errs {
			t.Error(e)
		}
		return
	}
	if len(errs) == 0 || !strings.Contains(errs[0].Error(), want) {
		t.Fatalf("errors %v, want one containing %q", errs, want)
	}
}

// csvProvisioner is a CSV connector with its implied account type.
const csvProvisioner = `{"connectorRef": {"connectorName": "` + ConnectorCSV + `"}, "configurationProperties": {"csvFile": "u.csv"}}`

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
			write(t, dir, "provisioner.openicf-csv.json", csvProvisioner)
			wantLoadError(t, dir, tc.wantErr)
		})
	}

	dir := t.TempDir()
	write(t, dir, "sync.json", good)
	write(t, dir, "provisioner.openicf-csv.json", csvProvisioner)
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
