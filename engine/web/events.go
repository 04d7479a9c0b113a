package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// maxEventRows bounds the rows one tick of the event stream sends; the
// others follow at the next ticks.
const maxEventRows = 200

// rowMark is what makes a schedule row change on the page.
type rowMark struct {
	state                 string
	next, prev            time.Time
	runs, failures, skips uint64
	running               int
	errors                int
}

func markOf(r ScheduleRow) rowMark {
	return rowMark{state: stateOf(r), next: r.Next, prev: r.Previous, runs: r.Runs, failures: r.Failures, skips: r.Skips, running: r.Running, errors: len(r.Errors)}
}

// watcher is one client's view of what it was last sent. Schedule rows
// start from what they are when the stream opens (a list of 10,000 is
// not sent again); run rows (task scans, reconciliations) start empty, so
// the first changes send every kept run: a run that ended between the
// page's rendering and the stream's opening would otherwise stay shown
// as running.
type watcher struct {
	s      *server
	sess   session
	rows   map[string]rowMark
	scans  map[string]scanRun
	recons map[string]reconRun
	// config is configVersion of what was last sent.
	config string
	// pending are changed rows not sent yet (past maxEventRows).
	pending map[string]bool
}

func (s *server) newWatcher(ctx context.Context, sess session) *watcher {
	w := &watcher{s: s, sess: sess, rows: map[string]rowMark{}, scans: map[string]scanRun{}, recons: map[string]reconRun{}, pending: map[string]bool{}}
	for _, r := range s.Source.Schedules(ctx) {
		w.rows[r.ID] = markOf(r)
	}
	w.config = configVersion(s.Source.Config(ctx))
	return w
}

// event is one server-sent event.
type event struct {
	Name string
	Data string
}

// changes returns the events since the last call.
func (w *watcher) changes(ctx context.Context) []event {
	var out []event
	rows := w.s.Source.Schedules(ctx)
	seen := make(map[string]bool, len(rows))
	var changed []ScheduleRow
	for _, r := range rows {
		seen[r.ID] = true
		m := markOf(r)
		if old, ok := w.rows[r.ID]; !ok || old != m || w.pending[r.ID] {
			w.rows[r.ID] = m
			if len(changed) < maxEventRows {
				changed = append(changed, r)
				delete(w.pending, r.ID)
			} else {
				w.pending[r.ID] = true
			}
		}
	}
	for id := range w.rows {
		if !seen[id] {
			delete(w.rows, id)
			delete(w.pending, id)
			out = append(out, event{"schedule-removed", id})
		}
	}
	for _, v := range w.s.rowViews(ctx, changed, w.sess) {
		out = append(out, event{"schedule", w.s.fragment("schedule-row", v)})
	}
	runs, _ := w.s.scanRuns(ctx, w.sess)
	for _, r := range runs {
		if old, ok := w.scans[r.ID]; !ok || old != r {
			w.scans[r.ID] = r
			out = append(out, event{"scan", w.s.fragment("scan-row", r)})
		}
	}
	recons, _ := w.s.reconRuns(ctx, w.sess)
	for _, r := range recons {
		if old, ok := w.recons[r.ID]; !ok || old != r {
			w.recons[r.ID] = r
			out = append(out, event{"recon", w.s.fragment("recon-row", r)})
		}
	}
	if cv := w.s.Source.Config(ctx); configVersion(cv) != w.config {
		w.config = configVersion(cv)
		out = append(out, event{"config", cv.Hash})
	}
	return out
}

// fragment renders one of the row templates.
func (s *server) fragment(name string, v any) string {
	var b bytes.Buffer
	if err := s.rows.ExecuteTemplate(&b, name, v); err != nil {
		s.Logger.Error("web fragment not rendered", "template", name, "err", err)
	}
	return b.String()
}

// configVersion changes with each reload that changes what the
// configuration page shows: the hash, the invalid files, the reloads.
func configVersion(cv ConfigView) string {
	v := fmt.Sprintf("%s|%d|%d", cv.Hash, len(cv.Invalid), len(cv.Reloads))
	if len(cv.Reloads) > 0 {
		v += "|" + cv.Reloads[0].At.String()
	}
	return v
}

// events is the server-sent event stream: "hello" with the config hash
// first, then "schedule" (a schedule's row, as the schedules page renders
// it), "schedule-removed" (its id), "scan" (a task scan's row) and
// "config" (the config hash, at every reload that changes the
// configuration page) as things change.
func (s *server) events(w http.ResponseWriter, r *http.Request, sess session) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	ctx := r.Context()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	wt := s.newWatcher(ctx, sess)
	if v := r.URL.Query().Get("config"); v != "" {
		wt.config = v // the page's version: a reload since its rendering is sent at once
	}
	writeEvent(w, event{"hello", s.Source.Config(ctx).Hash})
	fl.Flush()
	tick := time.NewTicker(s.EventInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if _, still := s.session(r); !still {
			writeEvent(w, event{"expired", "the session expired: sign in again"})
			fl.Flush()
			return
		}
		evs := wt.changes(ctx)
		for _, e := range evs {
			writeEvent(w, e)
		}
		if len(evs) == 0 {
			fmt.Fprint(w, ": idle\n\n")
		}
		fl.Flush()
	}
}

func writeEvent(w http.ResponseWriter, e event) {
	var b strings.Builder
	b.WriteString("event: " + e.Name + "\n")
	for line := range strings.SplitSeq(e.Data, "\n") {
		b.WriteString("data: " + strings.TrimSuffix(line, "\r") + "\n")
	}
	b.WriteString("\n")
	_, _ = w.Write([]byte(b.String()))
}

// pollAnswer is /ui/poll's JSON: the rows asked for, every scan row and
// the config hash, for the page's polling when event streams fail.
type pollAnswer struct {
	Hash string `json:"hash"`
	// Config is a version of the configuration page: it changes when the
	// page would.
	Config string            `json:"config"`
	Rows   map[string]string `json:"rows"`
	Scans  map[string]string `json:"scans"`
	Recons map[string]string `json:"recons"`
}

// maxPollIDs bounds the ids of one poll.
const maxPollIDs = 500

func (s *server) poll(w http.ResponseWriter, r *http.Request, sess session) {
	ids := r.URL.Query()["id"]
	if len(ids) > maxPollIDs {
		ids = ids[:maxPollIDs]
	}
	ctx := r.Context()
	cv := s.Source.Config(ctx)
	ans := pollAnswer{Hash: cv.Hash, Config: configVersion(cv), Rows: map[string]string{}, Scans: map[string]string{}, Recons: map[string]string{}}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var rows []ScheduleRow
	if len(want) > 0 {
		for _, row := range s.Source.Schedules(ctx) {
			if want[row.ID] {
				rows = append(rows, row)
			}
		}
	}
	for _, v := range s.rowViews(ctx, rows, sess) {
		ans.Rows[v.ID] = s.fragment("schedule-row", v)
	}
	runs, _ := s.scanRuns(ctx, sess)
	for _, sr := range runs {
		ans.Scans[sr.ID] = s.fragment("scan-row", sr)
	}
	recons, _ := s.reconRuns(ctx, sess)
	for _, rr := range recons {
		ans.Recons[rr.ID] = s.fragment("recon-row", rr)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(ans)
}
