package sync_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"sundial/engine/config"
	"sundial/engine/connector"
	"sundial/engine/managed"
	"sundial/engine/store"
	"sundial/engine/store/postgres"
	"sundial/engine/store/sqlite"
	"sundial/engine/sync"
	"sundial/engine/system"
	"sundial/internal/pgtest"
)

// liveProject is a project directory: conf/ with its files, data/.
type liveProject struct {
	dir   string
	store store.Store
	objs  store.Objects
}

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// backends open a fresh store of each backend.
var backends = []struct {
	name string
	open func(t testing.TB) store.Store
}{
	{"sqlite", func(t testing.TB) store.Store {
		st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "s.db"))
		if err != nil {
			t.Fatal(err)
		}
		return st
	}},
	{"postgres", func(t testing.TB) store.Store {
		st, err := postgres.Open(t.Context(), pgtest.DSN(t))
		if err != nil {
			t.Fatal(err)
		}
		return st
	}},
}

// newLiveProject makes a project over a fresh SQLite store.
func newLiveProject(t testing.TB, files map[string]string) *liveProject {
	return newLiveProjectOn(t, files, backends[0].open)
}

func newLiveProjectOn(t testing.TB, files map[string]string, open func(testing.TB) store.Store) *liveProject {
	t.Helper()
	p := &liveProject{dir: t.TempDir()}
	for path, body := range files {
		p.write(t, path, body)
	}
	st := open(t)
	t.Cleanup(func() { st.Close() })
	p.store = st
	p.objs, _ = store.ObjectsOf(st)
	return p
}

