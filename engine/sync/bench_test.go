package sync_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"sundial/engine/config"
	"sundial/engine/connector"
	"sundial/engine/managed"
	"sundial/engine/store"
	"sundial/engine/store/sqlite"
	"sundial/engine/sync"
	"sundial/internal/benchenv"
)

const benchMapping = `{"mappings": [{
  "name": "srcToUser", "source": "managed/src", "target": "managed/user",
  "correlationQuery": {"type": "text/javascript", "source": "({_queryFilter: 'userName eq \"' + source.uid + '\"'})"},
  "properties": [
    {"source": "uid", "target": "userName"},
    {"source": "firstName", "target": "givenName"},
    {"source": "lastName", "target": "sn"},
    {"source": "email", "target": "mail"}
  ],
  "policies": [{"situation": "ABSENT", "action": "CREATE"}, {"situation": "CONFIRMED", "action": "UPDATE"}]
}]}`

// benchRows is the source size of BenchmarkReconcile (SUNDIAL_BENCH_ROWS
// overrides it).
func benchRows() int {
	if n, err := strconv.Atoi(os.Getenv("SUNDIAL_BENCH_ROWS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

// BenchmarkReconcile reconciles 100,000 managed/src objects into an empty
// managed/user on SQLite (rows/s), then again with 1 % of the sources
// changed (rows/s of the re-run; only those rows are written). peak-RSS-MiB
// is the process's high-water mark after both.
func BenchmarkReconcile(b *testing.B) {
	n := benchRows()
	for range b.N {
		b.StopTimer()
		ctx := b.Context()
		dir := b.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "sync.json"), []byte(benchMapping), 0o600); err != nil {
			b.Fatal(err)
		}
		d, err := config.Load(dir, config.LoadOptions{Env: func(string) (string, bool) { return "", false }})
		if err != nil || !d.Valid() {
			b.Fatal(err, d.AllErrors())
		}
		st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "s.db"))
		if err != nil {
			b.Fatal(err)
		}
		objs, _ := store.ObjectsOf(st)
		for i := 0; i < n; i += 1000 {
			var batch []store.NewObject
			for j := i; j < min(i+1000, n); j++ {
				batch = append(batch, store.NewObject{ID: fmt.Sprintf("r%06d", j), Content: map[string]any{
					"uid": fmt.Sprintf("user%06d", j), "firstName": "Given", "lastName": fmt.Sprintf("Sn%d", j), "email": fmt.Sprintf("user%d@example.com", j)}})
			}
			if _, err := objs.CreateObjects(ctx, store.CreateObjectsParams{Type: "src", Objects: batch}); err != nil {
				b.Fatal(err)
			}
		}
		svc, err := sync.NewService(sync.Config{Store: st, Mappings: func() []*config.Mapping { return d.Mappings },
			Resolve: func(r string) (connector.ObjectSet, func(), error) {
				return managed.NewSet(objs, strings.TrimPrefix(r, "managed/")), nil, nil
			}})
		if err != nil {
			b.Fatal(err)
		}
		benchReconcileTwice(b, svc, "srcToUser", n, func() {
			for j := 0; j < n; j += 100 {
				id := fmt.Sprintf("r%06d", j)
				if _, err := objs.ModifyObject(ctx, store.ModifyObjectParams{Type: "src", ID: id, Modify: func(c map[string]any) (map[string]any, error) {
					c["lastName"] = "Changed"
					return c, nil
				}}); err != nil {
					b.Fatal(err)
				}
			}
		})
		st.Close()
	}
}

// benchReconcileTwice times a first recon of mapping, which must create
// n targets, then, after change (not timed) altered 1 % of the sources, a
// re-run, which must update those n/100 and create none; it reports the
// rows per second of each and the process's peak RSS (VmHWM). The timer
// is stopped when it is called and when it returns.
func benchReconcileTwice(b *testing.B, svc *sync.Service, mapping string, n int, change func()) {
	b.Helper()
	ctx := b.Context()
	b.StartTimer()
	run, err := svc.Reconcile(ctx, sync.ReconParams{Mapping: mapping})
	if err != nil || run.State() != sync.StateSuccess || run.Counts().Created != n {
		b.Fatalf("first recon: %v %v %+v", err, run.Err(), run.Counts())
	}
	first := b.Elapsed()
	b.StopTimer()
	change()
	b.StartTimer()
	again, err := svc.Reconcile(ctx, sync.ReconParams{Mapping: mapping})
	if err != nil || again.State() != sync.StateSuccess || again.Counts().Updated != n/100 || again.Counts().Created != 0 {
		b.Fatalf("re-run: %v %v %+v", err, again.Err(), again.Counts())
	}
	second := b.Elapsed() - first
	b.StopTimer()
	b.ReportMetric(float64(n)/first.Seconds(), "rows/s")
	b.ReportMetric(float64(n)/second.Seconds(), "rerun-rows/s")
	if rss := benchenv.PeakRSS(); rss >= 0 {
		b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
	}
}
