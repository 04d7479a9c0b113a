package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// The schedule body of the ForgeRock schedules guide's REST examples.
const guideSchedule = `{
    "enabled": %t,
    "type": "cron",
    "schedule": "0/1 * * * * ?",
    "persisted": true,
    "misfirePolicy": "fireAndProceed",
    "invokeService": "script",
    "invokeContext": {
        "script": {
            "type": "text/javascript",
            "file": "script/testlog.js"
        }
    }
}`

// guideStep is one REST example of the guide: the request, the status
// expected, and the golden answer (testdata/guide/<golden>.json, the
// guide's own answer) it is compared with; "" for no body.
type guideStep struct {
	name, method, path, body string
	status                   int
	golden                   string
}

// TestGuideReplay replays every REST example of the ForgeRock schedules
// guide, in the guide's order, against a live `sundial serve` with only the
// host and the credentials changed (a bearer token from /oauth2/token), and
// compares each answer with the guide's: the same keys with the same JSON
// types, and the same values except where they depend on the moment, the
// node or a generated id (see variable). Answers may carry keys the guide
// does not show (the query envelope's counts).
//
// One step is added: the guide triggers testlog-schedule right after
// disabling it, yet says that a schedule must be enabled to be triggered;
// Sundial enforces that (a 400, checked here), so the replay enables the
// schedule again before the trigger.
func TestGuideReplay(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	p.write(t, "scripts/testlog.js", `console.log("testlog " + context.fireId);`)
	p.write(t, "conf/schedule-reconcile_systemLdapAccounts_managedUser.json", `{
    "enabled" : false,
    "type" : "simple",
    "repeatInterval" : 3600000,
    "repeatCount" : -1,
    "persisted" : true,
    "invokeService" : "sync",
    "invokeContext" : {"action" : "reconcile", "mapping" : "systemLdapAccounts_managedUser"}
}`)
	node := startNode(t, p, "node1", "")
	c := newAPIClient(t, node, p)

	var postID string
	steps := []guideStep{
		{"validate", "POST", "/openidm/scheduler/job?_action=validateQuartzCronExpression", `{"cronExpression": "0 0/1 * * * ?"}`, 200, "01-validate"},
		{"put create", "PUT", "/openidm/scheduler/job/testlog-schedule", fmt.Sprintf(guideSchedule, true), 201, "02-put-create"},
		{"post create", "POST", "/openidm/scheduler/job?_action=create", fmt.Sprintf(guideSchedule, true), 201, "03-post-create"},
		{"read", "GET", "/openidm/scheduler/job/testlog-schedule", "", 200, "04-read"},
		{"query ids", "GET", "/openidm/scheduler/job?_queryFilter=true&_fields=_id", "", 200, "05-query-ids"},
		{"query fields", "GET", "/openidm/scheduler/job?_queryFilter=true&_fields=_id,enabled,nextRunDate", "", 200, "06-query-fields"},
		{"put disable", "PUT", "/openidm/scheduler/job/testlog-schedule", fmt.Sprintf(guideSchedule, false), 200, "07-put-disable"},
		{"list executing", "POST", "/openidm/scheduler/job?_action=listCurrentlyExecutingJobs", "", 200, "08-list-executing"},
		{"trigger disabled", "POST", "/openidm/scheduler/job/testlog-schedule?_action=trigger", "", 400, ""},
		{"enable again", "PUT", "/openidm/scheduler/job/testlog-schedule", fmt.Sprintf(guideSchedule, true), 200, "04-read"},
		{"trigger", "POST", "/openidm/scheduler/job/testlog-schedule?_action=trigger", "", 200, "09-trigger"},
		{"pause", "POST", "/openidm/scheduler/job/testlog-schedule?_action=pause", "", 200, "10-pause"},
		{"resume", "POST", "/openidm/scheduler/job/testlog-schedule?_action=resume", "", 200, "11-resume"},
		{"trigger query", "GET", "/openidm/scheduler/trigger?_queryFilter=true", "", 200, "12-trigger-query"},
		{"trigger read", "GET", "/openidm/scheduler/trigger/scheduler-service-group.trigger-testlog-schedule", "", 200, "13-trigger-read"},
		{"acquired triggers", "GET", "/openidm/scheduler/trigger?_queryFilter=(nodeId+pr)", "", 200, ""},
		{"unacquired triggers", "GET", "/openidm/scheduler/trigger?_queryFilter=%21(nodeId+pr)", "", 200, ""},
		{"delete", "DELETE", "/openidm/scheduler/job/testlog-schedule", "", 200, "04-read"},
	}
	for _, s := range steps {
		status, got := c.do(t, s.method, s.path, s.body)
		if status != s.status {
			t.Fatalf("%s: %s %s answered %d, want %d:\n%s", s.name, s.method, s.path, status, s.status, got)
		}
		if s.name == "post create" {
			var r struct {
				ID string `json:"_id"`
			}
			_ = json.Unmarshal(got, &r)
			if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`).MatchString(r.ID) {
				t.Fatalf("post create: _id %q is not a UUID", r.ID)
			}
			postID = r.ID
		}
		if s.status >= 400 {
			assertErrorBody(t, s.name, status, got)
			continue
		}
		if s.golden == "" {
			if !json.Valid(got) {
				t.Fatalf("%s: answer is not JSON: %s", s.name, got)
			}
			continue
		}
		want := readGolden(t, s.golden)
		var gotV any
		if err := json.Unmarshal(got, &gotV); err != nil {
			t.Fatalf("%s: answer is not JSON: %v\n%s", s.name, err, got)
		}
		if diffs := compareShape(want, gotV, ""); len(diffs) > 0 {
			t.Errorf("%s: answer differs from the guide's (%s.json):\n  %s\ngot:\n%s", s.name, s.golden, strings.Join(diffs, "\n  "), got)
		}
		if s.name == "query ids" {
			ids := resultIDs(t, got)
			for _, id := range []string{"reconcile_systemLdapAccounts_managedUser", "testlog-schedule", postID} {
				if !ids[id] {
					t.Errorf("query ids: %s missing from %s", id, got)
				}
			}
		}
	}

	// Both trigger queries split the triggers between them.
	_, acquired := c.do(t, "GET", "/openidm/scheduler/trigger?_queryFilter=(nodeId+pr)", "")
	_, free := c.do(t, "GET", "/openidm/scheduler/trigger?_queryFilter=%21(nodeId+pr)", "")
	_, all := c.do(t, "GET", "/openidm/scheduler/trigger?_queryFilter=true", "")
	a, f, n := resultIDs(t, acquired), resultIDs(t, free), resultIDs(t, all)
	if len(a)+len(f) != len(n) {
		t.Errorf("triggers: %d with a node + %d without != %d in all", len(a), len(f), len(n))
	}
	// The deleted schedule is gone.
	if status, body := c.do(t, "GET", "/openidm/scheduler/job/testlog-schedule", ""); status != 404 {
		t.Errorf("read after delete: %d %s, want 404", status, body)
	}
}

// variable are the keys whose values depend on the moment, the node or a
// generated id: only their JSON type is compared, and null matches any.
var variable = map[string]bool{
	"_id": true, "_rev": true, "nodeId": true, "timeZone": true, "fireInstanceId": true,
	"nextFireTime": true, "previousFireTime": true, "startTime": true,
	"previousRunDate": true, "nextRunDate": true,
	"jobKey": true, "name": true, "jobName": true, "scheduler.config-name": true,
}

// compareShape reports where got differs from want: a missing key, another
// JSON type, another value (outside variable keys), another array length.
// In a query's result (or a top-level array), each item is compared with
// the guide's item of the same _id, and items the guide does not list with
// the guide's first item, by keys and types only. A top-level array (the
// runs executing at the moment) may be shorter than the guide's.
func compareShape(want, got any, path string) []string {
	return shapeDiff(want, got, path, false)
}

func shapeDiff(want, got any, path string, typesOnly bool) []string {
	key := path[strings.LastIndex(path, "/")+1:]
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %s, want an object", path, typeName(got))}
		}
		if typesOnly && key == "invokeContext" {
			return nil // what a schedule invokes is its own
		}
		var diffs []string
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			gv, ok := g[k]
			if !ok {
				diffs = append(diffs, fmt.Sprintf("%s/%s: missing", path, k))
				continue
			}
			diffs = append(diffs, shapeDiff(w[k], gv, path+"/"+k, typesOnly)...)
		}
		return diffs
	case []any:
		g, ok := got.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %s, want an array", path, typeName(got))}
		}
		if key == "result" || path == "" {
			if key == "result" && len(g) < len(w) {
				return []string{fmt.Sprintf("%s: %d items, want at least %d", path, len(g), len(w))}
			}
			byID := map[any]any{}
			for _, wv := range w {
				if m, ok := wv.(map[string]any); ok && m["_id"] != nil {
					byID[m["_id"]] = wv
				}
			}
			var diffs []string
			for i, gv := range g {
				p := fmt.Sprintf("%s/%d", path, i)
				if m, ok := gv.(map[string]any); ok && byID[m["_id"]] != nil {
					diffs = append(diffs, shapeDiff(byID[m["_id"]], gv, p, typesOnly)...)
				} else if len(w) > 0 {
					diffs = append(diffs, shapeDiff(w[0], gv, p, true)...)
				}
			}
			return diffs
		}
		if typesOnly {
			if len(w) > 0 {
				for i := range g {
					if d := shapeDiff(w[0], g[i], fmt.Sprintf("%s/%d", path, i), true); len(d) > 0 {
						return d
					}
				}
			}
			return nil
		}
		if len(g) != len(w) {
			return []string{fmt.Sprintf("%s: %d items, want %d", path, len(g), len(w))}
		}
		var diffs []string
		for i := range w {
			diffs = append(diffs, shapeDiff(w[i], g[i], fmt.Sprintf("%s/%d", path, i), typesOnly)...)
		}
		return diffs
	}
	if variable[key] || typesOnly {
		if want == nil || got == nil || typeName(want) == typeName(got) {
			return nil
		}
		return []string{fmt.Sprintf("%s: %s, want %s", path, typeName(got), typeName(want))}
	}
	if typeName(want) != typeName(got) {
		return []string{fmt.Sprintf("%s: %s %v, want %s %v", path, typeName(got), got, typeName(want), want)}
	}
	if key == "state" && want == "NORMAL" && got == "BLOCKED" {
		// Quartz blocks the trigger of a non-concurrent job while it runs,
		// and the guide's schedule fires every second.
		return nil
	}
	if fmt.Sprint(want) != fmt.Sprint(got) {
		return []string{fmt.Sprintf("%s: %v, want %v", path, got, want)}
	}
	return nil
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func readGolden(t *testing.T, name string) any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "guide", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// assertErrorBody checks CREST's error shape.
func assertErrorBody(t *testing.T, step string, status int, body []byte) {
	t.Helper()
	var e struct {
		Code    int     `json:"code"`
		Reason  string  `json:"reason"`
		Message *string `json:"message"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Code != status || e.Reason != http.StatusText(status) || e.Message == nil {
		t.Fatalf("%s: error body %s, want {code: %d, reason: %q, message}", step, body, status, http.StatusText(status))
	}
}

func resultIDs(t *testing.T, body []byte) map[string]bool {
	t.Helper()
	var q struct {
		Result []struct {
			ID string `json:"_id"`
		} `json:"result"`
	}
	if err := json.Unmarshal(body, &q); err != nil {
		t.Fatalf("query answer: %v\n%s", err, body)
	}
	ids := map[string]bool{}
	for _, r := range q.Result {
		ids[r.ID] = true
	}
	return ids
}

// apiClient talks to a node's REST API as the guide's examples do, with a
// bearer token of the client the first start created (var/admin.secret).
type apiClient struct {
	base  string
	token string
}

func newAPIClient(t *testing.T, node *proc, p *project) *apiClient {
	t.Helper()
	secret, err := os.ReadFile(filepath.Join(p.dir, "var", "admin.secret"))
	if err != nil {
		t.Fatalf("the first start left no var/admin.secret: %v", err)
	}
	return newAPIClientAs(t, node, "openidm-admin", strings.TrimSpace(string(secret)))
}

// newAPIClientAs is an apiClient with a bearer token of client id.
func newAPIClientAs(t *testing.T, node *proc, id, secret string) *apiClient {
	t.Helper()
	c := &apiClient{base: "http://" + node.addr}
	form := url.Values{"grant_type": {"client_credentials"}}
	req, _ := http.NewRequest("POST", c.base+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || json.Unmarshal(body, &tok) != nil || tok.AccessToken == "" || tok.TokenType != "Bearer" || tok.ExpiresIn <= 0 {
		t.Fatalf("token: %d %s", resp.StatusCode, body)
	}
	c.token = tok.AccessToken
	return c
}

func (c *apiClient) do(t *testing.T, method, path, body string) (int, []byte) {
	t.Helper()
	return c.doVersion(t, "resource=2.0", method, path, body)
}

// doVersion is do with the Accept-API-Version header version (managed
// objects answer resource=1.0).
func (c *apiClient) doVersion(t *testing.T, version, method, path, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = bytes.NewReader([]byte(body))
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept-API-Version", version)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, got
}
