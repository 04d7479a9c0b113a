package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sundial/engine/store"
	"sundial/engine/store/storetest"
)

// importDir is a conf directory declaring user, with the store beside it.
func importDir(t *testing.T) (conf, db string) {
	t.Helper()
	dir := t.TempDir()
	conf = filepath.Join(dir, "conf")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(conf, "managed.json"), []byte(`{"objects": [{"name": "user"}, {"name": "role"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return conf, filepath.Join(dir, "sundial.db")
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func storedUsers(t *testing.T, db, filter string) []store.Object {
	t.Helper()
	return storedObjects(t, db, "user", filter)
}

// storedObjects are the objects of typ in the store db that match filter.
func storedObjects(t *testing.T, db, typ, filter string) []store.Object {
	t.Helper()
	s, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	objs, _ := store.ObjectsOf(s)
	return storetest.QueryObjects(t, objs, typ, filter)
}

func TestImportFormats(t *testing.T) {
	var array, lines strings.Builder
	array.WriteString("[\n")
	for i := range 2500 {
		if i > 0 {
			array.WriteString(",\n")
		}
		fmt.Fprintf(&array, `  {"_id": "u%d", "userName": "user%d", "n": %d}`, i, i, i)
		fmt.Fprintf(&lines, `{"_id": "l%d", "userName": "line%d"}`+"\n", i, i)
	}
	array.WriteString("\n]\n")
	for _, tc := range []struct {
		name, file, content string
		want                int
	}{
		{"array", "users.json", array.String(), 2500},
		{"lines", "users.jsonl", lines.String(), 2500},
		{"csv", "users.csv", "_id,userName,mail\nc1,alice,alice@example.com\nc2,bob,\n", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf, db := importDir(t)
			var out, errOut bytes.Buffer
			err := runImport(t.Context(), importOptions{conf: conf, store: db, format: "auto", batch: 1000, progress: "lines"},
				"managed/user", writeFile(t, tc.file, tc.content), &out, &errOut)
			if err != nil {
				t.Fatalf("%v\n%s", err, errOut.String())
			}
			if got := len(storedUsers(t, db, "true")); got != tc.want {
				t.Errorf("%d objects stored, want %d", got, tc.want)
			}
			if !strings.Contains(out.String(), fmt.Sprintf("imported %d objects into managed/user", tc.want)) {
				t.Errorf("stdout %q", out.String())
			}
		})
	}
}

// TestImportRejects reports each bad line by number and imports the rest.
func TestImportRejects(t *testing.T) {
	conf, db := importDir(t)
	array := "[\n  {\"_id\": \"a\"},\n  [1],\n  {\"_id\": 5},\n  {\"_id\": \"a\"},\n  {\"_id\": \"b\"}\n]"
	var out, errOut bytes.Buffer
	err := runImport(t.Context(), importOptions{conf: conf, store: db, format: "auto", batch: 2, progress: "none"},
		"managed/user", writeFile(t, "x.json", array), &out, &errOut)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("err = %v, want exit status 1", err)
	}
	got := errOut.String()
	for _, want := range []string{"x.json:3: not a JSON object", "x.json:4: _id is not a non-empty string", "x.json:5: an object with this id exists already"} {
		if !strings.Contains(got, want) {
			t.Errorf("stderr %q lacks %q", got, want)
		}
	}
	if n := len(storedUsers(t, db, "true")); n != 2 {
		t.Errorf("%d stored, want 2", n)
	}
	// A broken array stops the import; the batches before it stay.
	broken := "[{\"_id\": \"c\"}, {\"_id\": \"d\"},\n{\"_id\": \"e\"}, {\"_id\": ]"
	err = runImport(t.Context(), importOptions{conf: conf, store: db, format: "auto", batch: 2, progress: "none"},
		"managed/user", writeFile(t, "b.json", broken), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "line 2: the JSON array is broken here") {
		t.Fatalf("broken array: err = %v", err)
	}
	if n := len(storedUsers(t, db, `_id eq "c" or _id eq "d"`)); n != 2 {
		t.Errorf("the batch before the break: %d stored, want 2", n)
	}
}

func TestImportUndeclaredType(t *testing.T) {
	conf, db := importDir(t)
	var out, errOut bytes.Buffer
	err := runImport(t.Context(), importOptions{conf: conf, store: db, format: "auto", batch: 10, progress: "none"},
		"managed/device", writeFile(t, "x.jsonl", "{}\n"), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "managed/device is not declared") || !strings.Contains(err.Error(), "declared: user, role") {
		t.Fatalf("err = %v", err)
	}
	if err := runImport(t.Context(), importOptions{conf: conf, store: db, format: "auto", batch: 10}, "user", "x", &out, &errOut); err == nil {
		t.Fatal("a target without managed/ was accepted")
	}
}

// TestImportCorpusCSV imports IDM's sample HR and CSV-connector files (in
// the shared corpus, outside the repository), with uid (or username) as
// the id.
func TestImportCorpusCSV(t *testing.T) {
	const dir = "../../../shared/corpus/forgerock-sync"
	files, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
	var picked []string
	for _, f := range files {
		if strings.HasSuffix(f, "__hr.csv") || strings.HasSuffix(f, "__csvConnectorData.csv") {
			picked = append(picked, f)
		}
	}
	if len(picked) == 0 {
		t.Skipf("SKIPPED: no IDM sample CSV files under %s (the corpus lives outside the repository)", dir)
	}
	for _, f := range picked {
		head, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		idField := "uid"
		if header, _, _ := strings.Cut(string(head), "\n"); !strings.Contains(header, `uid`) {
			idField = "username"
		}
		conf, db := importDir(t)
		var out, errOut bytes.Buffer
		err = runImport(t.Context(), importOptions{conf: conf, store: db, format: "auto", idField: idField, batch: 1000, progress: "none"},
			"managed/user", f, &out, &errOut)
		if err != nil {
			t.Errorf("%s: %v\n%s", filepath.Base(f), err, errOut.String())
			continue
		}
		users := storedUsers(t, db, "true")
		if len(users) < 2 {
			t.Errorf("%s: %d users", filepath.Base(f), len(users))
			continue
		}
		b, _ := json.Marshal(users[0].Content)
		t.Logf("%s: %d users, first %s", filepath.Base(f), len(users), b)
	}
}

// TestImportProgress: a bar redrawn in place when asked for one, a plain
// line per 10 batches otherwise.
func TestImportProgress(t *testing.T) {
	var lines strings.Builder
	for i := range 50 {
		fmt.Fprintf(&lines, "{\"_id\": \"p%d\"}\n", i)
	}
	file := writeFile(t, "p.jsonl", lines.String())
	for _, tc := range []struct{ mode, want string }{
		{"bar", "\r[##############################] 100% 50 imported, 0 rejected"},
		{"lines", "import: line 50, 50 imported, 0 rejected"},
	} {
		conf, db := importDir(t)
		var out, errOut bytes.Buffer
		if err := runImport(t.Context(), importOptions{conf: conf, store: db, format: "auto", batch: 5, progress: tc.mode},
			"managed/user", file, &out, &errOut); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%s: stderr %q lacks %q", tc.mode, errOut.String(), tc.want)
		}
	}
}
