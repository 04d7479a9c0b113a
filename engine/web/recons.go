package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"sundial/engine/api"
)

// MappingView is a mapping of sync.json, as the reconciliations page
// offers it.
type MappingView struct {
	Name, Source, Target string
}

// reconRun is one reconciliation run, read from its REST summary.
type reconRun struct {
	ID, Mapping, State, Stage, Node string
	DryRun                          bool
	// Processed and Total count the source phase's entries; TotalKnown
	// is false while the source is still being counted.
	Processed, Total int64
	TotalKnown       bool
	// Situations lists the situations met, most frequent first; Changes
	// the objects created, updated, deleted, linked and unlinked (those
	// not zero): "ABSENT 10 · CONFIRMED 2", each count bound to its name
	// by a no-break space.
	Situations, Changes string
	Failed              int64
	Started, Ended      string
	DurationMS          int64
	Error               string
	Active, Operate     bool
	CSRF                string
}

func reconRunOf(m map[string]any, sess session) reconRun {
	str := func(v any) string { s, _ := v.(string); return s }
	sub := func(m map[string]any, keys ...string) map[string]any {
		for _, k := range keys {
			m, _ = m[k].(map[string]any)
		}
		return m
	}
	r := reconRun{ID: str(m["_id"]), Mapping: str(m["mapping"]), State: str(m["state"]), Stage: str(m["stage"]), Node: str(m["node"]),
		Started: str(m["started"]), Ended: str(m["ended"]), DurationMS: toInt64(m["duration"]), Error: str(m["error"]),
		Operate: sess.CanOperate(), CSRF: sess.csrf}
	r.DryRun, _ = m["dryRun"].(bool)
	src := sub(m, "progress", "source", "existing")
	r.Processed = toInt64(src["processed"])
	if t, ok := src["total"]; ok && str(t) != "?" {
		r.Total, r.TotalKnown = toInt64(t), true
	}
	ch := sub(m, "changes")
	r.Failed = toInt64(ch["failed"])
	var changes []count
	for _, k := range []string{"created", "updated", "deleted", "linked", "unlinked"} {
		changes = append(changes, count{k, toInt64(ch[k])})
	}
	r.Changes = countList(changes)
	var sits []count
	for k, v := range sub(m, "situationSummary") {
		sits = append(sits, count{k, toInt64(v)})
	}
	sort.Slice(sits, func(i, j int) bool {
		if sits[i].n != sits[j].n {
			return sits[i].n > sits[j].n
		}
		return sits[i].name < sits[j].name
	})
	r.Situations = countList(sits)
	r.Active = r.Ended == ""
	return r
}

// count is a named count of a run.
type count struct {
	name string
	n    int64
}

// countList writes the counts that are not zero, in their order.
func countList(cs []count) string {
	var parts []string
	for _, c := range cs {
		if c.n != 0 {
			parts = append(parts, fmt.Sprintf("%s\u00a0%d", c.name, c.n))
		}
	}
	return strings.Join(parts, " · ")
}

func (s *server) reconRuns(ctx context.Context, sess session) ([]reconRun, error) {
	if s.Recons == nil {
		return nil, nil
	}
	ms, err := s.Recons.Runs(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]reconRun, len(ms))
	for i, m := range ms {
		out[i] = reconRunOf(m, sess)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Started > out[j].Started })
	return out, nil
}

type reconsData struct {
	Enabled  bool
	Runs     []reconRun
	Mappings []MappingView
	Error    string
}

func (s *server) reconsPage(w http.ResponseWriter, r *http.Request, sess session) {
	d := reconsData{Enabled: s.Recons != nil}
	runs, err := s.reconRuns(r.Context(), sess)
	if err != nil {
		d.Error = err.Error()
	}
	d.Runs = runs
	if s.Mappings != nil {
		d.Mappings = s.Mappings()
	}
	s.render(w, r, http.StatusOK, "recons", page{Title: "Reconciliations", Nav: "recons", Session: sess, Data: d})
}

// reconStart starts a reconciliation, or a dry run (dryRun=true) that
// only stores its plan.
func (s *server) reconStart(w http.ResponseWriter, r *http.Request, sess session) {
	if s.Recons == nil {
		s.fail(w, r, http.StatusNotImplemented, "this node runs no reconciliation (it has no store)")
		return
	}
	mapping := r.PostForm.Get("mapping")
	dry := r.PostForm.Get("dryRun") == "true"
	if _, err := s.Recons.Start(r.Context(), api.ReconStart{Mapping: mapping, DryRun: dry, User: sess.ClientID}); err != nil {
		s.failErr(w, r, err)
		return
	}
	s.Logger.Info("web action", "action", "recon", "mapping", mapping, "dryRun", dry, "by", sess.ClientID)
	http.Redirect(w, r, "/ui/recons", http.StatusSeeOther)
}

func (s *server) reconCancel(w http.ResponseWriter, r *http.Request, sess session) {
	if s.Recons == nil {
		s.fail(w, r, http.StatusNotImplemented, "this node runs no reconciliation (it has no store)")
		return
	}
	id := r.PathValue("id")
	if _, err := s.Recons.Cancel(r.Context(), id); err != nil {
		s.failErr(w, r, err)
		return
	}
	s.Logger.Info("web action", "action", "cancel", "recon", id, "by", sess.ClientID)
	http.Redirect(w, r, "/ui/recons", http.StatusSeeOther)
}

