package sync_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"sundial/engine/config"
	"sundial/engine/connector"
	"sundial/engine/managed"
	"sundial/engine/store"
	"sundial/engine/store/sqlite"
	"sundial/engine/sync"
)

// mappingFile is a managed/src → managed/tgt mapping whose policies reach
// every action.
const mappingFile = `{"mappings": [{
  "name": "srcToTgt", "source": "managed/src", "target": "managed/tgt",
  "validSource": {"type": "text/javascript", "source": "source.valid !== false"},
  "validTarget": {"type": "text/javascript", "source": "target.ignore !== true"},
  "correlationQuery": {"type": "text/javascript", "source": "({_queryFilter: 'userName eq \"' + source.userName + '\"'})"},
  "taskThreads": 2,
  "properties": [
    {"source": "userName", "target": "userName"},
    {"source": "mail", "target": "email", "transform": {"type": "text/javascript", "source": "source == null ? null : source.toLowerCase()"}},
    {"source": "status", "target": "status", "default": "active"},
    {"source": "", "target": "display/name", "transform": {"type": "text/javascript", "source": "source.userName + '!'"}}
  ],
  "onCreate": {"type": "text/javascript", "source": "target._id = 'c-' + source.userName; target.created = true"},
  "policies": [
    {"situation": "FOUND", "condition": "/object/linkOnly eq true", "action": "LINK"},
    {"situation": "FOUND", "action": "UPDATE"},
    {"situation": "FOUND_ALREADY_LINKED", "action": "IGNORE"},
    {"situation": "MISSING", "action": {"type": "text/javascript", "source": "linkQualifier === 'default' ? 'ASYNC' : 'EXCEPTION'"}},
    {"situation": "SOURCE_IGNORED", "action": "NOREPORT"},
    {"situation": "SOURCE_MISSING", "action": "UNLINK"},
    {"situation": "TARGET_IGNORED", "action": "REPORT",
     "postAction": {"type": "text/javascript", "source": "if (action !== 'REPORT' || situation !== 'TARGET_IGNORED') throw 'wrong scope'"}}
  ]
}]}`

type fixture struct {
	st      store.Store
	objs    store.Objects
	recons  store.Recons
	svc     *sync.Service
	src     *managed.Set
	tgt     *managed.Set
	mapping *config.Mapping
}

// newFixture loads file; each configure edits the service's Config.
func newFixture(t *testing.T, file string, configure ...func(*sync.Config)) *fixture {
	t.Helper()
	ctx := t.Context()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sync.json"), []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := config.Load(dir, config.LoadOptions{Env: func(string) (string, bool) { return "", false }})
	if err != nil || !d.Valid() {
		t.Fatalf("load: %v %v", err, d.AllErrors())
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{st: st, mapping: d.Mappings[0]}
	f.objs, _ = store.ObjectsOf(st)
	f.recons, _ = store.ReconsOf(st)
	f.src, f.tgt = managed.NewSet(f.objs, "src"), managed.NewSet(f.objs, "tgt")
	cfg := sync.Config{Store: st, Mappings: func() []*config.Mapping { return d.Mappings },
		Resolve: func(r string) (connector.ObjectSet, func(), error) {
			typ, ok := strings.CutPrefix(r, "managed/")
			if !ok {
				return nil, nil, connector.ErrNotFound
			}
			return managed.NewSet(f.objs, typ), nil, nil
		}}
	for _, c := range configure {
		c(&cfg)
	}
	f.svc, err = sync.NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) put(t *testing.T, set *managed.Set, id string, kv ...any) {
	t.Helper()
	o := connector.Object{}
	for i := 0; i < len(kv); i += 2 {
		o[kv[i].(string)] = kv[i+1]
	}
	if _, err := set.Create(t.Context(), id, o); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) link(t *testing.T, src, tgt string) {
	t.Helper()
	res, err := f.recons.CreateLinks(t.Context(), []store.Link{{LinkType: "srcToTgt", LinkQualifier: "default", FirstID: src, SecondID: tgt}})
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res)
	}
}

