package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestManagedCorpus loads the real managed.json files of the corpus, each
// as the managed.json of a conf directory.
func TestManagedCorpus(t *testing.T) {
	for _, tc := range []struct {
		file  string
		types []string
	}{
		{"ForgeRock_forgeops@1047f5f__docker__idm__config-profiles__cdk__conf__managed.json", []string{"user", "role", "assignment", "organization"}},
		{"OpenIdentityPlatform_OpenIDM__openidm-zip__src__main__resources__samples__usecase__conf__managed.json", []string{"user", "group", "role", "assignment"}},
	} {
		t.Run(tc.types[len(tc.types)-1], func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(corpusDir, tc.file))
			if os.IsNotExist(err) {
				t.Skipf("SKIPPED: the corpus file %s is not here (it lives outside the repository): %v", tc.file, err)
			}
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			write(t, dir, "managed.json", string(data))
			d, err := Load(dir, LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !d.Valid() {
				t.Fatalf("errors: %v", d.AllErrors())
			}
			if got := d.Managed.Names(); !slices.Equal(got, tc.types) {
				t.Errorf("types %v, want %v", got, tc.types)
			}
			user, ok := d.Managed.Type("user")
			if !ok || !json.Valid(user.Config) || !strings.Contains(string(user.Config), `"schema"`) {
				t.Errorf("user: %v %s", ok, user.Config)
			}
			if _, ok := d.Managed.Type("nosuch"); ok {
				t.Error("an undeclared type exists")
			}
		})
	}
}

func TestManagedErrors(t *testing.T) {
	for _, tc := range []struct{ name, content, want string }{
		{"duplicate", `{"objects": [{"name": "user"}, {"name": "user"}]}`, `managed.json:1:41: managed object type "user" is declared twice (objects 0 and 1)`},
		{"slash", `{"objects": [{"name": "a/b"}]}`, `managed.json:1:23`},
		{"no name", `{"objects": [{"schema": {}}]}`, `managed.json:1:14`},
		{"no objects", `{"object": []}`, `managed.json:1:1`},
		{"empty", ``, `empty managed object file`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, "managed.json", tc.content)
			d, err := Load(dir, LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			errs := d.AllErrors()
			if len(errs) == 0 || !strings.Contains(errs[0].Error(), tc.want) {
				t.Fatalf("errors %v, want one with %q", errs, tc.want)
			}
			if len(d.Managed.Objects) != 0 {
				t.Errorf("types %v from a bad file", d.Managed.Names())
			}
		})
	}
	// A file that breaks keeps the previous declaration.
	dir := t.TempDir()
	write(t, dir, "managed.json", `{"objects": [{"name": "user"}]}`)
	good, _ := Load(dir, LoadOptions{})
	write(t, dir, "managed.json", `{"objects": [{"name": 3}]}`)
	bad, _ := Load(dir, LoadOptions{Previous: good})
	if bad.Valid() || !slices.Equal(bad.Managed.Names(), []string{"user"}) {
		t.Errorf("after a bad edit: valid %v, types %v", bad.Valid(), bad.Managed.Names())
	}
}
