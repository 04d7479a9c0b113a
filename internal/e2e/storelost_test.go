package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"sundial/internal/pgtest"
)

// TestStoreUnreachableAtStart: a clear error and a non-zero exit.
func TestStoreUnreachableAtStart(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	cmd := exec.Command(bin, "serve", "--conf", p.conf, "--scripts", p.scripts, "--listen", "",
		"--store", "postgres://sundial@127.0.0.1:1/sundial?connect_timeout=2")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err == nil || !errorsAs(err, &ee) || ee.ExitCode() == 0 {
		t.Fatalf("exit: %v, want a non-zero status\n%s", err, out)
	}
	want := "sundial: open the store: open postgres store: cannot reach postgres at 127.0.0.1:1/sundial: database unavailable"
	if !strings.Contains(string(out), want) {
		t.Errorf("output:\n%s\nwant it to contain %q", out, want)
	}
}

func errorsAs(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*target = e
	}
	return ok
}

// healthz is the part of /readyz these tests read.
type healthz struct {
	Status  string `json:"status"`
	Cluster *struct {
		Reachable bool   `json:"reachable"`
		Firing    bool   `json:"firing"`
		Error     string `json:"error"`
	} `json:"cluster"`
}

func (pr *proc) healthz(t *testing.T) healthz {
	t.Helper()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + pr.addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h healthz
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	return h
}

// TestDatabaseLostAtRunTime: the PostgreSQL database refuses connections for
// a few seconds while a node runs a persisted every-second schedule. The
// node says so in /readyz and its log, fires nothing meanwhile, retries,
// and once the database is back catches up once (fireAndProceed), then
// fires on schedule; nothing fires twice.
func TestDatabaseLostAtRunTime(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	dbName := strings.TrimPrefix(u.Path, "/")
	admin, err := pgx.Connect(context.Background(), strings.Replace(dsn, "/"+dbName+"?", "/postgres?", 1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) })
	setAllowed := func(allowed bool) {
		t.Helper()
		if _, err := admin.Exec(context.Background(), fmt.Sprintf(`ALTER DATABASE %q ALLOW_CONNECTIONS %t`, dbName, allowed)); err != nil {
			t.Fatal(err)
		}
		if !allowed {
			if _, err := admin.Exec(context.Background(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, dbName); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(func() { setAllowed(true) })

	p := newProject(t)
	p.write(t, "scripts/fire.js", `console.log("FIRE " + context.fireId);`)
	p.write(t, "conf/scheduler.json", `{"advancedProperties": {"org.quartz.jobStore.misfireThreshold": 1000}}`)
	p.write(t, "conf/schedule-every.json", scheduleJSON(`"schedule": "* * * * * ?"`, "fire.js"))
	n := startNode(t, p, "n1", dsn)
	waitFor(t, 20*time.Second, "two fires", func() bool { return len(countFires(n)) >= 2 })
	if h := n.healthz(t); h.Status != "ready" || h.Cluster == nil || !h.Cluster.Reachable {
		t.Fatalf("/readyz before = %+v", h)
	}

	setAllowed(false)
	lost := time.Now()
	waitFor(t, 10*time.Second, "/readyz to show the database gone", func() bool {
		h := n.healthz(t)
		return h.Status == "not ready" && h.Cluster != nil && !h.Cluster.Reachable && !h.Cluster.Firing && h.Cluster.Error != ""
	})
	if !strings.Contains(n.stderr.String(), "check-in failed: persisted schedules stop firing") &&
		!strings.Contains(n.stderr.String(), "store unavailable: persisted schedules stop firing") {
		t.Errorf("no log line about the lost database:\n%s", tail(n.stderr.String(), 4096))
	}
	fired := n.count(fireLine)
	// Down across a few fire times. (The outage is the scenario.)
	<-time.After(time.Until(lost.Add(3500 * time.Millisecond)))
	if got := n.count(fireLine); got > fired+1 {
		t.Errorf("%d fires while the database was gone", got-fired)
	}
	setAllowed(true)
	back := time.Now()
	waitFor(t, 20*time.Second, "/readyz ready again", func() bool {
		h := n.healthz(t)
		return h.Status == "ready" && h.Cluster.Reachable && h.Cluster.Firing
	})
	db := openStore(t, dsn) // the test's own connections were cut too
	waitFor(t, 20*time.Second, "fires on schedule again", func() bool {
		return last(runsOf(t, db, "every")).After(back.Add(1500 * time.Millisecond))
	})

	var catchUp []time.Time
	seen := map[string]bool{}
	for _, r := range runsOf(t, db, "every") {
		s := r.ScheduledAt
		if seen[r.ID] {
			t.Errorf("run %s recorded twice", r.ID)
		}
		seen[r.ID] = true
		switch {
		case s.After(lost.Add(time.Second)) && s.Before(back):
			t.Errorf("a fire scheduled at %s, while the database was gone (%s to %s), ran", s, lost, back)
		case s.After(lost) && !s.Equal(s.Truncate(time.Second)):
			catchUp = append(catchUp, s)
		}
	}
	if len(catchUp) != 1 {
		t.Errorf("catch-up fires %v, want exactly one", catchUp)
	}
	for id, c := range countFires(n) {
		if c != 1 {
			t.Errorf("fire %s ran %d times", id, c)
		}
	}
}