// seed makes one source or target per situation.
func (f *fixture) seed(t *testing.T) {
	f.put(t, f.src, "s-absent", "userName", "new", "mail", "NEW@X")
	f.put(t, f.src, "s-found", "userName", "found", "mail", "Found@X")
	f.put(t, f.tgt, "t-found", "userName", "found", "email", "old@x")
	f.put(t, f.src, "s-lo", "userName", "lo", "linkOnly", true)
	f.put(t, f.tgt, "t-lo", "userName", "lo")
	f.put(t, f.src, "s-conf", "userName", "conf", "mail", "conf@x", "status", "gone")
	f.put(t, f.tgt, "t-conf", "userName", "conf", "email", "conf@x", "status", "active", "display", map[string]any{"name": "conf!"})
	f.link(t, "s-conf", "t-conf")
	f.put(t, f.src, "s-missing", "userName", "missing")
	f.link(t, "s-missing", "t-gone")
	f.put(t, f.src, "s-amb", "userName", "dup")
	f.put(t, f.tgt, "t-dup1", "userName", "dup")
	f.put(t, f.tgt, "t-dup2", "userName", "dup")
	f.put(t, f.src, "s-fal", "userName", "fal")
	f.put(t, f.tgt, "t-fal", "userName", "fal")
	f.link(t, "s-elsewhere", "t-fal")
	f.put(t, f.src, "s-inv", "userName", "inv", "valid", false)
	f.put(t, f.tgt, "t-inv", "userName", "inv-target")
	f.link(t, "s-inv", "t-inv")
	f.put(t, f.src, "s-ign", "userName", "ign", "valid", false)
	f.put(t, f.tgt, "t-unassigned", "userName", "nobody")
	f.put(t, f.tgt, "t-srcmiss", "userName", "orphan")
	f.link(t, "s-deleted", "t-srcmiss")
	f.put(t, f.tgt, "t-ignored", "userName", "ignored", "ignore", true)
}

// entries returns the audit's entries as "phase id situation action
// status", sorted.
func entries(t *testing.T, svc *sync.Service, id string) []string {
	return auditLines(t, svc, id, func(a map[string]any, obj string) []string {
		return []string{strings.TrimPrefix(strings.TrimPrefix(obj, "managed/src/"), "managed/tgt/"),
			a["situation"].(string), a["action"].(string), a["status"].(string)}
	})
}

// auditLines returns a run's audit entries as "phase " and the fields
// line gives, sorted; obj is the entry's object, the target's in the
// target phase.
func auditLines(t *testing.T, svc *sync.Service, id string, line func(a map[string]any, obj string) []string) []string {
	t.Helper()
	audit, err := svc.Audit(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range audit {
		if a["entryType"] != "entry" {
			continue
		}
		obj, _ := a["sourceObjectId"].(string)
		if a["reconciling"] == "target" {
			obj, _ = a["targetObjectId"].(string)
		}
		out = append(out, a["reconciling"].(string)+" "+strings.Join(line(a, obj), " "))
	}
	sort.Strings(out)
	return out
}

var wantEntries = []string{
	"source s-absent ABSENT CREATE SUCCESS",
	"source s-amb AMBIGUOUS EXCEPTION SUCCESS",
	"source s-conf CONFIRMED UPDATE SUCCESS",
	"source s-fal FOUND_ALREADY_LINKED IGNORE SUCCESS",
	"source s-found FOUND UPDATE SUCCESS",
	"source s-inv UNQUALIFIED DELETE SUCCESS",
	"source s-lo FOUND LINK SUCCESS",
	"source s-missing MISSING ASYNC SUCCESS",
	// s-ign: SOURCE_IGNORED, NOREPORT: no entry.
	"target t-ignored TARGET_IGNORED REPORT SUCCESS",
	"target t-srcmiss SOURCE_MISSING UNLINK SUCCESS",
	"target t-unassigned UNASSIGNED EXCEPTION SUCCESS",
}

func links(t *testing.T, f *fixture) []string {
	var out []string
	_ = f.recons.QueryLinks(t.Context(), store.QueryLinksParams{LinkType: "srcToTgt"}, func(l store.Link) error {
		out = append(out, l.FirstID+"="+l.SecondID)
		return nil
	})
	sort.Strings(out)
	return out
}

var wantLinks = []string{"s-absent=c-new", "s-conf=t-conf", "s-elsewhere=t-fal", "s-found=t-found", "s-lo=t-lo", "s-missing=t-gone"}

func (f *fixture) check(t *testing.T, run *sync.Run) {
	t.Helper()
	ctx := t.Context()
	if run.State() != sync.StateSuccess {
		t.Fatalf("state %s: %v", run.State(), run.Err())
	}
	if got := entries(t, f.svc, run.ID); strings.Join(got, "\n") != strings.Join(wantEntries, "\n") {
		t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantEntries, "\n"))
	}
	if got := links(t, f); strings.Join(got, " ") != strings.Join(wantLinks, " ") {
		t.Errorf("links %v, want %v", got, wantLinks)
	}
	created, err := f.tgt.Read(ctx, "c-new")
	if err != nil || created["email"] != "new@x" || created["status"] != "active" || created["created"] != true ||
		created["display"].(map[string]any)["name"] != "new!" {
		t.Errorf("created target: %v %v", created, err)
	}
	found, _ := f.tgt.Read(ctx, "t-found")
	if found["email"] != "found@x" || found["_rev"] != "2" {
		t.Errorf("updated target: %v", found)
	}
	if lo, _ := f.tgt.Read(ctx, "t-lo"); lo["_rev"] != "1" {
		t.Errorf("LINK wrote the target: %v", lo)
	}
	if conf, _ := f.tgt.Read(ctx, "t-conf"); conf["status"] != "gone" {
		t.Errorf("confirmed target: %v", conf)
	}
	if _, err := f.tgt.Read(ctx, "t-inv"); !errors.Is(err, connector.ErrNotFound) {
		t.Errorf("UNQUALIFIED target not deleted: %v", err)
	}
	c := run.Counts()
	if c.Created != 1 || c.Updated != 2 || c.Deleted != 1 || c.Linked != 3 || c.Unlinked != 2 || c.SourceTotal != 9 || c.TargetTotal != 10 {
		t.Errorf("counts %+v", c)
	}
	sum := run.Summary()
	sits := sum["situationSummary"].(map[string]any)
	if sits["SOURCE_IGNORED"] != 1 || sits["CONFIRMED"] != 1 || sits["FOUND"] != 2 || len(sits) != 11 {
		t.Errorf("situationSummary %v", sits)
	}
	for _, k := range []string{"_id", "mapping", "state", "stage", "stageDescription", "progress", "situationSummary", "statusSummary", "durationSummary", "parameters", "started", "ended", "duration"} {
		if _, ok := sum[k]; !ok {
			t.Errorf("summary has no %s", k)
		}
	}
}

