package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"sundial/engine/api"
	"sundial/engine/api/crest"
	"sundial/engine/cluster"
	"sundial/engine/config"
	"sundial/engine/scheduler"
	"sundial/engine/store"
	"sundial/engine/web"
)

// maxReloads is how many reloads the configuration page lists.
const maxReloads = 20

// reloadHistory keeps the latest reloads for the configuration page.
type reloadHistory struct {
	mu   sync.Mutex
	list []web.Reload // newest first
}

func (h *reloadHistory) add(r web.Reload) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.list = slices.Insert(h.list, 0, r)
	if len(h.list) > maxReloads {
		h.list = h.list[:maxReloads]
	}
}

func (h *reloadHistory) latest() []web.Reload {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.list)
}

// recordReload adds the end of a load to the reload history.
func (d *Daemon) recordReload(hash, result string) {
	r := web.Reload{At: d.opts.Clock.Now(), Result: result, Hash: hash}
	if st := d.applied.Load(); st != nil {
		switch {
		case result == "failed":
			r.Error = st.Failed
		case len(st.Errors) > 0:
			r.Error = fmt.Sprintf("%d error(s) in configuration files; their last good versions keep running", len(st.Errors))
		}
	}
	d.reloadLog.add(r)
}

// webHandler serves the operator's page at /ui/ over the same services
// and authentication as the REST API.
func (d *Daemon) webHandler() http.Handler {
	return web.New(web.Options{
		Source:    webSource{d},
		Schedules: d.Schedules(),
		Scans:     taskScans{d},
		Recons:    d.webRecons(),
		Mappings:  d.webMappings,
		ReconEntries: func(ctx context.Context, reconID string, fn func(map[string]any) error) error {
			return audits{d}.ReconEntries(ctx, reconID, func(res crest.Resource) error { return fn(res.Map()) })
		},
		Auth:   d.auth,
		Secure: d.opts.TLSCertFile != "",
		Clock:  d.opts.Clock,
		Logger: d.log,
	})
}

// webSource is what the page reads from the daemon.
type webSource struct{ d *Daemon }

var _ web.Source = webSource{}

// scheduleFileID returns the schedule id a conf file name defines, if it
// is a schedule file.
func scheduleFileID(path string) (string, bool) {
	base := filepath.Base(path)
	id, ok := strings.CutPrefix(base, "schedule-")
	if !ok {
		return "", false
	}
	for _, ext := range []string{".json", ".yaml", ".yml"} {
		if s, ok := strings.CutSuffix(id, ext); ok && s != "" {
			return s, true
		}
	}
	return "", false
}

// invalidFile is a schedule file that failed validation.
type invalidFile struct {
	file string
	errs []string
}

// relativeError is a configuration error as the pages show it: with its
// file relative to the conf directory (what the operator edits), not the
// daemon's absolute path.
func relativeError(dir string, err error) string {
	return strings.ReplaceAll(err.Error(), filepath.Clean(dir)+string(filepath.Separator), "")
}

// invalidSchedules returns the schedule files of files that failed
// validation, by schedule id.
func invalidSchedules(files *config.Desired) map[string]invalidFile {
	invalid := map[string]invalidFile{}
	for path, errs := range files.Errors {
		if id, ok := scheduleFileID(path); ok {
			b := invalidFile{file: path}
			for _, e := range errs {
				b.errs = append(b.errs, relativeError(files.Dir, e))
			}
			invalid[id] = b
		}
	}
	return invalid
}

// row is the page's row of a running schedule.
func row(info scheduler.ScheduleInfo, files *config.Desired, invalid map[string]invalidFile) web.ScheduleRow {
	r := web.ScheduleRow{
		ID: info.ID, Schedule: info.Schedule, Status: info.Status, Paused: info.Paused, Running: info.Running,
		Next: info.NextFireTime, Previous: info.PreviousFireTime,
		Runs: info.Runs, Failures: info.Failures, Skips: info.Skips, Location: files.Scheduler.Location,
	}
	if f, ok := files.Schedules[info.ID]; ok {
		r.File = f.File
	}
	if info.Schedule != nil && info.Schedule.Location != nil {
		r.Location = info.Schedule.Location
	}
	if b, ok := invalid[info.ID]; ok {
		r.File, r.Errors = b.file, b.errs
	}
	return r
}

