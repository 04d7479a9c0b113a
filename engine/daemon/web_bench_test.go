package daemon_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"sundial/engine/daemon"
	"sundial/engine/store/sqlite"
)

// Sizes of the web page's benchmark.
const (
	benchWebSchedules = 10_000
	benchWebRuns      = 1_000_000
)

// benchWebDir returns a directory kept across runs of the benchmark (the
// filled database takes a while to make): the conf directory of
// benchWebSchedules schedules and a SQLite store of benchWebRuns runs.
func benchWebDir(b *testing.B) (conf, scripts, dbPath string) {
	b.Helper()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("sundial-web-bench-%d-%d", benchWebSchedules, benchWebRuns))
	conf, scripts, dbPath = filepath.Join(dir, "conf"), filepath.Join(dir, "scripts"), filepath.Join(dir, "sundial.db")
	done := filepath.Join(dir, "complete")
	if _, err := os.Stat(done); err == nil && countRuns(b, dbPath) == benchWebRuns {
		return conf, scripts, dbPath
	}
	_ = os.RemoveAll(dir)
	for _, d := range []string{conf, scripts} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	writeFile(b, filepath.Join(conf, "access.json"), accessJSON(b))
	for i := range benchWebSchedules {
		writeFile(b, filepath.Join(conf, fmt.Sprintf("schedule-s%05d.json", i)), dailySchedule(i))
	}
	st, err := sqlite.Open(context.Background(), dbPath)
	if err != nil {
		b.Fatal(err)
	}
	st.Close()
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	// One statement: a run a minute per schedule, one in ten failed.
	const base = int64(1_700_000_000_000_000) // microseconds
	_, err = db.Exec(fmt.Sprintf(`INSERT INTO runs (id, schedule_id, scheduled_at, started_at, ended_at, node_id, status, error)
		WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %d)
		SELECT printf('s%%05d@%%d', i %% %d, i), printf('s%%05d', i %% %d),
			%d + (i / %d) * 60000000, %d + (i / %d) * 60000000 + 1500, %d + (i / %d) * 60000000 + 250000,
			'bench-node', CASE WHEN i %% 10 = 0 THEN 'failed' ELSE 'succeeded' END,
			CASE WHEN i %% 10 = 0 THEN 'Error: boom' ELSE '' END
		FROM n`, benchWebRuns-1, benchWebSchedules, benchWebSchedules,
		base, benchWebSchedules, base, benchWebSchedules, base, benchWebSchedules))
	if err != nil {
		b.Fatal(err)
	}
	writeFile(b, done, "")
	return conf, scripts, dbPath
}

func countRuns(b *testing.B, dbPath string) int {
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM runs`).Scan(&n); err != nil {
		return -1
	}
	return n
}

// BenchmarkWebPages renders every page of the web page, through HTTP on
// loopback, on a daemon with benchWebSchedules schedules and a SQLite store
// of benchWebRuns runs. The figures include the HTTP round trip.
func BenchmarkWebPages(b *testing.B) {
	conf, scripts, dbPath := benchWebDir(b)
	db, err := sqlite.Open(context.Background(), dbPath)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	// No pruning: the history stays as filled.
	bundle := start(b, conf, scripts, func(o *daemon.Options) {
		o.DB, o.Retention = db, daemon.Retention{KeepPerSchedule: -1, MaxAge: -1}
	})
	br := newBrowser(b, bundle)
	br.signIn("viewer")
	for _, p := range []struct{ name, path string }{
		{"schedules", "/ui/"},
		{"schedules-sorted-page-100", "/ui/schedules?sort=-next&page=100"},
		{"schedules-filtered", "/ui/schedules?q=s0999&state=enabled"},
		{"schedule-detail", "/ui/schedules/s00042"},
		{"timeline-24h", "/ui/timeline"},
		{"timeline-7d", "/ui/timeline?span=7d"},
		{"config", "/ui/config"},
		{"scans", "/ui/scans"},
		{"cluster", "/ui/cluster"},
		{"poll-50-rows", "/ui/poll?" + pollIDs(50)},
	} {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				if resp, body := br.get(p.path); resp.StatusCode != http.StatusOK {
					b.Fatalf("GET %s: %d\n%s", p.path, resp.StatusCode, body)
				}
			}
		})
	}
}

func pollIDs(n int) string {
	s := ""
	for i := range n {
		if i > 0 {
			s += "&"
		}
		s += fmt.Sprintf("id=s%05d", i)
	}
	return s
}