func TestReconEverySituationAndAction(t *testing.T) {
	f := newFixture(t, mappingFile)
	f.seed(t)
	run, err := f.svc.Reconcile(t.Context(), sync.ReconParams{Mapping: "srcToTgt"})
	if err != nil {
		t.Fatal(err)
	}
	f.check(t, run)

	// The second recon finds s-lo, only linked by the first, CONFIRMED,
	// and updates its target; a third changes nothing.
	again, err := f.svc.Reconcile(t.Context(), sync.ReconParams{Mapping: "srcToTgt"})
	if err != nil || again.State() != sync.StateSuccess {
		t.Fatal(err, again.Err())
	}
	if c := again.Counts(); c.Created+c.Deleted+c.Linked+c.Unlinked != 0 || c.Updated != 1 {
		t.Errorf("second recon: %+v", c)
	}
	third, err := f.svc.Reconcile(t.Context(), sync.ReconParams{Mapping: "srcToTgt"})
	if err != nil || third.State() != sync.StateSuccess {
		t.Fatal(err, third.Err())
	}
	if c := third.Counts(); c.Created+c.Updated+c.Deleted+c.Linked+c.Unlinked != 0 {
		t.Errorf("third recon over unchanged data changed something: %+v", c)
	}
	found, _ := f.tgt.Read(t.Context(), "t-found")
	if found["_rev"] != "2" {
		t.Errorf("second recon rewrote t-found: %v", found)
	}
	// The runs are kept, and readable.
	sums, err := f.svc.Summaries(t.Context())
	if err != nil || len(sums) != 3 || sums[0]["_id"] != run.ID || sums[2]["state"] != "SUCCESS" {
		t.Errorf("summaries: %v %v", sums, err)
	}
}

