package daemon

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/google/uuid"

	"sundial/engine/api"
	"sundial/engine/api/crest"
	"sundial/engine/api/schedview"
	"sundial/engine/config"
	"sundial/engine/scheduler"
)

// restSchedules are the schedules created over REST on this node.
type restSchedules struct {
	// applyMu serialises every apply (file reloads and REST changes), so
	// that each Reconcile sees the conf directory's schedules merged with
	// the REST ones and a file reload never drops a REST schedule.
	applyMu sync.Mutex
	// mu guards defs and version, for short reads and writes.
	mu   sync.Mutex
	defs map[string]restSchedule
	// version counts changes: it gives the merged snapshot its own hash and
	// each new definition its revision.
	version int64
}

// restSchedule is one definition and its revision, which changes with the
// definition only (not at each fire), so that If-Match after a read holds
// until someone changes the schedule.
type restSchedule struct {
	sched *config.Schedule
	rev   int64
}

// merged returns the conf directory's snapshot with the REST schedules
// added; a REST id that a file defines keeps the file's version.
func (r *restSchedules) merged(files *config.Desired) *config.Desired {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.defs) == 0 {
		return files
	}
	m := *files
	m.Schedules = maps.Clone(files.Schedules)
	for id, s := range r.defs {
		if _, ok := m.Schedules[id]; !ok {
			m.Schedules[id] = s.sched
		}
	}
	m.Hash = fmt.Sprintf("%s+rest%d", files.Hash, r.version)
	return &m
}

// warnShadowed logs the REST schedules a file now defines: the file wins.
func (d *Daemon) warnShadowed(files *config.Desired) {
	d.rest.mu.Lock()
	defer d.rest.mu.Unlock()
	for id := range d.rest.defs {
		if f, ok := files.Schedules[id]; ok {
			d.log.Warn("a schedule created over REST is now defined by a file too: the file's version runs",
				"schedule", id, "file", f.File)
		}
	}
}

func (r *restSchedules) get(id string) (restSchedule, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	def, ok := r.defs[id]
	return def, ok
}

// set stores a new definition with the next revision.
func (r *restSchedules) set(id string, def restSchedule) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.defs == nil {
		r.defs = map[string]restSchedule{}
	}
	r.version++
	def.rev = r.version
	r.defs[id] = def
}

// restore puts back def (or removes id when !ok), as a new version.
func (r *restSchedules) restore(id string, def restSchedule, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.version++
	if ok {
		r.defs[id] = def
	} else {
		delete(r.defs, id)
	}
}

// Schedules returns the scheduler's REST surface, once Run has created the
// scheduler.
func (d *Daemon) Schedules() api.Schedules { return &scheduleService{d: d} }

// scheduleService implements api.Schedules over the daemon.
type scheduleService struct{ d *Daemon }

var _ api.Schedules = (*scheduleService)(nil)

func (s *scheduleService) job(info scheduler.ScheduleInfo) crest.Resource {
	return schedview.Job(s.params(info))
}

// params says what the view needs besides the scheduler's: the node
// holding an in-memory trigger, the revision of a REST definition.
func (s *scheduleService) params(info scheduler.ScheduleInfo) schedview.JobParams {
	p := schedview.JobParams{Info: info}
	if !info.Schedule.Persisted {
		p.NodeID = s.d.nodeID
	}
	if _, fromFile := s.d.current.Load().Schedules[info.ID]; !fromFile {
		if def, ok := s.d.rest.get(info.ID); ok {
			p.Rev = strconv.FormatInt(def.rev, 10)
		}
	}
	return p
}

func (s *scheduleService) Jobs(context.Context) ([]crest.Resource, error) {
	infos := s.d.sched.Schedules()
	out := make([]crest.Resource, 0, len(infos))
	for _, info := range infos {
		out = append(out, s.job(info))
	}
	return out, nil
}

func (s *scheduleService) info(id string) (scheduler.ScheduleInfo, error) {
	info, ok := s.d.sched.Schedule(id)
	if !ok {
		return info, crest.NotFound("Schedule does not exist: %s", id)
	}
	return info, nil
}

func (s *scheduleService) Job(_ context.Context, id string) (crest.Resource, error) {
	info, err := s.info(id)
	if err != nil {
		return crest.Resource{}, err
	}
	return s.job(info), nil
}

// guard refuses a write to a schedule defined by a file.
// A file that fails validation counts too: once fixed, it would win.
func (s *scheduleService) guard(id string) error {
	files := s.d.current.Load()
	file := ""
	if f, ok := files.Schedules[id]; ok {
		file = f.File
	}
	for name := range files.Errors {
		switch filepath.Base(name) {
		case "schedule-" + id + ".json", "schedule-" + id + ".yaml", "schedule-" + id + ".yml":
			file = name
		}
	}
	if file != "" {
		return crest.Conflict("schedule %s is defined by the file %s in the conf directory: change that file instead (REST changes are not written back to files)", id, file)
	}
	return nil
}

// checkRev answers If-Match against the schedule's current revision.
func (s *scheduleService) checkRev(id, ifMatch string, exists bool) error {
	if ifMatch == "" || ifMatch == "*" {
		return nil
	}
	if !exists {
		return crest.NotFound("Schedule does not exist: %s", id)
	}
	info, err := s.info(id)
	if err != nil {
		return err
	}
	if rev := s.job(info).Rev; rev != ifMatch {
		return crest.PreconditionFailed("revision %s of schedule %s does not match %s", rev, id, ifMatch)
	}
	return nil
}

