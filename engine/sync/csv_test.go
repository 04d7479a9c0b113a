package sync_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sundial/engine/config"
	"sundial/engine/connector"
	"sundial/engine/managed"
	"sundial/engine/store"
	"sundial/engine/store/sqlite"
	"sundial/engine/sync"
	"sundial/engine/system"
)

const corpus = "../../../shared/corpus/forgerock-sync/"

// TestCorpusSyncWithCSV runs IDM's sync-with-csv sample (its sync.json,
// CSV provisioner and data, as the 5.0 build assembles them) over the
// CSV connector into managed/user, twice. The sample's roles transform
// needs lodash (require), which Sundial's scripts do not have: that one
// property is left out.
func TestCorpusSyncWithCSV(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(corpus + name)
		if err != nil {
			t.Skipf("SKIPPED: corpus file %s is not here: %v", name, err)
		}
		return b
	}
	syncFile := read("OpenIdentityPlatform_OpenIDM@3d7a7e9__openidm-samples__sync-with-csv__src__main__resources__conf__sync.json")
	prov := read("OpenIdentityPlatform_OpenIDM@3d7a7e9__openidm-samples__provisioners__src__main__resources__provisioner.openicf-csv.json")
	data := read("OpenIdentityPlatform_OpenIDM@3d7a7e9__openidm-samples__misc__src__main__resources__data__csvConnectorData.csv")
	var doc map[string]any
	if err := json.Unmarshal(syncFile, &doc); err != nil {
		t.Fatal(err)
	}
	m := doc["mappings"].([]any)[0].(map[string]any)
	var props []any
	for _, p := range m["properties"].([]any) {
		if p.(map[string]any)["target"] != "authzRoles" {
			props = append(props, p)
		}
	}
	m["properties"] = props
	syncFile, _ = json.Marshal(map[string]any{"mappings": []any{m}})

	project := t.TempDir()
	conf := filepath.Join(project, "conf")
	for path, b := range map[string][]byte{"conf/sync.json": syncFile, "conf/provisioner.openicf-csvfile.json": prov, "data/csvConnectorData.csv": data} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(project, path)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(project, path), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	d, err := config.Load(conf, config.LoadOptions{Env: func(string) (string, bool) { return "", false }})
	if err != nil || !d.Valid() {
		t.Fatalf("load: %v %v", err, d.AllErrors())
	}
	systems := system.New(nil)
	systems.Apply(d)
	t.Cleanup(systems.Close)
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	objs, _ := store.ObjectsOf(st)
	svc, err := sync.NewService(sync.Config{Store: st, Mappings: func() []*config.Mapping { return d.Mappings },
		Resolve: func(r string) (connector.ObjectSet, func(), error) {
			if typ, ok := strings.CutPrefix(r, "managed/"); ok {
				return managed.NewSet(objs, typ), nil, nil
			}
			return systems.Acquire(r)
		}})
	if err != nil {
		t.Fatal(err)
	}
	run, err := svc.Reconcile(t.Context(), sync.ReconParams{Mapping: "systemCsvfileAccounts_managedUser"})
	if err != nil || run.State() != sync.StateSuccess {
		t.Fatalf("recon: %v %v %v", err, run.Err(), run.Summary())
	}
	if c := run.Counts(); c.Created != 2 || c.Linked != 2 || c.SourceTotal != 2 || c.TargetTotal != 0 || c.Failed != 0 {
		t.Fatalf("counts %+v\n%v", c, run.Summary())
	}
	u, err := managed.NewSet(objs, "user").Read(t.Context(), "bjensen")
	if err != nil || u["userName"] != "bjensen" || u["givenName"] != "Barbara" || u["mail"] != "bjensen@example.com" || u["password"] != "Passw0rd" {
		t.Errorf("managed/user/bjensen: %v %v", u, err)
	}
	again, err := svc.Reconcile(t.Context(), sync.ReconParams{Mapping: "systemCsvfileAccounts_managedUser"})
	if err != nil || again.State() != sync.StateSuccess {
		t.Fatal(err)
	}
	if c := again.Counts(); c.Created+c.Updated+c.Deleted+c.Linked+c.Unlinked != 0 || again.Summary()["situationSummary"].(map[string]any)["CONFIRMED"] != 2 {
		t.Errorf("second recon: %+v %v", c, again.Summary()["situationSummary"])
	}
}