// invalidRow is the row of a schedule file that failed validation and has
// no version running.
func invalidRow(id string, b invalidFile, files *config.Desired) web.ScheduleRow {
	return web.ScheduleRow{ID: id, File: b.file, Errors: b.errs, Status: scheduler.StatusNone, Location: files.Scheduler.Location}
}

func (w webSource) Schedules(context.Context) []web.ScheduleRow {
	d := w.d
	files := d.current.Load()
	if files == nil {
		return nil
	}
	invalid := invalidSchedules(files)
	infos := d.sched.Schedules()
	rows := make([]web.ScheduleRow, 0, len(infos)+len(invalid))
	for _, info := range infos {
		rows = append(rows, row(info, files, invalid))
		delete(invalid, info.ID)
	}
	for id, b := range invalid {
		rows = append(rows, invalidRow(id, b, files))
	}
	if len(invalid) > 0 {
		slices.SortFunc(rows, func(a, b web.ScheduleRow) int { return strings.Compare(a.ID, b.ID) })
	}
	return rows
}

func (w webSource) Schedule(_ context.Context, id string) (web.ScheduleRow, bool) {
	files := w.d.current.Load()
	if files == nil {
		return web.ScheduleRow{}, false
	}
	invalid := invalidSchedules(files)
	if info, ok := w.d.sched.Schedule(id); ok {
		return row(info, files, invalid), true
	}
	if b, ok := invalid[id]; ok {
		return invalidRow(id, b, files), true
	}
	return web.ScheduleRow{}, false
}

// runView turns a stored run into the page's.
func runView(r store.Run) web.RunView {
	v := web.RunView{FireID: r.ID, ScheduleID: r.ScheduleID, Scheduled: r.ScheduledAt, Started: r.StartedAt, Ended: r.EndedAt, Node: r.Node, Error: r.Error}
	switch r.Status {
	case store.RunSucceeded:
		v.Outcome = string(scheduler.OutcomeSuccess)
	case store.RunFailed:
		v.Outcome = string(scheduler.OutcomeError)
	default:
		v.Outcome = string(r.Status)
	}
	if r.Status == store.RunSkipped {
		v.Started = v.Scheduled
	}
	return v
}

// recordView turns a record of the scheduler's history into the page's.
func recordView(r scheduler.RunRecord) web.RunView {
	return web.RunView{
		FireID: r.FireID, ScheduleID: r.ScheduleID, Scheduled: r.ScheduledFireTime, Started: r.ActualFireTime, Ended: r.EndTime,
		Outcome: string(r.Outcome), Node: r.NodeID, Error: r.Error, Manual: r.Manual, Reason: string(r.Reason), Skipped: r.Skipped,
	}
}

// LastRuns merges the store's runs (persisted schedules, on a node with a
// store) with this node's memory (every schedule's recent runs), the newer
// winning.
func (w webSource) LastRuns(ctx context.Context, ids []string) map[string]web.RunView {
	out := make(map[string]web.RunView, len(ids))
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	hist := w.d.sched.History()
	for i := len(hist) - 1; i >= 0; i-- {
		r := hist[i]
		if _, done := out[r.ScheduleID]; want[r.ScheduleID] && !done && r.Outcome != scheduler.OutcomeSkipped {
			out[r.ScheduleID] = recordView(r)
		}
	}
	db := w.d.opts.DB
	if db == nil {
		return out
	}
	for _, id := range ids {
		runs, err := db.ListRuns(ctx, store.ListRunsParams{ScheduleID: id, Limit: 1})
		if err != nil {
			w.d.log.Warn("web page: runs not read", "schedule", id, "err", err)
			return out
		}
		if len(runs) > 0 {
			if mem, ok := out[id]; !ok || !mem.Scheduled.After(runs[0].ScheduledAt) {
				out[id] = runView(runs[0])
			}
		}
	}
	return out
}

// Runs merges the store's runs of id with those in this node's memory,
// newest first.
func (w webSource) Runs(ctx context.Context, id string, limit int) ([]web.RunView, error) {
	var out []web.RunView
	seen := map[string]bool{}
	if db := w.d.opts.DB; db != nil {
		runs, err := db.ListRuns(ctx, store.ListRunsParams{ScheduleID: id, Limit: limit})
		if err != nil {
			return nil, err
		}
		for _, r := range runs {
			out = append(out, runView(r))
			seen[r.ID] = true
		}
	}
	hist := w.d.sched.History()
	for i := len(hist) - 1; i >= 0; i-- {
		if r := hist[i]; r.ScheduleID == id && r.Outcome != scheduler.OutcomeSkipped && !seen[r.FireID] {
			out = append(out, recordView(r))
		}
	}
	slices.SortStableFunc(out, func(a, b web.RunView) int { return b.Scheduled.Compare(a.Scheduled) })
	return out[:min(len(out), limit)], nil
}

