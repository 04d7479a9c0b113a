package csvfile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"sundial/engine/config"
	"sundial/engine/connector"
	"sundial/engine/query"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// readAll parses data into records, or the error's text.
func readAll(data []byte, quote, delim rune) ([][]cell, error) {
	rd := newReader(bytes.NewReader(data), quote, delim)
	var out [][]cell
	for {
		rec, err := rd.next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, slices.Clone(rec))
	}
}

func showRecords(recs [][]cell, err error) string {
	var b strings.Builder
	for _, r := range recs {
		for i, c := range r {
			if i > 0 {
				b.WriteString(" | ")
			}
			if c.null {
				b.WriteString("<null>")
			} else {
				fmt.Fprintf(&b, "%q", c.value)
			}
		}
		b.WriteString("\n")
	}
	if err != nil {
		fmt.Fprintf(&b, "error: %v\n", err)
	}
	return b.String()
}

// TestParseGolden reads each testdata/parse/*.csv and compares its
// records with the .golden file beside it.
func TestParseGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/parse/*.csv")
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got := showRecords(readAll(data, '"', delimiterOf(f)))
			golden := strings.TrimSuffix(f, ".csv") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// delimiterOf is the field delimiter of a test file, by its name.
func delimiterOf(file string) rune {
	switch {
	case strings.Contains(file, "pipe-backup-1"):
		return '.' // the OpenICF test of a "." delimiter
	case strings.Contains(file, "pipe"):
		return '|'
	}
	return ','
}

// roundTrip writes recs and reads them back.
func roundTrip(t testing.TB, recs [][]cell, quote, delim rune, newline string) [][]cell {
	var buf bytes.Buffer
	w := newWriter(&buf, quote, delim, newline)
	for _, r := range recs {
		if err := w.write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.flush(); err != nil {
		t.Fatal(err)
	}
	back, err := readAll(buf.Bytes(), quote, delim)
	if err != nil {
		t.Fatalf("re-reading %q: %v", buf.String(), err)
	}
	return back
}

// FuzzReader: whatever parses writes back to records equal to it.
func FuzzReader(f *testing.F) {
	files, _ := filepath.Glob("testdata/parse/*.csv")
	for _, file := range files {
		data, _ := os.ReadFile(file)
		f.Add(data)
	}
	f.Add([]byte("a,b\n\"\"\"\",\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := readAll(data, '"', ',')
		if err != nil {
			return
		}
		// A record of one null cell is a blank line, which is skipped.
		recs = slices.DeleteFunc(recs, func(r []cell) bool { return len(r) == 1 && r[0].null })
		back := roundTrip(t, recs, '"', ',', "\r\n")
		if showRecords(back, nil) != showRecords(recs, nil) {
			t.Fatalf("round trip of %q:\n%s\nbecame\n%s", data, showRecords(recs, nil), showRecords(back, nil))
		}
	})
}

// syncCorpusDir holds real CSV files of the OpenICF connector's tests and
// IDM's samples.
const syncCorpusDir = "../../../../shared/corpus/forgerock-sync"

// TestCorpusFiles parses every CSV file of the corpus (snapshots
// included) and writes it back: the records survive the round trip; the
// files the OpenICF tests keep malformed fail.
func TestCorpusFiles(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(syncCorpusDir, "*.csv*"))
	if len(files) == 0 {
		t.Skipf("SKIPPED: no CSV file under %s (the corpus lives outside the repository)", syncCorpusDir)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			delim := delimiterOf(f)
			recs, err := readAll(data, '"', delim)
			if err != nil {
				t.Fatalf("%v", err)
			}
			if len(recs) == 0 {
				return
			}
			for i, r := range recs {
				if len(r) != len(recs[0]) && !strings.Contains(f, "missing-column") && !strings.Contains(f, "bad") {
					t.Errorf("record %d: %d fields, header %d", i, len(r), len(recs[0]))
				}
			}
			if back := roundTrip(t, recs, '"', delim, "\n"); showRecords(back, nil) != showRecords(recs, nil) {
				t.Errorf("round trip changed the records")
			}
		})
	}
}

// TestCorpusSample reads the sync-with-csv sample's data file through a
// connector configured by the sample's provisioner keys.
func TestCorpusSample(t *testing.T) {
	src := filepath.Join(syncCorpusDir, "OpenIdentityPlatform_OpenIDM@3d7a7e9__openidm-samples__misc__src__main__resources__data__csvConnectorData.csv")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Skipf("SKIPPED: %v (the corpus lives outside the repository)", err)
	}
	s := newSet(t, string(data), map[string]any{"csvFile": "data.csv"}, nil)
	var ids []string
	if err := s.Query(context.Background(), connector.Query{}, func(o connector.Object) error {
		ids = append(ids, o["_id"].(string))
		if o["roles"] == nil || o["email"] == nil {
			t.Errorf("%v", o)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || ids[0] != "bjensen" || ids[1] != "scarter" {
		t.Errorf("ids %v", ids)
	}
	o, err := s.Read(context.Background(), "scarter")
	if err != nil || o["roles"] != "openidm-admin,openidm-authorized" {
		t.Errorf("%v %v", o, err)
	}
}

// newSet writes content to data.csv in a temporary project directory and
// returns the account set of a connector over it.
func newSet(t *testing.T, content string, props map[string]any, ot *config.ObjectType) *Set {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "data.csv"), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig(props, dir)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]*config.ObjectType{}
	if ot != nil {
		types[ObjectType] = ot
	}
	c, err := New("csv", cfg, types)
	if err != nil {
		t.Fatal(err)
	}
	set, err := c.Set(ObjectType)
	if err != nil {
		t.Fatal(err)
	}
	return set.(*Set)
}

func fileOf(t *testing.T, s *Set) string {
	t.Helper()
	b, err := os.ReadFile(s.cfg.File)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		name  string
		props map[string]any
		want  string // Config fields, or the error
	}{
		{"2.x defaults", map[string]any{"csvFile": "/d/hr.csv"}, `/d/hr.csv uid uid password '"' ',' "\n" 3 ""`},
		{"2.x keys", map[string]any{"csvFile": "hr.csv", "headerUid": "id", "headerPassword": "pw", "quoteCharacter": "'", "fieldDelimiter": "|", "newlineString": "\r\n", "syncFileRetentionCount": int64(5)},
			`/p/hr.csv id id pw '\'' '|' "\r\n" 5 ""`},
		{"1.5.0 headerName", map[string]any{"csvFile": "/hr.csv", "headerName": "username"}, `/hr.csv uid username password '"' ',' "\n" 3 ""`},
		{"1.1 keys", map[string]any{"filePath": "/hr.csv", "uniqueAttribute": "uid", "nameAttribute": "name", "passwordAttribute": "password", "encoding": "utf-8", "valueQualifier": "\"", "usingMultivalue": true, "multivalueDelimiter": ";"},
			`/hr.csv uid name password '"' ',' "\n" 10 ";"`},
		{"1.1 latin-1", map[string]any{"filePath": "/hr.csv", "uniqueAttribute": "uid", "encoding": "ISO-8859-1", "preserveLastTokens": int64(2)}, `/hr.csv uid uid password '"' ',' "\n" 2 ""`},
		{"no file", map[string]any{}, `configurationProperties.csvFile (or filePath): missing`},
		{"long quote", map[string]any{"csvFile": "x", "quoteCharacter": "''"}, `configurationProperties.quoteCharacter: want one character, got "''"`},
		{"bad encoding", map[string]any{"csvFile": "x", "encoding": "klingon"}, `configurationProperties.encoding: unknown character set "klingon"`},
		{"same quote and delimiter", map[string]any{"csvFile": "x", "fieldDelimiter": "\""}, `configurationProperties: the quote '"' and the delimiter '"' must differ and not be newlines`},
		{"bad newline", map[string]any{"csvFile": "x", "newlineString": "|"}, `configurationProperties.newlineString: want \n, \r\n or \r, got "|"`},
		{"not a string", map[string]any{"csvFile": int64(3)}, `configurationProperties.csvFile: want a string, got 3`},
		{"bad retention", map[string]any{"csvFile": "x", "syncFileRetentionCount": int64(0)}, `configurationProperties.syncFileRetentionCount: want a positive integer, got 0`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig(tc.props, "/p")
			got := ""
			if err != nil {
				got = err.Error()
			} else {
				got = fmt.Sprintf("%s %s %s %s %q %q %q %d %q", c.File, c.UID, c.Name, c.Password, c.Quote, c.Delimiter, c.Newline, c.SnapshotsKept, c.Multivalue)
			}
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// accountType is the object type of IDM's CSV samples.
func accountType() *config.ObjectType {
	return &config.ObjectType{Name: "account", NativeType: "__ACCOUNT__", Properties: []config.ObjectProperty{
		{Name: "email", NativeName: "mail", Type: "string"},
		{Name: "groups", NativeName: "groups", Type: "array"},
		{Name: "name", NativeName: "__NAME__", Type: "string"},
		{Name: "password", NativeName: "__PASSWORD__", Type: "string"},
	}}
}

func TestCRUD(t *testing.T) {
	ctx := context.Background()
	s := newSet(t, "\"uid\", \"mail\", \"groups\", \"password\"\n\"a\", \"a@x\", \"g1;g2\", \"pw\"\n", map[string]any{"filePath": "data.csv", "uniqueAttribute": "uid", "usingMultivalue": true}, accountType())
	if s.Resource() != "system/csv/account" {
		t.Error(s.Resource())
	}
	a, err := s.Read(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := json.Marshal(a); string(got) != `{"_id":"a","email":"a@x","groups":["g1","g2"],"name":"a"}` {
		t.Errorf("read %s", got)
	}
	if _, err := s.Read(ctx, "nosuch"); !errors.Is(err, connector.ErrNotFound) {
		t.Errorf("read of a missing row: %v", err)
	}
	b, err := s.Create(ctx, "", connector.Object{"name": "b", "email": "b@x", "password": "secret"})
	if err != nil || b["_id"] != "b" {
		t.Fatalf("%v %v", b, err)
	}
	if _, err := s.Create(ctx, "b", connector.Object{"email": "again"}); !errors.Is(err, connector.ErrConflict) {
		t.Errorf("second create: %v", err)
	}
	if _, err := s.Create(ctx, "c", connector.Object{"shoeSize": "9"}); err == nil || !strings.Contains(err.Error(), `unknown property "shoeSize"`) {
		t.Errorf("unknown property: %v", err)
	}
	if _, err := s.Create(ctx, "", connector.Object{"email": "x"}); err == nil {
		t.Error("a create without id")
	}
	u, err := s.Update(ctx, "a", "", connector.Object{"_id": "a", "email": "new@x"})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := json.Marshal(u); string(got) != `{"_id":"a","email":"new@x","name":"a"}` {
		t.Errorf("update %s", got)
	}
	if _, err := s.Update(ctx, "a", "", connector.Object{"name": "b"}); !errors.Is(err, connector.ErrConflict) {
		t.Errorf("rename onto b: %v", err)
	}
	if r, err := s.Update(ctx, "a", "", connector.Object{"name": "a2", "email": "r@x"}); err != nil || r["_id"] != "a2" {
		t.Errorf("rename: %v %v", r, err)
	}
	if _, err := s.Update(ctx, "nosuch", "", connector.Object{"email": "x"}); !errors.Is(err, connector.ErrNotFound) {
		t.Errorf("update of a missing row: %v", err)
	}
	const want = "\"uid\",\"mail\",\"groups\",\"password\"\n\"a2\",\"r@x\",,\"pw\"\n\"b\",\"b@x\",,\"secret\"\n"
	if got := fileOf(t, s); got != want {
		t.Errorf("file\n%s\nwant\n%s", got, want)
	}
	if err := s.Delete(ctx, "a2", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "a2", ""); !errors.Is(err, connector.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if err := s.Delete(ctx, "b", ""); err != nil {
		t.Fatal(err)
	}
	if got := fileOf(t, s); got != "\"uid\",\"mail\",\"groups\",\"password\"\n" {
		t.Errorf("empty file %q", got)
	}
	if _, err := s.Create(ctx, "z", connector.Object{"groups": []any{"x", "y"}}); err != nil {
		t.Fatal(err)
	}
	if z, _ := s.Read(ctx, "z"); fmt.Sprint(z["groups"]) != "[x y]" {
		t.Errorf("z %v", z)
	}
	entries, _ := os.ReadDir(filepath.Dir(s.cfg.File))
	if len(entries) != 1 {
		t.Errorf("files left beside the CSV: %v", entries)
	}
}

func TestQuery(t *testing.T) {
	ctx := context.Background()
	s := newSet(t, "uid,mail,dept\na,a@x,eng\nb,b@x,hr\nc,,eng\n", map[string]any{"csvFile": "data.csv"}, nil)
	for _, tc := range []struct{ filter, want string }{
		{``, "a b c"},
		{`dept eq "eng"`, "a c"},
		{`mail pr`, "a b"},
		{`_id sw "b" or dept eq "ENG"`, "a b c"},
		{`!(dept eq "eng")`, "b"},
	} {
		var q connector.Query
		if tc.filter != "" {
			f, err := query.Parse(tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			q.Filter = f
		}
		for _, idsOnly := range []bool{false, true} {
			q.IDsOnly = idsOnly
			var ids []string
			err := s.Query(ctx, q, func(o connector.Object) error {
				if idsOnly && len(o) != 1 {
					t.Errorf("ids only: %v", o)
				}
				ids = append(ids, o["_id"].(string))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(ids, " "); got != tc.want {
				t.Errorf("%s (ids only %v): %s, want %s", tc.filter, idsOnly, got, tc.want)
			}
		}
	}
	stop := errors.New("enough")
	n := 0
	if err := s.Query(ctx, connector.Query{}, func(connector.Object) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("a failing callback: %v after %d", err, n)
	}
}

func TestBadFiles(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ name, content, want string }{
		{"no uid column", "id,name\n1,x\n", `the header has no column "uid"`},
		{"short row", "uid,name\na\n", `data.csv:2: 1 fields, the header has 2`},
		{"empty uid", "uid,name\n,x\n", `data.csv:2: no uid`},
		{"empty file", "", `no header line`},
		{"unclosed quote", "uid,name\n\"a,x\n", `data.csv:line 2: a quoted field is not closed`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSet(t, tc.content, map[string]any{"csvFile": "data.csv"}, nil)
			err := s.Query(ctx, connector.Query{}, func(connector.Object) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("query: %v, want %q", err, tc.want)
			}
			before := fileOf(t, s)
			if _, err := s.Create(ctx, "new", connector.Object{}); err == nil {
				t.Error("a create into a bad file succeeded")
			}
			if fileOf(t, s) != before {
				t.Error("a failed create changed the file")
			}
		})
	}
}

func TestEncodingAndNewline(t *testing.T) {
	ctx := context.Background()
	s := newSet(t, "uid;name\r\n\xe9mile;Z\xfcrich\r\n", map[string]any{"filePath": "data.csv", "uniqueAttribute": "uid", "fieldDelimiter": ";", "encoding": "iso-8859-1", "newlineString": "\r\n"}, nil)
	o, err := s.Read(ctx, "émile")
	if err != nil || o["name"] != "Zürich" {
		t.Fatalf("%v %v", o, err)
	}
	if _, err := s.Create(ctx, "ö", connector.Object{"name": "a;b"}); err != nil {
		t.Fatal(err)
	}
	if got := fileOf(t, s); got != "\"uid\";\"name\"\r\n\"\xe9mile\";\"Z\xfcrich\"\r\n\"\xf6\";\"a;b\"\r\n" {
		t.Errorf("file %q", got)
	}
}

// TestConcurrentWrites: creates from many goroutines all land.
func TestConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	s := newSet(t, "uid,n\n", map[string]any{"csvFile": "data.csv"}, nil)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Create(ctx, fmt.Sprint("u", i), connector.Object{"n": fmt.Sprint(i)}); err != nil {
				t.Error(err)
			}
			if _, err := s.Read(ctx, fmt.Sprint("u", i)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	n := 0
	_ = s.Query(ctx, connector.Query{IDsOnly: true}, func(connector.Object) error { n++; return nil })
	if n != 20 {
		t.Errorf("%d rows", n)
	}
}
