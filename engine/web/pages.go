package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"sundial/engine/api/crest"
	"sundial/engine/config"
	"sundial/engine/taskscanner"
	"sundial/engine/trigger"
)

// page is what every page template gets.
type page struct {
	Title string
	// Nav is the page's entry of the navigation.
	Nav     string
	Session session
	CSRF    string
	Now     time.Time
	Data    any
	// Config is the configuration's version (configVersion) the page was
	// rendered with: the event stream and the polling start from it, so a
	// reload between rendering and the stream's opening is not missed.
	Config string
}

func (s *server) render(w http.ResponseWriter, r *http.Request, code int, name string, p page) {
	p.Now = s.Clock.Now()
	if p.Session.ClientID != "" {
		p.Config = configVersion(s.Source.Config(r.Context()))
	}
	if p.CSRF == "" {
		p.CSRF = p.Session.csrf
	}
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		s.Logger.Error("web page not rendered", "page", name, "err", err)
		http.Error(w, "internal error: the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// fail answers an error page.
func (s *server) fail(w http.ResponseWriter, r *http.Request, code int, msg string) {
	sess, _ := s.session(r)
	s.render(w, r, code, "error", page{Title: http.StatusText(code), Session: sess, Data: msg})
}

// failErr answers a service's error with its CREST status.
func (s *server) failErr(w http.ResponseWriter, r *http.Request, err error) {
	var ce *crest.Error
	if errors.As(err, &ce) {
		s.fail(w, r, ce.Code, ce.Message)
		return
	}
	s.Logger.Error("web action failed", "path", r.URL.Path, "err", err)
	s.fail(w, r, http.StatusInternalServerError, err.Error())
}

type schedulesData struct {
	Query    listQuery
	Rows     []rowView
	Total    int
	Matched  int
	Page     int
	Pages    int
	Services []string
	States   []string
	Error    string
}

func (d schedulesData) PrevURL() string { return d.Query.URL(d.Page-1, d.Query.Sort) }
func (d schedulesData) NextURL() string { return d.Query.URL(d.Page+1, d.Query.Sort) }

func (s *server) schedulesPage(w http.ResponseWriter, r *http.Request, sess session) {
	q, err := parseListQuery(r.URL.Query())
	code := http.StatusOK
	data := schedulesData{States: rowStates}
	if err != nil {
		code, data.Error = http.StatusBadRequest, err.Error()
		q = listQuery{Sort: "id", Page: 1, Per: defaultPer}
	}
	all := s.Source.Schedules(r.Context())
	services := map[string]bool{}
	for _, row := range all {
		if svc := serviceOf(row); svc != "" {
			services[svc] = true
		}
	}
	for svc := range services {
		data.Services = append(data.Services, svc)
	}
	sort.Strings(data.Services)
	rows, matched, pages := q.apply(all)
	q.Page = min(q.Page, pages)
	if len(rows) == 0 && matched > 0 {
		rows, _, _ = q.apply(all)
	}
	data.Query, data.Total, data.Matched, data.Page, data.Pages = q, len(all), matched, q.Page, pages
	data.Rows = s.rowViews(r.Context(), rows, sess)
	for i := range data.Rows {
		data.Rows[i].Return = safeNext(r.URL.RequestURI())
	}
	s.render(w, r, code, "schedules", page{Title: "Schedules", Nav: "schedules", Session: sess, Data: data})
}

// rowViews adds the last runs and the words of the triggers to rows.
func (s *server) rowViews(ctx context.Context, rows []ScheduleRow, sess session) []rowView {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	last := s.Source.LastRuns(ctx, ids)
	now := s.Clock.Now()
	out := make([]rowView, len(rows))
	for i, r := range rows {
		var lr *RunView
		if run, ok := last[r.ID]; ok {
			lr = &run
		}
		out[i] = newRowView(r, lr, now, sess)
	}
	return out
}

type scheduleData struct {
	Row       rowView
	Found     bool
	ID        string
	NextFires []time.Time
	Runs      []RunView
	RunsError string
	Missed    []RunView
	// Definition is the loaded version as indented JSON; Raw the file.
	Definition string
	Raw        string
	RawError   string
	RESTJSON   string
}

func (s *server) schedulePage(w http.ResponseWriter, r *http.Request, sess session) {
	id := r.PathValue("id")
	ctx := r.Context()
	row, ok := s.Source.Schedule(ctx, id)
	if !ok {
		s.fail(w, r, http.StatusNotFound, "no schedule "+id+": it may have been removed")
		return
	}
	views := s.rowViews(ctx, []ScheduleRow{row}, sess)
	views[0].Return = safeNext(r.URL.RequestURI())
	d := scheduleData{Row: views[0], Found: true, ID: id}
	if row.Schedule != nil {
		d.NextFires = upcoming(row, 10, time.Time{})
		d.Definition = indentJSON(row.Schedule.Config())
	}
	if row.File != "" {
		raw, err := s.Source.File(row.File)
		if err != nil {
			d.RawError = err.Error()
		}
		d.Raw = string(raw)
	}
	runs, err := s.Source.Runs(ctx, id, 50)
	if err != nil {
		d.RunsError = err.Error()
	}
	d.Runs = runs
	d.Missed = s.Source.Missed(ctx, id)
	if job, err := s.Schedules.Job(ctx, id); err == nil {
		d.RESTJSON = indentJSON(job)
	} else {
		d.RESTJSON = err.Error()
	}
	s.render(w, r, http.StatusOK, "schedule", page{Title: "Schedule " + id, Nav: "schedules", Session: sess, Data: d})
}

// upcoming returns up to n fire times of row from its next fire on, all
// before until when it is set.
func upcoming(row ScheduleRow, n int, until time.Time) []time.Time {
	spec, st, ok := triggerOf(row)
	if !ok {
		return nil
	}
	var out []time.Time
	for len(out) < n && !st.Next.IsZero() && (until.IsZero() || st.Next.Before(until)) {
		out = append(out, st.Next)
		st = spec.Fired(st)
	}
	return out
}

// triggerOf is row's trigger, in the state of its next fire.
func triggerOf(row ScheduleRow) (*trigger.Spec, trigger.State, bool) {
	if row.Schedule == nil || row.Next.IsZero() {
		return nil, trigger.State{}, false
	}
	spec, err := row.Schedule.Trigger(config.TriggerOptions{DefaultLocation: row.Location})
	if err != nil {
		return nil, trigger.State{}, false
	}
	return &spec, trigger.State{Next: row.Next, Previous: row.Previous, RepeatCount: spec.RepeatCount, Start: row.Next}, true
}

func indentJSON(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// back is where an action returns: the page it was posted from.
func back(r *http.Request) string { return safeNext(r.PostForm.Get("return")) }

func (s *server) act(ctx context.Context, action, id string) error {
	switch action {
	case "trigger":
		return s.Schedules.TriggerJob(ctx, id)
	case "pause":
		return s.Schedules.PauseJob(ctx, id)
	case "resume":
		return s.Schedules.ResumeJob(ctx, id)
	}
	return crest.BadRequest("unknown action %q: want trigger, pause or resume", action)
}

func (s *server) scheduleAction(w http.ResponseWriter, r *http.Request, sess session) {
	id, action := r.PathValue("id"), r.PathValue("action")
	if err := s.act(r.Context(), action, id); err != nil {
		s.failErr(w, r, err)
		return
	}
	s.Logger.Info("web action", "action", action, "schedule", id, "by", sess.ClientID)
	http.Redirect(w, r, back(r), http.StatusSeeOther)
}

// maxBulk bounds the ids of one bulk action.
const maxBulk = 1000

func (s *server) bulkAction(w http.ResponseWriter, r *http.Request, sess session) {
	ids, action := r.PostForm["id"], r.PostForm.Get("action")
	if len(ids) == 0 {
		s.fail(w, r, http.StatusBadRequest, "no schedule selected: tick the rows first")
		return
	}
	if len(ids) > maxBulk {
		s.fail(w, r, http.StatusBadRequest, fmt.Sprintf("at most %d schedules at once", maxBulk))
		return
	}
	var failed []string
	for _, id := range ids {
		if err := s.act(r.Context(), action, id); err != nil {
			var ce *crest.Error
			if errors.As(err, &ce) && ce.Code == http.StatusBadRequest && strings.HasPrefix(ce.Message, "unknown action") {
				s.failErr(w, r, err)
				return
			}
			failed = append(failed, id+": "+err.Error())
		}
	}
	s.Logger.Info("web bulk action", "action", action, "schedules", len(ids), "failed", len(failed), "by", sess.ClientID)
	if len(failed) > 0 {
		s.fail(w, r, http.StatusConflict, fmt.Sprintf("%s done on %d of %d schedules; refused: %s", action, len(ids)-len(failed), len(ids), strings.Join(failed, "; ")))
		return
	}
	http.Redirect(w, r, back(r), http.StatusSeeOther)
}

// Timeline.

// maxLanes bounds the lanes drawn, maxLaneFires the fires counted per
// schedule (for overlaps), and maxTimelineFires the fires counted in all.
// A lane has lanePositions positions; past its counted fires, a lane is
// drawn by asking the trigger for its first fire in each position, so
// drawing costs at most one step per position however often it fires.
const (
	maxLanes         = 200
	maxLaneFires     = 5000
	maxTimelineFires = 200_000
	lanePositions    = 1000
)

type timelineData struct {
	Span        string
	From, To    time.Time
	ThreadCount int
	Lanes       []lane
	// Ticks are the time axis's marks.
	Ticks []tick
	// Overlaps are the moments more runs would start than threadCount
	// allows.
	Overlaps []overlap
	// MoreLanes counts the schedules with fires left out past maxLanes.
	MoreLanes int
}

type lane struct {
	ID string
	// Marks are the lane's runs of positions with fires in them.
	Marks []fireMark
	// Fires counts the fires counted; Dense says there are more than
	// that, and Every is then the shortest gap between two of them.
	Fires int
	Dense bool
	Every time.Duration
}

// fireMark is a run of Width adjacent positions of a lane with fires in
// each, from Pos (per mille of the span); At is its first fire.
type fireMark struct {
	At      time.Time
	Pos     int
	Width   int
	Overlap bool
}

type overlap struct {
	At    time.Time
	Pos   int
	Count int
}

// tick is one mark of the time axis, at Pos per mille of the span.
type tick struct {
	Pos   int
	Label string
}

// timelineTicks marks each 3 hours of a 24-hour span, each day of a longer
// one, at whole hours and days of UTC.
func timelineTicks(from time.Time, dur time.Duration) []tick {
	step, layout := 3*time.Hour, "15:04"
	if dur > 24*time.Hour {
		step, layout = 24*time.Hour, "Mon 02 Jan"
	}
	var out []tick
	for t := from.UTC().Truncate(step).Add(step); t.Before(from.Add(dur)); t = t.Add(step) {
		out = append(out, tick{Pos: int(t.Sub(from) * lanePositions / dur), Label: t.Format(layout)})
	}
	return out
}

func (s *server) timelinePage(w http.ResponseWriter, r *http.Request, sess session) {
	span, dur := "24h", 24*time.Hour
	switch r.URL.Query().Get("span") {
	case "", "24h":
	case "7d":
		span, dur = "7d", 7*24*time.Hour
	default:
		s.fail(w, r, http.StatusBadRequest, "span: want 24h or 7d")
		return
	}
	cfg := s.Source.Config(r.Context())
	now := s.Clock.Now()
	d := timelineData{Span: span, From: now, To: now.Add(dur), ThreadCount: cfg.ThreadCount, Ticks: timelineTicks(now, dur)}
	d.Lanes, d.Overlaps, d.MoreLanes = buildTimeline(s.Source.Schedules(r.Context()), now, dur, cfg.ThreadCount)
	s.render(w, r, http.StatusOK, "timeline", page{Title: "Timeline, next " + span, Nav: "timeline", Session: sess, Data: d})
}

// buildTimeline lays out the fires of rows in [now, now+dur): one lane per
// schedule that fires (the first maxLanes), with a mark per run of
// positions that have fires, and the moments where more fires start at
// once than threadCount workers can take.
func buildTimeline(rows []ScheduleRow, now time.Time, dur time.Duration, threadCount int) ([]lane, []overlap, int) {
	until := now.Add(dur)
	pos := func(t time.Time) int { return min(lanePositions-1, int(t.Sub(now)*lanePositions/dur)) }
	posStart := func(p int) time.Time { return now.Add(dur * time.Duration(p) / lanePositions) }
	var lanes []lane
	var laneFires [][]time.Time
	var laneRows []ScheduleRow
	more, budget := 0, maxTimelineFires
	count := map[int64]int{}
	for _, row := range rows {
		if row.Schedule == nil || row.Paused || row.Next.IsZero() || !row.Next.Before(until) {
			continue
		}
		fires := upcoming(row, min(maxLaneFires, max(budget, 1))+1, until)
		l := lane{ID: row.ID}
		if len(fires) > maxLaneFires || len(fires) > budget {
			fires, l.Dense = fires[:min(maxLaneFires, budget)], true
		}
		budget -= len(fires)
		for _, f := range fires {
			count[f.Unix()]++
		}
		if len(lanes) >= maxLanes {
			more++
			continue
		}
		l.Fires = len(fires)
		if l.Dense {
			for i := 1; i < len(fires); i++ {
				if g := fires[i].Sub(fires[i-1]); l.Every == 0 || g < l.Every {
					l.Every = g
				}
			}
		}
		lanes = append(lanes, l)
		laneFires = append(laneFires, fires)
		laneRows = append(laneRows, row)
	}
	var overlaps []overlap
	over := map[int64]bool{}
	if threadCount > 0 {
		for sec, n := range count {
			if n > threadCount {
				t := time.Unix(sec, 0)
				overlaps = append(overlaps, overlap{At: t, Pos: pos(t), Count: n})
				over[sec] = true
			}
		}
	}
	sort.Slice(overlaps, func(i, j int) bool { return overlaps[i].At.Before(overlaps[j].At) })
	for i, fires := range laneFires {
		var marks []fireMark
		add := func(f time.Time, o bool) {
			p := pos(f)
			if n := len(marks); n > 0 {
				m := &marks[n-1]
				switch {
				case m.Pos+m.Width-1 == p:
					// Fires closer than a position share it; an overlap
					// among them marks it.
					switch {
					case !o || m.Overlap:
					case m.Width == 1:
						m.At, m.Overlap = f, true
					default:
						m.Width--
						marks = append(marks, fireMark{At: f, Pos: p, Width: 1, Overlap: true})
					}
					return
				case m.Pos+m.Width == p && !o && !m.Overlap:
					m.Width++
					return
				}
			}
			marks = append(marks, fireMark{At: f, Pos: p, Width: 1, Overlap: o})
		}
		for _, f := range fires {
			add(f, over[f.Unix()])
		}
		if lanes[i].Dense {
			// Past the counted fires (none when the count's budget ran
			// out): the first fire in each position.
			spec, st, _ := triggerOf(laneRows[i])
			if len(fires) > 0 {
				st.TimesTriggered = len(fires) - 1
				st.Next = fires[len(fires)-1]
			} else {
				add(st.Next, false)
			}
			for p := pos(st.Next) + 1; p < lanePositions; {
				next := spec.FireTimeAfter(st, posStart(p).Add(-time.Nanosecond))
				if next.IsZero() || !next.Before(until) {
					break
				}
				add(next, false)
				p = pos(next) + 1
			}
		}
		lanes[i].Marks = marks
	}
	return lanes, overlaps, more
}

// Configuration.

func (s *server) configPage(w http.ResponseWriter, r *http.Request, sess session) {
	s.render(w, r, http.StatusOK, "config", page{Title: "Configuration", Nav: "config", Session: sess, Data: s.Source.Config(r.Context())})
}

// Task scans.

// scanRun is one task scan run, read from the REST map.
type scanRun struct {
	ID, Name, State                       string
	Processed, Total, Successes, Failures int64
	Started, Ended                        string
	Active                                bool
	Operate                               bool
	CSRF                                  string
}

func toInt64(v any) int64 {
	switch n := v.(type) {
	case int:
		return int64(n)
	case int64:
		return n
	case float64:
		return int64(n)
	case json.Number:
		i, _ := n.Int64()
		return i
	}
	return 0
}

func scanRunOf(m map[string]any, sess session) scanRun {
	str := func(v any) string { s, _ := v.(string); return s }
	r := scanRun{ID: str(m["_id"]), Name: str(m["name"]), Started: str(m["started"]), Ended: str(m["ended"]), Operate: sess.CanOperate(), CSRF: sess.csrf}
	if p, ok := m["progress"].(map[string]any); ok {
		r.State = str(p["state"])
		r.Processed, r.Total = toInt64(p["processed"]), toInt64(p["total"])
		r.Successes, r.Failures = toInt64(p["successes"]), toInt64(p["failures"])
	}
	r.Active = r.Ended == ""
	return r
}

type scansData struct {
	Enabled bool
	Runs    []scanRun
	// Names are the task-scan schedules a scan can be started for.
	Names []string
	Error string
}

func (s *server) scanRuns(ctx context.Context, sess session) ([]scanRun, error) {
	if s.Scans == nil {
		return nil, nil
	}
	ms, err := s.Scans.Runs(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]scanRun, len(ms))
	for i, m := range ms {
		out[i] = scanRunOf(m, sess)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Started > out[j].Started })
	return out, nil
}

func (s *server) scansPage(w http.ResponseWriter, r *http.Request, sess session) {
	d := scansData{Enabled: s.Scans != nil}
	runs, err := s.scanRuns(r.Context(), sess)
	if err != nil {
		d.Error = err.Error()
	}
	d.Runs = runs
	for _, row := range s.Source.Schedules(r.Context()) {
		if row.Schedule != nil && row.Schedule.InvokeService == taskscanner.ServiceName {
			d.Names = append(d.Names, row.ID)
		}
	}
	s.render(w, r, http.StatusOK, "scans", page{Title: "Task scans", Nav: "scans", Session: sess, Data: d})
}

func (s *server) scanExecute(w http.ResponseWriter, r *http.Request, sess session) {
	if s.Scans == nil {
		s.fail(w, r, http.StatusNotImplemented, "this node runs no task scanner")
		return
	}
	name := r.PostForm.Get("name")
	if _, err := s.Scans.Execute(r.Context(), name); err != nil {
		s.failErr(w, r, err)
		return
	}
	s.Logger.Info("web action", "action", "scan", "schedule", name, "by", sess.ClientID)
	http.Redirect(w, r, "/ui/scans", http.StatusSeeOther)
}

func (s *server) scanCancel(w http.ResponseWriter, r *http.Request, sess session) {
	if s.Scans == nil {
		s.fail(w, r, http.StatusNotImplemented, "this node runs no task scanner")
		return
	}
	id := r.PathValue("id")
	if _, err := s.Scans.Cancel(r.Context(), id); err != nil {
		s.failErr(w, r, err)
		return
	}
	s.Logger.Info("web action", "action", "cancel", "scan", id, "by", sess.ClientID)
	http.Redirect(w, r, "/ui/scans", http.StatusSeeOther)
}

// Cluster.

type clusterData struct {
	Nodes []NodeView
	Error string
}

func (s *server) clusterPage(w http.ResponseWriter, r *http.Request, sess session) {
	nodes, err := s.Source.Nodes(r.Context())
	d := clusterData{Nodes: nodes}
	if err != nil {
		d.Error = err.Error()
	}
	s.render(w, r, http.StatusOK, "cluster", page{Title: "Cluster", Nav: "cluster", Session: sess, Data: d})
}