func TestDryRunThenApply(t *testing.T) {
	f := newFixture(t, mappingFile)
	f.seed(t)
	ctx := t.Context()
	before := links(t, f)
	plan, err := f.svc.Reconcile(ctx, sync.ReconParams{Mapping: "srcToTgt", DryRun: true})
	if err != nil || plan.State() != sync.StateSuccess {
		t.Fatal(err, plan.Err())
	}
	if got := links(t, f); strings.Join(got, " ") != strings.Join(before, " ") {
		t.Errorf("a dry run changed the links: %v", got)
	}
	if _, err := f.tgt.Read(ctx, "c-new"); !errors.Is(err, connector.ErrNotFound) {
		t.Errorf("a dry run created a target: %v", err)
	}
	if found, _ := f.tgt.Read(ctx, "t-found"); found["_rev"] != "1" {
		t.Errorf("a dry run updated a target: %v", found)
	}
	if c := plan.Counts(); c.Created != 1 || c.Updated != 2 || c.Deleted != 1 || c.Linked != 3 || c.Unlinked != 2 {
		t.Errorf("planned counts %+v", c)
	}
	changes, err := f.svc.Plan(ctx, plan.ID)
	if err != nil {
		t.Fatal(err)
	}
	var diff []sync.FieldDiff
	for _, c := range changes {
		if c.TargetID == "t-found" && c.Update != nil {
			diff = c.Update.Diff
		}
	}
	if len(diff) != 3 || diff[0].Field != "display" || diff[1].Field != "email" || diff[1].Old != "old@x" || diff[1].New != "found@x" {
		t.Errorf("diff of t-found: %+v", diff)
	}

	applied, err := f.svc.ApplyPlan(ctx, plan.ID)
	if err != nil {
		t.Fatal(err)
	}
	f.check(t, applied)
}

