package migrate

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"sundial/engine/store"
)

func TestLoad(t *testing.T) {
	ms, err := Load(fstest.MapFS{
		"m/0002_runs.sql": {Data: []byte("B")},
		"m/0001_init.sql": {Data: []byte("A")},
	}, "m")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Version != 1 || ms[0].Name != "init" || ms[1].SQL != "B" || Latest(ms) != 2 {
		t.Fatalf("Load = %+v", ms)
	}
	for name, fs := range map[string]fstest.MapFS{
		"gap":      {"m/0001_a.sql": {}, "m/0003_c.sql": {}},
		"dup":      {"m/0001_a.sql": {}, "m/0001_b.sql": {}},
		"bad name": {"m/1_a.sql": {}},
		"empty":    {"m": {Mode: fs.ModeDir}},
	} {
		if _, err := Load(fs, "m"); err == nil {
			t.Errorf("%s: Load succeeded, want an error", name)
		}
	}
}

func TestPending(t *testing.T) {
	ms := []Migration{{Version: 1}, {Version: 2}, {Version: 3}}
	for current, want := range map[int]int{0: 3, 1: 2, 3: 0} {
		p, err := Pending(ms, current)
		if err != nil || len(p) != want {
			t.Errorf("Pending(%d) = %d, %v; want %d", current, len(p), err, want)
		}
	}
	_, err := Pending(ms, 7)
	var sve *store.SchemaVersionError
	if !errors.As(err, &sve) || !strings.Contains(err.Error(), "version 7 is newer than this sundial supports (3)") {
		t.Fatalf("Pending(7) = %v", err)
	}
}