func (w webSource) Missed(_ context.Context, id string) []web.RunView {
	var out []web.RunView
	hist := w.d.sched.History()
	for i := len(hist) - 1; i >= 0; i-- {
		if r := hist[i]; r.ScheduleID == id && r.Outcome == scheduler.OutcomeSkipped {
			out = append(out, recordView(r))
		}
	}
	return out
}

func (w webSource) File(path string) ([]byte, error) {
	if !filepath.IsLocal(path) {
		return nil, fmt.Errorf("%s: not a path inside the conf directory", path)
	}
	return os.ReadFile(filepath.Join(w.d.opts.ConfDir, path))
}

func (w webSource) Config(context.Context) web.ConfigView {
	d := w.d
	v := web.ConfigView{Dir: d.opts.ConfDir, Reloads: d.reloadLog.latest()}
	if st := d.applied.Load(); st != nil {
		v.Hash, v.AppliedAt = st.Hash, st.At
	}
	files := d.current.Load()
	if files == nil {
		return v
	}
	v.ThreadCount = files.Scheduler.ThreadCount
	for path, errs := range files.Errors {
		f := web.InvalidFile{Path: path}
		for _, e := range errs {
			f.Errors = append(f.Errors, relativeError(files.Dir, e))
		}
		if id, ok := scheduleFileID(path); ok {
			if s, ok := files.Schedules[id]; ok {
				b, _ := json.MarshalIndent(s.Config(), "", "  ")
				f.LastGood = string(b)
			}
		}
		v.Invalid = append(v.Invalid, f)
	}
	slices.SortFunc(v.Invalid, func(a, b web.InvalidFile) int { return strings.Compare(a.Path, b.Path) })
	return v
}

// maxRunningRead bounds the runs read to find what the other nodes run.
const maxRunningRead = 500

func (w webSource) Nodes(ctx context.Context) ([]web.NodeView, error) {
	d := w.d
	var mine []string
	for _, r := range d.sched.Executing() {
		mine = append(mine, r.FireID)
	}
	if d.node == nil {
		return []web.NodeView{{ID: d.nodeID, State: string(store.NodeActive), Self: true, ConfigHash: d.current.Load().Hash, Running: mine}}, nil
	}
	nodes, err := d.opts.DB.ListNodes(ctx, store.ListNodesParams{})
	if err != nil {
		return nil, err
	}
	running := map[string][]string{}
	if runs, err := d.opts.DB.ListRuns(ctx, store.ListRunsParams{Limit: maxRunningRead}); err == nil {
		for _, r := range runs {
			if r.Status == store.RunRunning && r.Node != d.nodeID {
				running[r.Node] = append(running[r.Node], r.ID)
			}
		}
	}
	timeout := d.opts.NodeTimeout
	if timeout <= 0 {
		timeout = cluster.DefaultNodeTimeout
	}
	self := d.node.Status()
	out := make([]web.NodeView, 0, len(nodes))
	for _, n := range nodes {
		v := web.NodeView{ID: n.ID, State: string(n.State), CheckInAge: n.SinceCheckIn, Skew: n.Skew, ConfigHash: n.ConfigHash,
			Fenced: n.State != store.NodeActive || n.SinceCheckIn >= timeout, Running: running[n.ID]}
		if n.ID == d.nodeID {
			v.Self, v.Fenced, v.Running = true, !self.Firing, mine
		}
		out = append(out, v)
	}
	return out, nil
}

// webRecons is what the reconciliations page starts and lists: nil when
// the daemon has no store, hence no sync service.
func (d *Daemon) webRecons() api.Recons {
	if d.sync == nil {
		return nil
	}
	return recons{d}
}

// webMappings are the applied configuration's mappings.
func (d *Daemon) webMappings() []web.MappingView {
	cur := d.current.Load()
	if cur == nil {
		return nil
	}
	out := make([]web.MappingView, len(cur.Mappings))
	for i, m := range cur.Mappings {
		out[i] = web.MappingView{Name: m.Name, Source: m.Source, Target: m.Target}
	}
	return out
}