func TestApplyPlanRefusesAChangedTarget(t *testing.T) {
	f := newFixture(t, mappingFile)
	f.seed(t)
	ctx := t.Context()
	plan, err := f.svc.Reconcile(ctx, sync.ReconParams{Mapping: "srcToTgt", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.tgt.Update(ctx, "t-found", "", connector.Object{"userName": "found", "email": "edited@x"}); err != nil {
		t.Fatal(err)
	}
	applied, err := f.svc.ApplyPlan(ctx, plan.ID)
	if err != nil || applied.State() != sync.StateSuccess {
		t.Fatal(err)
	}
	if got, _ := f.tgt.Read(ctx, "t-found"); got["email"] != "edited@x" {
		t.Errorf("the plan overwrote a changed target: %v", got)
	}
	if c := applied.Counts(); c.Failed != 1 || c.Updated != 1 {
		t.Errorf("counts %+v", c)
	}
}

// A plan that Config.Retain names outlives KeepRuns: later runs prune
// the runs before it, not it, and it can still be applied.
func TestRetainedPlanOutlivesKeepRuns(t *testing.T) {
	var retained []string
	f := newFixture(t, mappingFile, func(c *sync.Config) {
		c.KeepRuns = func() int { return 1 }
		c.Retain = func(context.Context) ([]string, error) { return retained, nil }
	})
	f.seed(t)
	ctx := t.Context()
	first, err := f.svc.Reconcile(ctx, sync.ReconParams{Mapping: "srcToTgt", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := f.svc.Reconcile(ctx, sync.ReconParams{Mapping: "srcToTgt", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	retained = []string{plan.ID}
	var later []string
	for range 3 {
		r, err := f.svc.Reconcile(ctx, sync.ReconParams{Mapping: "srcToTgt", DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		later = append(later, r.ID)
	}
	if _, err := f.svc.Summary(ctx, first.ID); !errors.Is(err, sync.ErrNoSuchRun) {
		t.Errorf("the run before the retained plan was kept: %v", err)
	}
	applied, err := f.svc.ApplyPlan(ctx, plan.ID)
	if err != nil || applied.State() != sync.StateSuccess {
		t.Fatalf("apply the retained plan after %v: %v", later, err)
	}
	f.check(t, applied)
	retained = nil
	if _, err := f.svc.Reconcile(ctx, sync.ReconParams{Mapping: "srcToTgt", DryRun: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Summary(ctx, plan.ID); !errors.Is(err, sync.ErrNoSuchRun) {
		t.Errorf("a plan no longer retained was kept: %v", err)
	}
}

func TestEmptySourceSet(t *testing.T) {
	f := newFixture(t, mappingFile)
	f.put(t, f.tgt, "t1", "userName", "x")
	run, err := f.svc.Reconcile(t.Context(), sync.ReconParams{Mapping: "srcToTgt"})
	if err != nil {
		t.Fatal(err)
	}
	if run.State() != sync.StateFailed || !strings.Contains(run.Err().Error(), "empty") {
		t.Errorf("state %s, err %v", run.State(), run.Err())
	}
	if _, err := f.tgt.Read(t.Context(), "t1"); err != nil {
		t.Errorf("the target was touched: %v", err)
	}
	yes := true
	run, _ = f.svc.Reconcile(t.Context(), sync.ReconParams{Mapping: "srcToTgt", AllowEmptySourceSet: &yes})
	if run.State() != sync.StateSuccess {
		t.Errorf("allowEmptySourceSet: state %s, %v", run.State(), run.Err())
	}
}

func TestUnknownMapping(t *testing.T) {
	f := newFixture(t, mappingFile)
	if _, err := f.svc.Reconcile(t.Context(), sync.ReconParams{Mapping: "nope"}); !errors.Is(err, sync.ErrNoSuchMapping) {
		t.Errorf("unknown mapping: %v", err)
	}
}

// blockingSet is a set whose query stops after its first object until the
// run is canceled.
type blockingSet struct {
	connector.ObjectSet
	started chan struct{}
}

func (b blockingSet) Query(ctx context.Context, q connector.Query, fn func(connector.Object) error) error {
	first := true
	return b.ObjectSet.Query(ctx, q, func(o connector.Object) error {
		if !first {
			return nil
		}
		first = false
		if err := fn(o); err != nil {
			return err
		}
		close(b.started)
		<-ctx.Done()
		return ctx.Err()
	})
}

func TestCancel(t *testing.T) {
	f := newFixture(t, mappingFile)
	f.seed(t)
	started := make(chan struct{})
	svc, err := sync.NewService(sync.Config{Store: f.st, Mappings: func() []*config.Mapping { return []*config.Mapping{f.mapping} },
		Resolve: func(r string) (connector.ObjectSet, func(), error) {
			if r == "managed/src" {
				return blockingSet{f.src, started}, nil, nil
			}
			return f.tgt, nil, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	run, err := svc.Start(t.Context(), sync.ReconParams{Mapping: "srcToTgt"})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	if err := svc.Cancel(run.ID); err != nil {
		t.Fatal(err)
	}
	<-run.Done()
	sum, err := svc.Summary(t.Context(), run.ID)
	if err != nil || run.State() != sync.StateCanceled || sum["state"] != "CANCELED" || sum["stage"] != "COMPLETED_CANCELED" {
		t.Errorf("state %s, summary %v %v", run.State(), sum, err)
	}
	if err := svc.Cancel(run.ID); !errors.Is(err, sync.ErrNoSuchRun) {
		t.Errorf("cancel of an ended run: %v", err)
	}
}

// TestFailInterrupted: a run its node's process left ACTIVE (here: a run
// still going in another Service, as a killed process leaves it in the
// store) is marked FAILED by the node's next Service, and only by a
// Service of that node; the Service that runs it leaves it alone.
func TestFailInterrupted(t *testing.T) {
	f := newFixture(t, mappingFile)
	f.seed(t)
	started := make(chan struct{})
	service := func(node string) *sync.Service {
		svc, err := sync.NewService(sync.Config{Store: f.st, Node: node, Mappings: func() []*config.Mapping { return []*config.Mapping{f.mapping} },
			Resolve: func(r string) (connector.ObjectSet, func(), error) {
				if r == "managed/src" {
					return blockingSet{f.src, started}, nil, nil
				}
				return f.tgt, nil, nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		return svc
	}
	dead := service("n1")
	run, err := dead.Start(t.Context(), sync.ReconParams{Mapping: "srcToTgt"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = dead.Cancel(run.ID); <-run.Done() }()
	<-started
	for _, svc := range []*sync.Service{dead, service("n2")} {
		if n, err := svc.FailInterrupted(t.Context()); n != 0 || err != nil {
			t.Errorf("a Service running it, or of another node, marked %d runs (%v)", n, err)
		}
	}
	restarted := service("n1")
	if sum, err := restarted.Summary(t.Context(), run.ID); err != nil || sum["state"] != "ACTIVE" || sum["node"] != "n1" {
		t.Fatalf("before: %v %v", sum, err)
	}
	if n, err := restarted.FailInterrupted(t.Context()); n != 1 || err != nil {
		t.Fatalf("marked %d runs (%v), want 1", n, err)
	}
	sum, err := restarted.Summary(t.Context(), run.ID)
	if err != nil || sum["state"] != "FAILED" || sum["stage"] != "COMPLETED_FAILED" || sum["ended"] == "" ||
		!strings.Contains(fmt.Sprint(sum["error"]), "interrupted: node n1 stopped during the run") {
		t.Errorf("after: %v %v", sum, err)
	}
	if n, err := restarted.FailInterrupted(t.Context()); n != 0 || err != nil {
		t.Errorf("a second call marked %d runs (%v)", n, err)
	}
}
