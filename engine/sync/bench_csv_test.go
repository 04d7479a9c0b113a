package sync_test

import (
	"bufio"
	"fmt"
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

const benchCSVProvisioner = `{
  "name": "hr",
  "connectorRef": {"connectorName": "org.forgerock.openicf.csvfile.CSVFileConnector"},
  "configurationProperties": {"csvFile": "&{launcher.project.location}/data/hr.csv", "headerUid": "uid"},
  "objectTypes": {"account": {"nativeType": "__ACCOUNT__", "properties": {
    "uid": {"type": "string", "nativeName": "__NAME__"}, "firstName": {"type": "string"},
    "lastName": {"type": "string"}, "email": {"type": "string"}}}}
}`

const benchCSVMapping = `{"mappings": [{
  "name": "hrToUser", "source": "system/hr/account", "target": "managed/user",
  "correlationQuery": {"type": "text/javascript", "source": "({_queryFilter: 'userName eq \"' + source.uid + '\"'})"},
  "properties": [
    {"source": "uid", "target": "userName"},
    {"source": "firstName", "target": "givenName"},
    {"source": "lastName", "target": "sn"},
    {"source": "email", "target": "mail"}
  ]
}]}`

// writeBenchCSV writes n rows; every 100th row's lastName is changed
// when changed is set.
func writeBenchCSV(b *testing.B, path string, n int, changed bool) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "uid,firstName,lastName,email")
	for j := range n {
		last := fmt.Sprintf("Sn%d", j)
		if changed && j%100 == 0 {
			last = "Changed"
		}
		fmt.Fprintf(w, "user%06d,Given,%s,user%d@example.com\n", j, last, j)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkReconcileCSV reconciles a CSV file of 100,000 rows
// (SUNDIAL_BENCH_ROWS) through the CSV connector into an empty
// managed/user on SQLite (rows/s), then the same file with 1 % of the rows
// changed (rerun-rows/s; only those rows are written).
func BenchmarkReconcileCSV(b *testing.B) {
	n := benchRows()
	for range b.N {
		b.StopTimer()
		ctx := b.Context()
		project := b.TempDir()
		conf := filepath.Join(project, "conf")
		for path, content := range map[string]string{"conf/sync.json": benchCSVMapping, "conf/provisioner.openicf-hr.json": benchCSVProvisioner} {
			_ = os.MkdirAll(filepath.Dir(filepath.Join(project, path)), 0o700)
			if err := os.WriteFile(filepath.Join(project, path), []byte(content), 0o600); err != nil {
				b.Fatal(err)
			}
		}
		_ = os.MkdirAll(filepath.Join(project, "data"), 0o700)
		csvPath := filepath.Join(project, "data", "hr.csv")
		writeBenchCSV(b, csvPath, n, false)
		d, err := config.Load(conf, config.LoadOptions{Env: func(string) (string, bool) { return "", false }})
		if err != nil || !d.Valid() {
			b.Fatal(err, d.AllErrors())
		}
		systems := system.New(nil)
		systems.Apply(d)
		st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "s.db"))
		if err != nil {
			b.Fatal(err)
		}
		plain, _ := store.ObjectsOf(st)
		// The managed objects as the daemon writes them: through implicit
		// sync (no mapping has managed/user as its source here), with
		// audit/activity off, its default (SUNDIAL_BENCH_ACTIVITY=1 turns
		// it on).
		var svc *sync.Service
		activity := os.Getenv("SUNDIAL_BENCH_ACTIVITY") == "1"
		objs := sync.SyncedObjects{Objects: plain, Service: func() *sync.Service { return svc }, Activity: func() bool { return activity }}
		svc, err = sync.NewService(sync.Config{Store: st, Mappings: func() []*config.Mapping { return d.Mappings },
			Resolve: func(r string) (connector.ObjectSet, func(), error) {
				if typ, ok := strings.CutPrefix(r, "managed/"); ok {
					return managed.NewSet(objs, typ), nil, nil
				}
				return systems.Acquire(r)
			}})
		if err != nil {
			b.Fatal(err)
		}
		benchReconcileTwice(b, svc, "hrToUser", n, func() { writeBenchCSV(b, csvPath, n, true) })
		st.Close()
		systems.Close()
	}
}