// ReconEntries streams a recon run's audit/recon entries, in their order,
// to fn until fn fails (the REST API's audit/recon, run by run).
type ReconEntries func(ctx context.Context, reconID string, fn func(map[string]any) error) error

// reconEntry is one audit/recon entry of a run, as its page lists it.
type reconEntry struct {
	Seq                                  int
	Timestamp, Reconciling               string
	Situation, Action, Status, Qualifier string
	Source, Target, Message, Exception   string
}

func reconEntryOf(seq int, m map[string]any) reconEntry {
	str := func(k string) string {
		switch v := m[k].(type) {
		case string:
			return v
		case nil:
			return ""
		default:
			return fmt.Sprint(v)
		}
	}
	return reconEntry{Seq: seq, Timestamp: str("timestamp"), Reconciling: str("reconciling"), Situation: str("situation"),
		Action: str("action"), Status: str("status"), Qualifier: str("linkQualifier"), Source: str("sourceObjectId"),
		Target: str("targetObjectId"), Message: str("message"), Exception: str("exception")}
}

// reconEntriesPerPage bounds the entries a run's page lists at once.
const reconEntriesPerPage = 100

type reconData struct {
	Run reconRun
	// Situations are every situation's count, the situations met first.
	Situations []situationCount
	// Entries are the page's entries among those Filter matches; Matched
	// counts them all.
	Entries          []reconEntry
	Matched          int
	Filter           reconEntryFilter
	Page, Pages      int
	Prev, Next       string
	EntriesError     string
	RESTJSON         string
	SituationOptions []string
}

type situationCount struct {
	Name string
	N    int64
}

// reconEntryFilter selects a run's entries: by situation and by status
// (SUCCESS, FAILURE); "" is any.
type reconEntryFilter struct {
	Situation, Status string
}

func (f reconEntryFilter) match(e reconEntry) bool {
	return (f.Situation == "" || e.Situation == f.Situation) && (f.Status == "" || e.Status == f.Status)
}

// query is the filter and page as a URL query.
func (f reconEntryFilter) query(page int) string {
	v := url.Values{}
	if f.Situation != "" {
		v.Set("situation", f.Situation)
	}
	if f.Status != "" {
		v.Set("status", f.Status)
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// reconPage is one run: its row, its situations, and its audit entries
// (the situations and actions of each source and target), filtered and
// paged, read as a stream so that a run of a million entries holds one
// page.
func (s *server) reconPage(w http.ResponseWriter, r *http.Request, sess session) {
	if s.Recons == nil {
		s.fail(w, r, http.StatusNotImplemented, "this node runs no reconciliation (it has no store)")
		return
	}
	id := r.PathValue("id")
	ctx := r.Context()
	m, err := s.Recons.Run(ctx, id)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	q := r.URL.Query()
	d := reconData{Run: reconRunOf(m, sess), Filter: reconEntryFilter{Situation: q.Get("situation"), Status: q.Get("status")}, Page: 1}
	if p, err := strconv.Atoi(q.Get("page")); err == nil && p > 1 {
		d.Page = p
	}
	sits, _ := m["situationSummary"].(map[string]any)
	for name, v := range sits {
		d.Situations = append(d.Situations, situationCount{name, toInt64(v)})
		d.SituationOptions = append(d.SituationOptions, name)
	}
	sort.Slice(d.Situations, func(i, j int) bool {
		a, b := d.Situations[i], d.Situations[j]
		if a.N != b.N {
			return a.N > b.N
		}
		return a.Name < b.Name
	})
	sort.Strings(d.SituationOptions)
	d.RESTJSON = indentJSON(m)
	if s.ReconEntries != nil {
		first := (d.Page - 1) * reconEntriesPerPage
		seq := 0
		err := s.ReconEntries(ctx, id, func(doc map[string]any) error {
			if t, _ := doc["entryType"].(string); t != "" && t != "entry" {
				return nil // the run's start and summary
			}
			seq++
			e := reconEntryOf(seq, doc)
			if !d.Filter.match(e) {
				return nil
			}
			if d.Matched >= first && d.Matched < first+reconEntriesPerPage {
				d.Entries = append(d.Entries, e)
			}
			d.Matched++
			return nil
		})
		if err != nil {
			d.EntriesError = err.Error()
		}
	}
	d.Pages = max(1, (d.Matched+reconEntriesPerPage-1)/reconEntriesPerPage)
	if d.Page > 1 {
		d.Prev = "/ui/recons/" + url.PathEscape(id) + d.Filter.query(d.Page-1)
	}
	if d.Page < d.Pages {
		d.Next = "/ui/recons/" + url.PathEscape(id) + d.Filter.query(d.Page+1)
	}
	s.render(w, r, http.StatusOK, "recon", page{Title: "Reconciliation " + shortID(id), Nav: "recons", Session: sess, Data: d})
}