func (s *scheduleService) PutJob(ctx context.Context, p api.PutJob) (crest.Resource, bool, error) {
	d := s.d
	id := p.ID
	if id == "" {
		id = uuid.NewString()
	}
	if err := s.guard(id); err != nil {
		return crest.Resource{}, false, err
	}
	files := d.current.Load()
	sched, errs := config.ParseScheduleJSON(id, p.Body, config.ParseOptions{
		ScriptsDir: d.opts.ScriptsDir, Location: files.Scheduler.Location, PersistedDefault: true,
	})
	if len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return crest.Resource{}, false, crest.BadRequest("invalid schedule %s: %s", id, strings.Join(msgs, "; "))
	}
	r := &d.rest
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	prev, exists := r.get(id)
	if p.CreateOnly && exists {
		return crest.Resource{}, false, crest.PreconditionFailed("schedule %s already exists", id)
	}
	if err := s.checkRev(id, p.IfMatch, exists); err != nil {
		return crest.Resource{}, false, err
	}
	r.set(id, restSchedule{sched: sched})
	if err := d.applyRESTLocked(ctx, id); err != nil {
		r.restore(id, prev, exists)
		return crest.Resource{}, false, err
	}
	verb := "created"
	if exists {
		verb = "replaced"
	}
	d.log.Info("schedule "+verb+" over REST", "schedule", id, "by", p.ClientID, "persisted", sched.Persisted, "enabled", sched.Enabled)
	job, err := s.Job(ctx, id)
	return job, !exists, err
}

func (s *scheduleService) DeleteJob(ctx context.Context, p api.DeleteJob) (crest.Resource, error) {
	d := s.d
	if err := s.guard(p.ID); err != nil {
		return crest.Resource{}, err
	}
	r := &d.rest
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	prev, exists := r.get(p.ID)
	if !exists {
		return crest.Resource{}, crest.NotFound("Schedule does not exist: %s", p.ID)
	}
	if err := s.checkRev(p.ID, p.IfMatch, exists); err != nil {
		return crest.Resource{}, err
	}
	was, err := s.Job(ctx, p.ID)
	if err != nil {
		return crest.Resource{}, err
	}
	r.restore(p.ID, restSchedule{}, false)
	if err := d.applyRESTLocked(ctx, p.ID); err != nil {
		r.restore(p.ID, prev, true)
		return crest.Resource{}, err
	}
	d.log.Info("schedule deleted over REST", "schedule", p.ID, "by", p.ClientID)
	return was, nil
}

// applyRESTLocked reconciles the scheduler with the files and the REST
// schedules after a REST change; d.rest.applyMu is held.
func (d *Daemon) applyRESTLocked(ctx context.Context, id string) error {
	merged := d.rest.merged(d.current.Load())
	res, err := d.sched.Reconcile(ctx, merged)
	if err != nil {
		return fmt.Errorf("apply the REST schedules: %w", err)
	}
	if e := res.Errors[id]; e != nil {
		return crest.BadRequest("schedule %s not applied: %v", id, e)
	}
	d.log.Info("REST schedules applied", "added", res.Added, "changed", res.Changed, "removed", res.Removed)
	return nil
}

func notFound(id string, err error) error {
	if errors.Is(err, scheduler.ErrNotFound) {
		return crest.NotFound("Schedule does not exist: %s", id)
	}
	return err
}

func (s *scheduleService) TriggerJob(ctx context.Context, id string) error {
	_, err := s.d.sched.TriggerNow(ctx, id)
	switch {
	case errors.Is(err, scheduler.ErrDisabled):
		return crest.BadRequest("schedule %s is disabled: enable it before triggering it", id)
	case errors.Is(err, scheduler.ErrOverlap):
		return crest.Errorf(http.StatusConflict, "schedule %s is running and does not allow concurrent execution", id)
	}
	if err == nil {
		s.d.log.Info("schedule triggered over REST", "schedule", id)
	}
	return notFound(id, err)
}

func (s *scheduleService) PauseJob(ctx context.Context, id string) error {
	return notFound(id, s.d.sched.Pause(ctx, id))
}

func (s *scheduleService) ResumeJob(ctx context.Context, id string) error {
	return notFound(id, s.d.sched.Resume(ctx, id))
}

func (s *scheduleService) PauseAll(ctx context.Context) error  { return s.d.sched.PauseAll(ctx) }
func (s *scheduleService) ResumeAll(ctx context.Context) error { return s.d.sched.ResumeAll(ctx) }

func (s *scheduleService) Executing(context.Context) ([]map[string]any, error) {
	runs := s.d.sched.Snapshot().Executing
	out := make([]map[string]any, 0, len(runs))
	for _, r := range runs {
		out = append(out, r.Schedule.Config())
	}
	return out, nil
}

func (s *scheduleService) Triggers(context.Context) ([]crest.Resource, error) {
	var out []crest.Resource
	for _, info := range s.d.sched.Schedules() {
		if tr, ok := schedview.Trigger(s.params(info)); ok {
			out = append(out, tr)
		}
	}
	return out, nil
}

func (s *scheduleService) Trigger(_ context.Context, id string) (crest.Resource, error) {
	sid, ok := strings.CutPrefix(id, schedview.Group+".trigger-")
	if !ok {
		return crest.Resource{}, crest.NotFound("Trigger does not exist: %s", id)
	}
	info, ok := s.d.sched.Schedule(sid)
	if !ok {
		return crest.Resource{}, crest.NotFound("Trigger does not exist: %s", id)
	}
	tr, ok := schedview.Trigger(s.params(info))
	if !ok {
		return crest.Resource{}, crest.NotFound("Trigger does not exist: %s", id)
	}
	return tr, nil
}
