package daemon_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"sundial/engine/api"
	"sundial/engine/auth"
	"sundial/engine/clock"
	"sundial/engine/daemon"
	"sundial/engine/store/sqlite"
)

// The web page's clients, one per role; the secret is the id reversed.
var webClients = map[string]auth.Role{"admin": auth.RoleAdmin, "ops": auth.RoleOperator, "viewer": auth.RoleReader}

func webSecret(id string) string { return "secret-of-" + id }

// accessJSON is an access.json holding webClients.
func accessJSON(tb testing.TB) string {
	tb.Helper()
	var parts []string
	for id, role := range webClients {
		h, err := auth.HashSecret(webSecret(id))
		if err != nil {
			tb.Fatal(err)
		}
		parts = append(parts, fmt.Sprintf(`{"id": %q, "secretHash": %q, "role": %q}`, id, h, role))
	}
	return `{"clients": [` + strings.Join(parts, ", ") + `]}`
}

// hostile is text that breaks out of HTML if it is not escaped.
const hostile = `"'></title><script>alert(1)</script>`

// webDaemon runs a daemon with the web clients, files and a SQLite store.
func webDaemon(t *testing.T, files map[string]string, edit ...func(*daemon.Options)) *testBundle {
	t.Helper()
	all := map[string]string{"access.json": accessJSON(t)}
	for k, v := range files {
		all[k] = v
	}
	conf, scripts := newDirs(t, all)
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "sundial.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return start(t, conf, scripts, append([]func(*daemon.Options){func(o *daemon.Options) { o.DB = db }}, edit...)...)
}

// browser is a client with a cookie jar that does not follow redirects.
type browser struct {
	t    testing.TB
	base string
	c    *http.Client
}