func (p *liveProject) write(t testing.TB, path, body string) {
	t.Helper()
	full := filepath.Join(p.dir, path)
	if err := os.MkdirAll(filepath.Dir(full), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// liveNode is what a daemon holds over a project: its loaded conf, its
// connectors, a sync service, and managed objects written through
// SyncedObjects, with their audit/activity entries as the daemon's are.
// Two nodes over one project are a restart.
type liveNode struct {
	conf    *config.Desired
	systems *system.Registry
	svc     *sync.Service
	managed store.Objects
}

func (p *liveProject) start(t testing.TB) *liveNode {
	t.Helper()
	d, err := config.Load(filepath.Join(p.dir, "conf"), config.LoadOptions{Env: func(string) (string, bool) { return "", false }})
	if err != nil || !d.Valid() {
		t.Fatalf("load: %v %v", err, d.AllErrors())
	}
	n := &liveNode{conf: d, systems: system.New(nil)}
	n.systems.Apply(d)
	t.Cleanup(n.systems.Close)
	n.managed = sync.SyncedObjects{Objects: p.objs, Service: func() *sync.Service { return n.svc }, Activity: func() bool { return true }}
	n.svc, err = sync.NewService(sync.Config{Store: p.store, Mappings: func() []*config.Mapping { return d.Mappings },
		Resolve: func(r string) (connector.ObjectSet, func(), error) {
			if typ, ok := strings.CutPrefix(r, "managed/"); ok {
				return managed.NewSet(n.managed, typ), nil, nil
			}
			return n.systems.Acquire(r)
		}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// liveSync runs a pass of source with its provisioner's failure handler.
func (n *liveNode) liveSync(t testing.TB, source string) (map[string]any, error) {
	t.Helper()
	name, _, _ := strings.Cut(strings.TrimPrefix(source, "system/"), "/")
	return n.svc.LiveSync(t.Context(), sync.LiveSyncParams{Source: source, Handler: n.conf.Provisioners[name].SyncFailureHandler, DetailedFailure: true})
}

// users lists managed/user as "id userName mail", sorted.
func (p *liveProject) users(t testing.TB) []string {
	t.Helper()
	var out []string
	err := managed.NewSet(p.objs, "user").Query(t.Context(), connector.Query{}, func(o connector.Object) error {
		mail, _ := o["mail"].(string)
		out = append(out, idOf(o)+" "+o["userName"].(string)+" "+mail)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func idOf(o map[string]any) string { s, _ := o["_id"].(string); return s }

const csvProvisioner = `{
  "name": "csv",
  "connectorRef": {"bundleName": "org.forgerock.openicf.connectors.csvfile-connector", "bundleVersion": "[1.5.0.0,1.6.0.0)",
    "connectorName": "org.forgerock.openicf.csvfile.CSVFileConnector"},
  "configurationProperties": {"csvFile": "&{launcher.project.location}/data/users.csv", "headerUid": "uid", "headerName": "username"},
  "objectTypes": {"account": {"$schema": "http://json-schema.org/draft-03/schema", "id": "__ACCOUNT__", "type": "object",
    "nativeType": "__ACCOUNT__", "properties": {
      "uid": {"type": "string", "nativeName": "__UID__", "nativeType": "string"},
      "username": {"type": "string", "nativeName": "__NAME__", "nativeType": "string"},
      "email": {"type": "string", "nativeName": "email", "nativeType": "string"}}}}%s
}`

// csvToUser maps the CSV accounts onto managed/user; a row whose email is
// "boom" fails its sync.
const csvToUser = `{"mappings": [{
  "name": "csvAccounts_managedUser", "source": "system/csv/account", "target": "managed/user",
  "validSource": {"type": "text/javascript", "source": "if (source.email === 'boom') { throw 'the row says boom' } true"},
  "correlationQuery": {"type": "text/javascript", "source": "({_queryFilter: 'userName eq \"' + source.username + '\"'})"},
  "properties": [
    {"source": "username", "target": "userName"},
    {"source": "email", "target": "mail"},
    {"source": "uid", "target": "_id"}
  ],
  "policies": [{"situation": "SOURCE_MISSING", "action": "DELETE"}, {"situation": "ALL_GONE", "action": "IGNORE"}]
}]}`

func csvRows(rows ...string) string {
	return "uid,username,email\n" + strings.Join(rows, "\n") + "\n"
}

func csvProject(t *testing.T, handler string, open func(testing.TB) store.Store) *liveProject {
	if handler != "" {
		handler = `, "syncFailureHandler": ` + handler
	}
	p := newLiveProjectOn(t, map[string]string{
		"conf/provisioner.openicf-csv.json": strings.Replace(csvProvisioner, "%s", handler, 1),
		"conf/sync.json":                    csvToUser,
		"data/users.csv":                    csvRows("bjensen,bjensen,bjensen@example.com", "scarter,scarter,scarter@example.com"),
	}, open)
	return p
}

// TestLiveSyncCSV: the first pass records the token and syncs nothing;
// then creates, updates and deletes of the file flow into managed/user;
// the token is kept in the store and resumed by a new node; on each
// backend.
func TestLiveSyncCSV(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { testLiveSyncCSV(t, b.open) })
	}
}

func testLiveSyncCSV(t *testing.T, open func(testing.TB) store.Store) {
	p := csvProject(t, "", open)
	n := p.start(t)
	const src = "system/csv/account"
	stage, err := n.liveSync(t, src)
	if err != nil {
		t.Fatal(err)
	}
	cd, _ := stage["connectorData"].(map[string]any)
	if cd == nil || cd["syncToken"] == nil || cd["nativeType"] == nil || stage["lastException"] != nil {
		t.Fatalf("first stage %v", stage)
	}
	if got := p.users(t); len(got) != 0 {
		t.Fatalf("the first pass synced %v", got)
	}

	p.write(t, "data/users.csv", csvRows("bjensen,bjensen,bjensen@example.com", "scarter,scarter,steve@example.com", "jdoe,jdoe,jdoe@example.com"))
	if _, err := n.liveSync(t, src); err != nil {
		t.Fatal(err)
	}
	want := []string{"jdoe jdoe jdoe@example.com", "scarter scarter steve@example.com"}
	if got := p.users(t); !slices.Equal(got, want) {
		t.Fatalf("after creates: %v, want %v", got, want)
	}

	// a restart: a new node over the same store and files
	n = p.start(t)
	if _, err := n.liveSync(t, src); err != nil {
		t.Fatal(err)
	}
	if got := p.users(t); !slices.Equal(got, want) {
		t.Fatalf("an unchanged pass after a restart: %v", got)
	}
	p.write(t, "data/users.csv", csvRows("bjensen,bjensen,bjensen@example.com", "scarter,scarter,scarter@example.com"))
	if _, err := n.liveSync(t, src); err != nil {
		t.Fatal(err)
	}
	if got, want := p.users(t), []string{"scarter scarter scarter@example.com"}; !slices.Equal(got, want) {
		t.Fatalf("after a delete and an update: %v, want %v", got, want)
	}
	var sits []string
	audit, err := n.svc.SyncAudit(t.Context(), "csvAccounts_managedUser")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range audit {
		sits = append(sits, a["sourceObjectId"].(string)+" "+a["situation"].(string)+" "+a["action"].(string)+" "+a["status"].(string))
	}
	sort.Strings(sits)
	wantSits := []string{
		"system/csv/account/jdoe ABSENT CREATE SUCCESS",
		"system/csv/account/jdoe SOURCE_MISSING DELETE SUCCESS",
		"system/csv/account/scarter ABSENT CREATE SUCCESS",
		"system/csv/account/scarter CONFIRMED UPDATE SUCCESS",
	}
	if !slices.Equal(sits, wantSits) {
		t.Errorf("audit/sync:\n%s\nwant\n%s", strings.Join(sits, "\n"), strings.Join(wantSits, "\n"))
	}
	// The pass is who changed managed/user.
	ops := map[string]int{}
	for _, e := range activityEntries(t, p.objs) {
		if e["userId"] != "liveSync/"+src || !strings.HasPrefix(e["objectId"].(string), "managed/user/") {
			t.Errorf("a liveSync's audit/activity entry: %v", e)
		}
		ops[e["operation"].(string)]++
	}
	if ops["CREATE"] != 2 || ops["DELETE"] != 1 || ops["UPDATE"]+ops["PATCH"] != 1 {
		t.Errorf("the liveSync's audit/activity operations: %v, want 2 creates, an update and a delete", ops)
	}
}

// TestLiveSyncFailureHandler: a failing change with each handler; the
// retry counter survives a restart, and the changes after an ignored or
// queued one go through in the same pass; on each backend.
func TestLiveSyncFailureHandler(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { testLiveSyncFailureHandler(t, b.open) })
	}
}

func testLiveSyncFailureHandler(t *testing.T, open func(testing.TB) store.Store) {
	const src = "system/csv/account"
	bad := csvRows("bjensen,bjensen,bjensen@example.com", "scarter,scarter,scarter@example.com", "boom,boom,boom", "zed,zed,zed@example.com")
	for _, tc := range []struct {
		name, handler string
		// failing is how many passes stop at the bad change; forever:
		// every pass does.
		failing int
		queued  bool
		forever bool
	}{
		{"retry forever when absent", "", 4, false, true},
		{"maxRetries then logged-ignore", `{"maxRetries": 2, "postRetryAction": "logged-ignore"}`, 2, false, false},
		{"dead-letter-queue at once", `{"maxRetries": 0, "postRetryAction": "dead-letter-queue"}`, 0, true, false},
		{"a script that queues the change", `{"maxRetries": 1, "postRetryAction": {"script": {"type": "text/javascript", "source":
			"if (syncFailure.uid !== 'boom' || syncFailure.systemIdentifier !== 'csv' || syncFailure.objectType !== 'account' || failureCause.getMessage().indexOf('boom') < 0) { throw 'wrong bindings: ' + JSON.stringify(syncFailure) }\nfailureHandlers.deadLetterQueue.invoke(syncFailure, failureCause)"}}}`, 1, true, false},
		{"a script that ignores the change", `{"maxRetries": 0, "postRetryAction": {"script": {"type": "text/javascript", "source": "failureHandlers.loggedIgnore(syncFailure, failureCause)"}}}`, 0, false, false},
		{"a script that throws means a retry", `{"maxRetries": 0, "postRetryAction": {"script": {"type": "text/javascript", "source": "throw 'not now'"}}}`, 3, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := csvProject(t, tc.handler, open)
			if _, err := p.start(t).liveSync(t, src); err != nil {
				t.Fatal(err)
			}
			p.write(t, "data/users.csv", bad)
			for i := 1; i <= tc.failing; i++ {
				// a new node each time: the counter is the store's
				stage, err := p.start(t).liveSync(t, src)
				if !errors.Is(err, sync.ErrChangeFailed) {
					t.Fatalf("pass %d: %v %v", i, err, stage)
				}
				le, _ := stage["lastException"].(map[string]any)
				delta, _ := le["syncDelta"].(map[string]any)
				if le == nil || delta["uid"] != "boom" || le["failures"] != i {
					t.Fatalf("pass %d: lastException %v", i, le)
				}
				if got := p.users(t); len(got) != 0 {
					t.Fatalf("pass %d: a change after the failing one went through: %v", i, got)
				}
				if msg, _ := le["throwable"].(map[string]any)["message"].(string); tc.forever && tc.handler != "" && !strings.Contains(msg, "not now") {
					t.Errorf("pass %d: lastException's message %q does not say why the handler's script failed", i, msg)
				}
			}
			if tc.forever {
				return // retried forever
			}
			stage, err := p.start(t).liveSync(t, src)
			if err != nil || stage["lastException"] != nil {
				t.Fatalf("past the retries: %v %v", err, stage)
			}
			if got, want := p.users(t), []string{"zed zed zed@example.com"}; !slices.Equal(got, want) {
				t.Errorf("users %v, want %v", got, want)
			}
			page, err := p.objs.QueryObjects(t.Context(), store.QueryObjectsParams{Type: "repo:synchronisation:deadLetterQueue:csv"})
			if err != nil {
				t.Fatal(err)
			}
			if !tc.queued {
				if len(page.Objects) != 0 {
					t.Errorf("dead letters %v", page.Objects)
				}
				return
			}
			if len(page.Objects) != 1 || page.Objects[0].Content["uid"] != "boom" || page.Objects[0].Content["systemIdentifier"] != "csv" ||
				page.Objects[0].Content["objectType"] != "account" || !strings.Contains(page.Objects[0].Content["failureCause"].(string), "boom") {
				t.Errorf("dead letters %v", page.Objects)
			}
		})
	}
}

// TestLiveSyncNeedsAChangeStream: a managed set has none.
func TestLiveSyncNeedsAChangeStream(t *testing.T) {
	p := csvProject(t, "", backends[0].open)
	_, err := p.start(t).svc.LiveSync(context.Background(), sync.LiveSyncParams{Source: "managed/user"})
	if !errors.Is(err, connector.ErrNotSupported) {
		t.Errorf("got %v", err)
	}
}
