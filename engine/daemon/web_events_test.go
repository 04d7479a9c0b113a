package daemon_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestWeb_EventsSendEndedRuns: a run that ends before the page's event
// stream opens (after the page showed it running) is sent on the stream's
// first changes, so the page does not show it running for ever.
func TestWeb_EventsSendEndedRuns(t *testing.T) {
	t.Parallel()
	b := webDaemon(t, map[string]string{
		"managed.json": `{"objects": [{"name": "user"}]}`,
		"sync.json": `{"mappings": [{"name": "users_copy", "source": "managed/user", "target": "managed/user",
			"allowEmptySourceSet": true, "enableSync": false}]}`,
	})
	br := newBrowser(t, b)
	csrf := br.signIn("ops")
	if resp, body := br.post("/ui/recons/start", url.Values{"csrf": {csrf}, "mapping": {"users_copy"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("start: %d\n%s", resp.StatusCode, body)
	}
	waitFor(t, "the run to end", waitTimeout, func() bool {
		_, page := br.get("/ui/recons")
		return strings.Contains(page, `data-state="SUCCESS"`)
	})
	for e := range br.events("/ui/events") {
		if e.name == "recon" && strings.Contains(e.data, `data-state="SUCCESS"`) {
			return
		}
	}
	t.Fatal("the stream ended without the ended run's row")
}

// TestWeb_EventsFromPageConfig: a stream opened with the configuration
// version its page was rendered with sends a config event at once when a
// reload happened in between, so the page does not keep showing the old
// configuration.
func TestWeb_EventsFromPageConfig(t *testing.T) {
	t.Parallel()
	b := webDaemon(t, map[string]string{"schedule-a.json": dailySchedule(1)})
	br := newBrowser(t, b)
	br.signIn("viewer")
	_, page := br.get("/ui/config")
	m := regexpConfig.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("the page carries no data-config:\n%s", page)
	}
	mark := b.mark()
	writeFile(t, filepath.Join(b.conf, "schedule-a.json"), dailySchedule(2))
	b.waitApplied(t, mark, "applied")

	for e := range br.events("/ui/events?config=" + url.QueryEscape(htmlUnescape(m[1]))) {
		if e.name == "config" {
			return
		}
	}
	t.Fatal("the stream ended without a config event for the reload since the page")
}

var regexpConfig = regexp.MustCompile(`<body data-page="config" data-config="([^"]*)">`)

// events opens an event stream of the browser's session, closed when the
// test ends or after waitTimeout.
func (br *browser) events(path string) <-chan sse {
	br.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	req, _ := http.NewRequestWithContext(ctx, "GET", br.base+path, nil)
	resp, err := br.c.Do(req)
	if err != nil {
		cancel()
		br.t.Fatal(err)
	}
	br.t.Cleanup(func() { cancel(); resp.Body.Close() })
	return readEvents(resp.Body)
}

func htmlUnescape(s string) string { return html.UnescapeString(s) }
