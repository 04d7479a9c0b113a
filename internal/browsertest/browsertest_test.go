package browsertest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// counterPage is a page of the shape the operator pages have: a row whose
// count a server-sent event stream raises, and a button that pauses it
// through a form post.
const counterPage = `<!doctype html>
<html><head><title>counter</title></head><body><main>
<table id="rows"><tr data-row="a" data-state="enabled"><td data-col="runs">0</td>
<td><form method="post" action="/pause"><button data-action="pause">pause</button></form></td></tr></table>
<script>
const es = new EventSource("/events");
es.onmessage = (e) => {
  const row = document.querySelector('tr[data-row="a"]');
  const [state, n] = e.data.split(" ");
  row.dataset.state = state;
  row.querySelector('td[data-col="runs"]').textContent = n;
};
console.log("page ready");
</script>
</main></body></html>`

// counterServer serves counterPage: /events sends "<state> <count>" every
// 20ms, the count growing until /pause is posted.
func counterServer(t *testing.T) *httptest.Server {
	paused := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, counterPage)
	})
	mux.HandleFunc("POST /pause", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-paused:
		default:
			close(paused)
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for n := 0; ; {
			state := "enabled"
			select {
			case <-paused:
				state = "paused"
			default:
				n++
			}
			fmt.Fprintf(w, "data: %s %d\n\n", state, n)
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
			}
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestPageFollowsLiveUpdates drives counterPage in the real browser: the
// count grows without a reload, the button's post pauses it, and the page's
// console is recorded.
func TestPageFollowsLiveUpdates(t *testing.T) {
	t.Parallel()
	srv := counterServer(t)
	p := Start(t).NewPage(t, PageParams{})
	p.Navigate(srv.URL + "/")
	p.WaitVisible(10*time.Second, `tr[data-row="a"]`)
	runs := `Number(document.querySelector('tr[data-row="a"] td[data-col="runs"]').textContent)`
	p.WaitTrue(10*time.Second, "the count to reach 3", runs+` >= 3`)
	p.Click(`button[data-action="pause"]`)
	p.WaitTrue(10*time.Second, "the row to be paused", `document.querySelector('tr[data-row="a"]').dataset.state === "paused"`)
	a := Eval[int](p, runs)
	// Paused, the stream repeats the count; a few more events change nothing.
	p.WaitTrue(10*time.Second, "two more events", `new Promise(ok => { let k = 0; const es = new EventSource("/events"); es.onmessage = () => { if (++k == 2) { es.close(); ok(true); } }; })`)
	if b := Eval[int](p, runs); b != a {
		t.Errorf("count went from %d to %d after the pause", a, b)
	}
	if got := p.Text(`title`); got != "counter" {
		t.Errorf("title %q, want counter", got)
	}
	if n := p.Count(`td[data-col="runs"]`); n != 1 {
		t.Errorf("%d runs cells, want 1", n)
	}
	if !strings.HasSuffix(p.URL(), "/") {
		t.Errorf("after the post the page is at %s, want /", p.URL())
	}
	if c := strings.Join(p.Console(), "\n"); !strings.Contains(c, "console.log: \"page ready\"") {
		t.Errorf("console %q lacks the page's log line", c)
	}
}

// TestSaveFailure checks what a failed test leaves: a PNG screenshot and the
// page's HTML in the artifact directory.
func TestSaveFailure(t *testing.T) {
	t.Parallel()
	srv := counterServer(t)
	p := Start(t).NewPage(t, PageParams{Width: 400, Height: 300})
	p.Navigate(srv.URL + "/")
	p.WaitVisible(10*time.Second, `tr[data-row="a"]`)
	p.saveFailure("probe")
	png, err := os.ReadFile(filepath.Join(t.ArtifactDir(), "probe.png"))
	if err != nil || !strings.HasPrefix(string(png), "\x89PNG") {
		t.Fatalf("probe.png: %v (%d bytes)", err, len(png))
	}
	html, err := os.ReadFile(filepath.Join(t.ArtifactDir(), "probe.html"))
	if err != nil || !strings.Contains(string(html), `data-row="a"`) {
		t.Fatalf("probe.html: %v\n%s", err, html)
	}
}

// TestMissingBrowser: a browser that is not there skips the test, or fails
// it with SUNDIAL_REQUIRE_BROWSER=1. The failing case runs this test binary
// again, so that its failure is observed rather than suffered.
func TestMissingBrowser(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-browser")
	if os.Getenv("BROWSERTEST_CHILD") == "1" {
		Start(t)
		return
	}
	t.Run("skips", func(t *testing.T) {
		var inner *testing.T
		t.Run("start", func(t *testing.T) {
			inner = t
			t.Setenv(EnvExecPath, missing)
			t.Setenv(EnvRequire, "")
			Start(t)
		})
		if !inner.Skipped() {
			t.Fatal("a missing browser did not skip the test")
		}
	})
	t.Run("fails when required", func(t *testing.T) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMissingBrowser$", "-test.count=1")
		cmd.Env = append(os.Environ(), "BROWSERTEST_CHILD=1", EnvExecPath+"="+missing, EnvRequire+"=1")
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("the test passed without a browser:\n%s", out)
		}
		if !strings.Contains(string(out), "SUNDIAL_REQUIRE_BROWSER=1") || !strings.Contains(string(out), missing) {
			t.Fatalf("the failure does not say why:\n%s", out)
		}
	})
}

// TestExecPath: SUNDIAL_CHROMIUM wins when it names an executable, and is an
// error when it does not.
func TestExecPath(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "chromium")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	notExec := filepath.Join(dir, "plain")
	if err := os.WriteFile(notExec, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		env, want, err string
	}{
		{fake, fake, ""},
		{notExec, "", "permission denied"},
		{filepath.Join(dir, "absent"), "", "no such file"},
	} {
		t.Setenv(EnvExecPath, c.env)
		got, err := ExecPath()
		switch {
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("%s: got %q, %v; want %q", c.env, got, err, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), EnvExecPath)):
			t.Errorf("%s: got %q, %v; want an error naming %s and saying %q", c.env, got, err, EnvExecPath, c.err)
		}
	}
}