func newBrowser(t testing.TB, b *testBundle) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: b.base, c: &http.Client{Jar: jar, Timeout: waitTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (br *browser) do(req *http.Request) (*http.Response, string) {
	br.t.Helper()
	resp, err := br.c.Do(req)
	if err != nil {
		br.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (br *browser) get(path string) (*http.Response, string) {
	br.t.Helper()
	req, _ := http.NewRequest("GET", br.base+path, nil)
	return br.do(req)
}

func (br *browser) post(path string, form url.Values) (*http.Response, string) {
	br.t.Helper()
	req, _ := http.NewRequest("POST", br.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return br.do(req)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]*)"`)

// csrf returns the CSRF token of a page.
func csrfOf(t testing.TB, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no csrf field in\n%s", body)
	}
	return html.UnescapeString(m[1])
}

// signIn signs in as id and returns the CSRF token of the session.
func (br *browser) signIn(id string) string {
	br.t.Helper()
	_, page := br.get("/ui/login")
	resp, body := br.post("/ui/login", url.Values{"csrf": {csrfOf(br.t, page)}, "client_id": {id}, "secret": {webSecret(id)}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/" {
		br.t.Fatalf("sign in as %s: %d %s\n%s", id, resp.StatusCode, resp.Header.Get("Location"), body)
	}
	_, home := br.get("/ui/")
	return csrfOf(br.t, home)
}

func restScript(desc string) string {
	return fmt.Sprintf(`{"enabled": true, "type": "cron", "schedule": "0 0 3 * * ?", "persisted": false, "description": %q,
  "invokeService": "script", "invokeContext": {"script": {"type": "text/javascript", "source": "1"}}}`, desc)
}

// TestWeb_Pages: every page answers 200 with its hooks, its headers and
// no unescaped user text; the schedules page lists the right rows.
func TestWeb_Pages(t *testing.T) {
	t.Parallel()
	b := webDaemon(t, map[string]string{
		"schedule-daily.json": dailySchedule(1),
		"schedule-off.json":   strings.Replace(dailySchedule(1), `"schedule"`, `"enabled": false, "schedule"`, 1),
		"schedule-bad.json":   `{"schedule": "` + strings.ReplaceAll(hostile, `"`, `\"`) + `", "invokeService": "script"}`,
	})
	ctx := context.Background()
	if _, _, err := b.d.Schedules().PutJob(ctx, api.PutJob{ID: "evil" + hostile, Body: []byte(restScript(hostile))}); err != nil {
		t.Fatal(err)
	}
	br := newBrowser(t, b)
	br.signIn("admin")
	pages := []struct {
		path, title string
		hooks       []string
	}{
		{"/ui/", "Schedules", []string{`<table id="schedules">`, `data-schedule="daily" data-state="enabled"`, `data-schedule="bad" data-state="invalid"`, `data-col="runs" class="num">0<`, `data-action="trigger"`, `data-action="pause"`, `schedule-daily.json:1`, `REST`}},
		{"/ui/schedules?state=invalid", "Schedules", []string{`data-schedule="bad"`}},
		{"/ui/schedules/daily", "Schedule daily", []string{`<section id="next-fires"`, `<section id="runs"`, `<section id="missed"`, `<pre id="rest-json">`, `03:00:00 UTC`, `schedule-daily.json`}},
		{"/ui/schedules/" + url.PathEscape("evil"+hostile), "Schedule evil", []string{`<pre id="rest-json">`, `Created over REST`}},
		{"/ui/timeline", "Timeline", []string{`<section id="timeline"`, `data-lane="daily"`}},
		{"/ui/timeline?span=7d", "Timeline", []string{`data-lane="daily"`}},
		{"/ui/config", "Configuration", []string{`<span id="config-hash">`, `<section id="invalid-files"`, `data-invalid-file="schedule-bad.json"`, `schedule-bad.json:1:`, `<section id="reloads"`}},
		{"/ui/scans", "Task scans", []string{`<table id="scans">`}},
		{"/ui/cluster", "Cluster", []string{`data-node="test-node"`}},
	}
	// A disabled schedule cannot be triggered or paused: its row offers
	// neither.
	if _, page := br.get("/ui/schedules?text=off"); !strings.Contains(page, `data-schedule="off" data-state="disabled"`) || strings.Contains(page, `aria-label="trigger off now"`) || strings.Contains(page, `aria-label="pause off"`) {
		t.Errorf("the disabled schedule's row:\n%s", page)
	}
	for _, p := range pages {
		resp, body := br.get(p.path)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d\n%s", p.path, resp.StatusCode, body)
			continue
		}
		if !strings.Contains(body, "<title>"+p.title) {
			t.Errorf("GET %s: no title %q", p.path, p.title)
		}
		for _, h := range append(p.hooks, "<main", `<nav id="nav"`, `<form id="logout"`) {
			if !strings.Contains(body, h) {
				t.Errorf("GET %s: no %q in the page", p.path, h)
			}
		}
		if strings.Contains(body, "<script>alert") || strings.Contains(body, "</title><script") {
			t.Errorf("GET %s: hostile text unescaped:\n%s", p.path, body)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("GET %s: Content-Security-Policy %q", p.path, csp)
		}
		if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: headers %v", p.path, resp.Header)
		}
		if strings.Contains(body, "style=") || strings.Contains(body, "<script>") || strings.Contains(body, " on") && regexp.MustCompile(` on[a-z]+=`).MatchString(body) {
			t.Errorf("GET %s: inline style or script", p.path)
		}
	}
	_, body := br.get("/ui/")
	if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") && !strings.Contains(body, "&lt;script&gt;") {
		t.Errorf("the hostile description is not shown escaped")
	}
	if resp, _ := br.get("/ui/schedules?state=nope&sort=evil"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a bad filter: %d, want 400", resp.StatusCode)
	}
	if resp, _ := br.get("/ui/schedules/nope"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown schedule: %d, want 404", resp.StatusCode)
	}
	for _, p := range []string{"/ui/static/app.css", "/ui/static/app.js"} {
		if resp, _ := br.get(p); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", p, resp.StatusCode)
		}
	}
}

