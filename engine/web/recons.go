package web

import (
	"context"
	"fmt"
	"net/http"
	"sort"
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
	// Processed and Total count the source phase's entries; Total is ""
	// while the source is still being counted.
	Processed int64
	Total     string
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
	// ProgressMax is Total as a number, for the progress bar.
	ProgressMax int64
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
		r.Total = fmt.Sprint(toInt64(t))
		r.ProgressMax = toInt64(t)
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