// TestWeb_Actions: trigger, pause, resume and bulk act through the REST
// services; a POST without the CSRF token, unauthenticated or by a reader
// is a 403, and a reader sees no action button.
func TestWeb_Actions(t *testing.T) {
	t.Parallel()
	// Schedules that never fire by themselves: the test counts the runs
	// its own trigger starts, and a daily one would fire if the test ran
	// at its minute.
	never := func(version int) string {
		return strings.Replace(dailySchedule(version), "0 0 3 * * ?", "0 0 3 1 1 ? 2099", 1)
	}
	b := webDaemon(t, map[string]string{"schedule-a.json": never(1), "schedule-b.json": never(2)})
	paused := func(id string) bool {
		info, _ := b.d.Scheduler().Schedule(id)
		return info.Paused
	}
	anon := newBrowser(t, b)
	if resp, _ := anon.get("/ui/config"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/ui/login?next=") {
		t.Errorf("unauthenticated GET: %d %s, want a redirect to /ui/login", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := anon.post("/ui/schedules/a/pause", url.Values{"csrf": {"x"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("unauthenticated POST: %d, want 403", resp.StatusCode)
	}

	ops := newBrowser(t, b)
	csrf := ops.signIn("ops")
	if resp, _ := ops.post("/ui/schedules/a/pause", url.Values{"return": {"/ui/"}}); resp.StatusCode != http.StatusForbidden || paused("a") {
		t.Fatalf("POST without CSRF token: %d, paused %t; want 403 and not paused", resp.StatusCode, paused("a"))
	}
	if resp, _ := ops.post("/ui/schedules/a/pause", url.Values{"csrf": {csrf + "x"}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST with a wrong CSRF token: %d, want 403", resp.StatusCode)
	}
	resp, body := ops.post("/ui/schedules/a/pause", url.Values{"csrf": {csrf}, "return": {"/ui/schedules?state=paused"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/schedules?state=paused" || !paused("a") {
		t.Fatalf("pause: %d %s paused %t\n%s", resp.StatusCode, resp.Header.Get("Location"), paused("a"), body)
	}
	if _, body := ops.get("/ui/schedules?state=paused"); !strings.Contains(body, `data-schedule="a" data-state="paused"`) || strings.Contains(body, `data-schedule="b"`) || !strings.Contains(body, `data-action="resume"`) {
		t.Errorf("paused filter:\n%s", body)
	}
	if resp, _ := ops.post("/ui/schedules/a/resume", url.Values{"csrf": {csrf}, "return": {"https://evil.example/"}}); resp.Header.Get("Location") != "/ui/" || paused("a") {
		t.Errorf("resume: %s paused %t; want back to /ui/ and resumed", resp.Header.Get("Location"), paused("a"))
	}
	if resp, _ := ops.post("/ui/schedules/bulk", url.Values{"csrf": {csrf}, "action": {"pause"}, "id": {"a", "b"}}); resp.StatusCode != http.StatusSeeOther || !paused("a") || !paused("b") {
		t.Errorf("bulk pause: %d, paused %t %t", resp.StatusCode, paused("a"), paused("b"))
	}
	if resp, _ := ops.post("/ui/schedules/bulk", url.Values{"csrf": {csrf}, "action": {"resume"}, "id": {"a", "nope"}}); resp.StatusCode != http.StatusConflict || paused("a") {
		t.Errorf("bulk resume with an unknown id: %d, paused %t; want 409 naming it and a resumed", resp.StatusCode, paused("a"))
	}
	if resp, _ := ops.post("/ui/schedules/a/trigger", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("trigger: %d", resp.StatusCode)
	}
	b.eventually(t, "the triggered run to be counted", func() bool {
		info, _ := b.d.Scheduler().Schedule("a")
		return info.Runs == 1
	})
	if _, body := ops.get("/ui/schedules/a"); !strings.Contains(body, `data-col="runs" class="num">1<`) || !strings.Contains(body, `<tr data-run="a@`) || !strings.Contains(body, "(manual)") {
		t.Errorf("the detail page does not show the run:\n%s", body)
	}
	if resp, _ := ops.post("/ui/schedules/a/explode", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("an unknown action: %d, want 400", resp.StatusCode)
	}

	reader := newBrowser(t, b)
	rcsrf := reader.signIn("viewer")
	if _, body := reader.get("/ui/"); strings.Contains(body, "data-action=") || strings.Contains(body, `id="bulk"`) {
		t.Errorf("a reader sees action buttons:\n%s", body)
	}
	if resp, _ := reader.post("/ui/schedules/b/resume", url.Values{"csrf": {rcsrf}}); resp.StatusCode != http.StatusForbidden || !paused("b") {
		t.Errorf("a reader's resume: %d, paused %t; want 403 and still paused", resp.StatusCode, paused("b"))
	}
	if resp, _ := reader.post("/ui/scans/execute", url.Values{"csrf": {rcsrf}, "name": {"a"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a reader's scan: %d, want 403", resp.StatusCode)
	}
	// Sign-out ends the browser's session.
	if resp, _ := reader.post("/ui/logout", url.Values{"csrf": {rcsrf}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("sign out: %d", resp.StatusCode)
	}
	if resp, _ := reader.get("/ui/"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after sign out: %d, want a redirect to sign in", resp.StatusCode)
	}
}

// TestWeb_SignIn: a wrong secret is a 401 on the sign-in page, a sign-in
// without the form's token a 403, repeated failures are throttled, and
// the session cookie is HttpOnly and SameSite=Strict.
func TestWeb_SignIn(t *testing.T) {
	t.Parallel()
	b := webDaemon(t, nil)
	br := newBrowser(t, b)
	_, page := br.get("/ui/login")
	for _, hook := range []string{`<form id="login"`, `name="client_id"`, `id="client-id"`, `name="secret"`, `id="secret"`, `<button type="submit">`} {
		if !strings.Contains(page, hook) {
			t.Errorf("sign-in page: no %q", hook)
		}
	}
	tok := csrfOf(t, page)
	if resp, _ := br.post("/ui/login", url.Values{"client_id": {"admin"}, "secret": {webSecret("admin")}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign in without the form token: %d, want 403", resp.StatusCode)
	}
	other := newBrowser(t, b)
	_, page = other.get("/ui/login")
	req, _ := http.NewRequest("POST", b.base+"/ui/login", strings.NewReader(url.Values{"csrf": {csrfOf(t, page)}, "client_id": {"ops"}, "secret": {webSecret("ops")}, "next": {"/ui/config"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, _ := other.do(req)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/config" {
		t.Fatalf("sign in with next: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "sundial_session" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.MaxAge <= 0 {
		t.Errorf("session cookie %+v, want HttpOnly, SameSite=Strict and an expiry", cookie)
	}
	codes := []int{}
	for range 5 {
		resp, _ := br.post("/ui/login", url.Values{"csrf": {tok}, "client_id": {"admin"}, "secret": {"wrong"}})
		codes = append(codes, resp.StatusCode)
		_, page = br.get("/ui/login")
		tok = csrfOf(t, page)
	}
	if codes[0] != http.StatusUnauthorized || codes[len(codes)-1] != http.StatusTooManyRequests {
		t.Errorf("wrong secrets answered %v, want 401 first and 429 once throttled", codes)
	}
}

// TestWeb_SessionExpires: a session ends with its token's lifetime.
func TestWeb_SessionExpires(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	b := webDaemon(t, nil, func(o *daemon.Options) { o.Clock, o.TokenLifetime = fake, time.Hour })
	br := newBrowser(t, b)
	br.signIn("admin")
	if resp, _ := br.get("/ui/cluster"); resp.StatusCode != http.StatusOK {
		t.Fatalf("signed in: %d", resp.StatusCode)
	}
	fake.Advance(time.Hour + time.Second)
	if resp, _ := br.get("/ui/cluster"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/ui/login") {
		t.Errorf("after the lifetime: %d %s, want a redirect to sign in", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestWeb_Events: the event stream says hello with the config hash, then
// sends a schedule's new row when it is paused.
func TestWeb_Events(t *testing.T) {
	t.Parallel()
	b := webDaemon(t, map[string]string{"schedule-a.json": dailySchedule(1)})
	br := newBrowser(t, b)
	br.signIn("admin")
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", b.base+"/ui/events", nil)
	resp, err := br.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	events := readEvents(resp.Body)
	first := <-events
	if first.name != "hello" || first.data != b.lastHash() {
		t.Fatalf("first event %+v, want hello with the hash %s", first, b.lastHash())
	}
	if err := b.d.Schedules().PauseJob(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	next := func(what string, ok func(sse) bool) sse {
		t.Helper()
		for {
			select {
			case e, open := <-events:
				if !open {
					t.Fatalf("the stream ended before %s", what)
				}
				if ok(e) {
					return e
				}
			case <-ctx.Done():
				t.Fatalf("no event for %s", what)
			}
		}
	}
	e := next("the paused schedule", func(e sse) bool {
		return e.name == "schedule" && strings.Contains(e.data, `<tr data-schedule="a" data-state="paused">`)
	})
	if !strings.Contains(e.data, `data-action="resume"`) {
		t.Errorf("the paused row has no resume button:\n%s", e.data)
	}
	// A file turning invalid is a config event, though the hash of what
	// runs may not change.
	writeFile(t, filepath.Join(b.conf, "schedule-a.json"), `{"schedule": "nope"}`)
	var config, row bool
	for !config || !row {
		next("the invalid file's config event and row", func(e sse) bool {
			config = config || e.name == "config"
			row = row || e.name == "schedule" && strings.Contains(e.data, `<tr data-schedule="a" data-state="invalid">`)
			return config && row
		})
	}
}

type sse struct{ name, data string }

// readEvents parses a server-sent event stream until it ends.
func readEvents(r io.Reader) <-chan sse {
	out := make(chan sse, 16)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var e sse
		var data []string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if e.name != "" {
					e.data = strings.Join(data, "\n")
					out <- e
				}
				e, data = sse{}, nil
			case strings.HasPrefix(line, "event: "):
				e.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data = append(data, strings.TrimPrefix(line, "data: "))
			}
		}
	}()
	return out
}

// TestWeb_Scans: a scan started from the page runs through the REST
// service and shows its progress row; a cancel of an ended run is
// answered, not refused.
func TestWeb_Scans(t *testing.T) {
	t.Parallel()
	b := webDaemon(t, map[string]string{
		"managed.json": `{"objects": [{"name": "user"}]}`,
		"schedule-taskscan_web.json": `{
			"enabled": false, "type": "simple", "repeatInterval": 3600000, "invokeService": "taskscanner",
			"invokeContext": {"waitForCompletion": "true",
				"scan": {"_queryFilter": "true", "object": "managed/user", "taskState": {"started": "/s", "completed": "/c"}},
				"task": {"script": {"type": "text/javascript", "source": "true"}}}}`,
	})
	br := newBrowser(t, b)
	csrf := br.signIn("ops")
	_, page := br.get("/ui/scans")
	if !strings.Contains(page, `<form id="scan-execute"`) || !strings.Contains(page, `<option value="taskscan_web">`) || !strings.Contains(page, "No scan run yet") {
		t.Fatalf("scans page before a scan:\n%s", page)
	}
	if resp, body := br.post("/ui/scans/execute", url.Values{"csrf": {csrf}, "name": {"taskscan_web"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("execute: %d\n%s", resp.StatusCode, body)
	}
	_, page = br.get("/ui/scans")
	m := regexp.MustCompile(`<tr data-scan-run="([^"]+)" data-state="COMPLETED">`).FindStringSubmatch(page)
	if m == nil || !strings.Contains(page, `<progress value="0" max="0"`) || !strings.Contains(page, `data-col="processed" class="num">0<`) {
		t.Fatalf("scans page after a scan:\n%s", page)
	}
	if strings.Contains(page, `data-action="cancel"`) {
		t.Errorf("an ended run offers a cancel button")
	}
	if resp, _ := br.post("/ui/scans/"+m[1]+"/cancel", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("cancel of an ended run: %d", resp.StatusCode)
	}
	if resp, _ := br.post("/ui/scans/nope/cancel", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("cancel of an unknown run: %d, want 404", resp.StatusCode)
	}
	if resp, _ := br.post("/ui/scans/execute", url.Values{"csrf": {csrf}, "name": {"nope"}}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a scan of an unknown schedule: %d, want 400", resp.StatusCode)
	}
}

// TestWeb_ConfigInvalidFile: an invalid file appears on the configuration
// page with its file:line:col errors beside the last good version, and
// goes once fixed; the reloads are listed.
func TestWeb_ConfigInvalidFile(t *testing.T) {
	t.Parallel()
	b := webDaemon(t, map[string]string{"schedule-a.json": dailySchedule(1)})
	br := newBrowser(t, b)
	br.signIn("viewer")
	if _, page := br.get("/ui/config"); !strings.Contains(page, "Every file is valid") || strings.Contains(page, "data-invalid-file") || !strings.Contains(page, `data-reload="applied"`) {
		t.Fatalf("config page, all valid:\n%s", page)
	}
	mark := b.mark()
	writeFile(t, filepath.Join(b.conf, "schedule-a.json"), `{"schedule": "0 0 3 * * ?", "invokeService": "script", "persistd": true}`)
	b.waitResult(t, mark, "invalid")
	_, page := br.get("/ui/config")
	if !strings.Contains(page, `<li data-invalid-file="schedule-a.json">`) || !regexp.MustCompile(`schedule-a\.json:1:\d+: `).MatchString(page) ||
		!strings.Contains(page, "version 1") || !strings.Contains(page, `data-reload="invalid"`) {
		t.Fatalf("config page with an invalid file:\n%s", page)
	}
	if abs := filepath.Join(b.conf, "schedule-a.json"); strings.Contains(page, abs) {
		t.Errorf("the config page shows the file's absolute path %s instead of its path in conf/:\n%s", abs, page)
	}
	if _, page := br.get("/ui/"); !strings.Contains(page, `data-schedule="a" data-state="invalid"`) {
		t.Errorf("the schedules page does not show the file invalid:\n%s", page)
	}
	mark = b.mark()
	writeFile(t, filepath.Join(b.conf, "schedule-a.json"), dailySchedule(2))
	b.waitApplied(t, mark, "applied")
	if _, page := br.get("/ui/config"); strings.Contains(page, "data-invalid-file") || !strings.Contains(page, "Every file is valid") {
		t.Errorf("config page once fixed:\n%s", page)
	}
}

// TestWeb_TimelineOverlap: two schedules firing at the same moment with one
// worker mark the moment as an overlap; the lanes show both.
func TestWeb_TimelineOverlap(t *testing.T) {
	t.Parallel()
	b := webDaemon(t, map[string]string{
		"scheduler.json":      `{"threadPool": {"threadCount": 1}}`,
		"schedule-one.json":   dailySchedule(1),
		"schedule-two.json":   dailySchedule(2),
		"schedule-alone.json": strings.Replace(dailySchedule(3), "0 0 3 * * ?", "0 30 4 * * ?", 1),
	})
	br := newBrowser(t, b)
	br.signIn("viewer")
	_, page := br.get("/ui/timeline?span=7d")
	for _, want := range []string{`data-lane="one"`, `data-lane="two"`, `data-lane="alone"`, `threadCount 1`, `<li data-overlap="`, `class="fire over" data-overlap="`} {
		if !strings.Contains(page, want) {
			t.Errorf("timeline: no %q in\n%s", want, page)
		}
	}
	if n := strings.Count(page, `<li data-overlap="`); n != 7 {
		t.Errorf("%d overlap moments in 7 days, want 7 (one a day at 03:00)", n)
	}
	if resp, _ := br.get("/ui/timeline?span=1y"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("span=1y: %d, want 400", resp.StatusCode)
	}
}

// TestWeb_Poll: the polling fallback answers the rows asked for, as the
// schedules page renders them, and the config hash.
func TestWeb_Poll(t *testing.T) {
	t.Parallel()
	b := webDaemon(t, map[string]string{"schedule-a.json": dailySchedule(1), "schedule-b.json": dailySchedule(2)})
	br := newBrowser(t, b)
	br.signIn("viewer")
	resp, body := br.get("/ui/poll?id=a&id=nope")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("poll: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var ans struct {
		Hash string            `json:"hash"`
		Rows map[string]string `json:"rows"`
	}
	if err := json.Unmarshal([]byte(body), &ans); err != nil {
		t.Fatal(err)
	}
	if ans.Hash != b.lastHash() || len(ans.Rows) != 1 || !strings.HasPrefix(ans.Rows["a"], `<tr data-schedule="a" data-state="enabled">`) {
		t.Errorf("poll answer %+v", ans)
	}
	if strings.Contains(ans.Rows["a"], "data-action=") {
		t.Errorf("a reader's polled row has action buttons: %s", ans.Rows["a"])
	}
}
