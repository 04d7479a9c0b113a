package daemon

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"sundial/engine/api"
	"sundial/engine/api/crest"
	"sundial/engine/api/schedview"
	"sundial/engine/cluster"
	"sundial/engine/config"
	"sundial/engine/scheduler"
	"sundial/engine/store"
)

// restSchedules are the schedules created over REST: those with persisted
// true as the store holds them (shared by every node of a cluster, read
// back at start and at every change another node makes), the others in this
// node's memory only.
type restSchedules struct {
	// applyMu serialises every apply (file reloads and REST changes), so
	// that each Reconcile sees the conf directory's schedules merged with
	// the REST ones and a file reload never drops a REST schedule. The
	// fields below marked so are only touched with it held.
	applyMu sync.Mutex
	// unapplied: the definitions changed since the last Reconcile that
	// succeeded (it failed, the store being away), or could not be read;
	// the next apply reads and reconciles them even when the conf
	// directory did not change.
	unapplied atomic.Bool
	// stale are ids whose stored definition could not be read (staleAll:
	// a read of them all failed); the next read of the store reads them
	// again. (applyMu)
	stale    map[string]bool
	staleAll bool
	// unreadable are the stored versions this node could not parse, by
	// id, so that each is logged once. (applyMu)
	unreadable map[string]storedVersion

	// mu guards defs, version and keepStored, for short reads and writes.
	mu   sync.Mutex
	defs map[string]restSchedule
	// version counts changes: it gives the merged snapshot its own hash and
	// each in-memory definition its revision.
	version int64
	// keepStored are the schedules that another node changed or deleted
	// in the store: that node deletes their stored triggers where needed,
	// so this node's next Reconcile must not (it would delete the trigger
	// of a schedule created again meanwhile, or of a version this node
	// cannot read).
	keepStored map[string]bool
}

// storedVersion tells one stored definition from another: the revision,
// and the time of the put, since a schedule deleted and created again
// starts again at revision 1.
type storedVersion struct {
	rev int64
	at  time.Time
}

func (v storedVersion) is(a store.APISchedule) bool { return v.rev == a.Rev && v.at.Equal(a.UpdatedAt) }

// restSchedule is one definition and its revision, which changes with the
// definition only (not at each fire), so that If-Match after a read holds
// until someone changes the schedule.
type restSchedule struct {
	sched *config.Schedule
	// rev is the store's revision of a stored definition, the node's own
	// counter for one in memory.
	rev int64
	// stored: the definition is the store's (persisted), not this node's
	// own; putAt is when it was put there.
	stored bool
	putAt  time.Time
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

// set stores a definition (or removes id when def.sched is nil) as a new
// version; an in-memory definition gets that version as its revision.
func (r *restSchedules) set(id string, def restSchedule) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.defs == nil {
		r.defs = map[string]restSchedule{}
	}
	r.version++
	if def.sched == nil {
		delete(r.defs, id)
		return
	}
	if !def.stored {
		def.rev = r.version
	}
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

// keep marks ids whose stored triggers the next Reconcile leaves alone.
func (r *restSchedules) keep(ids []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keepStored == nil {
		r.keepStored = map[string]bool{}
	}
	for _, id := range ids {
		r.keepStored[id] = true
	}
}

// own ends keep for id: this node writes it, so its own Reconcile deletes
// the stored trigger where needed.
func (r *restSchedules) own(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.keepStored, id)
}

// kept reports whether id's stored trigger must stay.
func (r *restSchedules) kept(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.keepStored[id]
}

// reconciled ends what keep marked: a Reconcile succeeded; applyMu is
// held. Definitions still unread stay unapplied.
func (r *restSchedules) reconciled() {
	r.unapplied.Store(len(r.stale) > 0 || r.staleAll)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keepStored = nil
}

// clusterStateStore is the scheduler's store on a cluster node: the
// node's, except that the stored triggers the REST schedules keep
// (restSchedules.keepStored) are not deleted.
type clusterStateStore struct {
	*cluster.Node
	rest *restSchedules
}

// DeleteTriggers deletes the stored triggers of ids but those kept.
func (c clusterStateStore) DeleteTriggers(ctx context.Context, p scheduler.DeleteTriggersParams) error {
	ids := slices.DeleteFunc(slices.Clone(p.ScheduleIDs), c.rest.kept)
	if len(ids) == 0 {
		return nil
	}
	return c.Node.DeleteTriggers(ctx, scheduler.DeleteTriggersParams{ScheduleIDs: ids})
}

// joinErrors joins a definition's errors on one line.
func joinErrors(errs []error) string {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

// parseStored parses a stored REST schedule as this node reads it.
func (d *Daemon) parseStored(a store.APISchedule, loc *time.Location) (*config.Schedule, error) {
	sched, errs := config.ParseScheduleJSON(a.ID, a.Body, config.ParseOptions{
		ScriptsDir: d.opts.ScriptsDir, Location: loc, PersistedDefault: true,
	})
	if len(errs) > 0 {
		return nil, errors.New(joinErrors(errs))
	}
	if !sched.Persisted {
		return nil, errors.New("stored with persisted false")
	}
	return sched, nil
}

// readStoredLocked reads the REST schedules of ids (nil: all) from the
// store into d.rest, with d.rest.applyMu held, parsing them in the
// default zone loc. An in-memory definition of this node keeps its id. A
// stored one this node cannot parse is logged and left out.
func (d *Daemon) readStoredLocked(ctx context.Context, ids []string, loc *time.Location) error {
	r := &d.rest
	if r.staleAll {
		ids = nil
	}
	if ids != nil {
		for id := range r.stale {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		ids = slices.Compact(ids)
	}
	rows, err := d.opts.DB.ListAPISchedules(ctx, store.ListAPISchedulesParams{IDs: ids})
	if err != nil {
		if r.stale == nil {
			r.stale = map[string]bool{}
		}
		for _, id := range ids {
			r.stale[id] = true
		}
		r.staleAll = r.staleAll || ids == nil
		r.unapplied.Store(true)
		return fmt.Errorf("read the REST schedules from the store: %w", err)
	}
	r.stale, r.staleAll = nil, false
	found := make(map[string]bool, len(rows))
	var touched []string
	for _, a := range rows {
		found[a.ID] = true
		cur, ok := r.get(a.ID)
		if ok && (!cur.stored || (storedVersion{cur.rev, cur.putAt}).is(a)) || !ok && r.unreadable[a.ID].is(a) {
			continue
		}
		touched = append(touched, a.ID)
		sched, err := d.parseStored(a, loc)
		if err != nil {
			d.log.Error("a schedule stored over REST cannot be read by this node: left out here", "schedule", a.ID, "rev", a.Rev, "err", err)
			if r.unreadable == nil {
				r.unreadable = map[string]storedVersion{}
			}
			r.unreadable[a.ID] = storedVersion{a.Rev, a.UpdatedAt}
			if ok {
				r.set(a.ID, restSchedule{})
			}
			continue
		}
		delete(r.unreadable, a.ID)
		r.set(a.ID, restSchedule{sched: sched, rev: a.Rev, stored: true, putAt: a.UpdatedAt})
	}
	gone := ids
	if ids == nil {
		r.mu.Lock()
		gone = slices.Collect(maps.Keys(r.defs))
		r.mu.Unlock()
	}
	for id := range r.unreadable {
		if !found[id] && (ids == nil || slices.Contains(ids, id)) {
			delete(r.unreadable, id)
		}
	}
	for _, id := range gone {
		if cur, ok := r.get(id); ok && cur.stored && !found[id] {
			touched = append(touched, id)
			r.set(id, restSchedule{})
		}
	}
	r.keep(touched)
	if len(touched) > 0 {
		r.unapplied.Store(true)
	}
	return nil
}

// loadStored reads every stored REST schedule, before the first apply.
func (d *Daemon) loadStored(ctx context.Context, first *config.Desired) error {
	if d.opts.DB == nil {
		return nil
	}
	d.rest.applyMu.Lock()
	defer d.rest.applyMu.Unlock()
	return d.readStoredLocked(ctx, nil, first.Scheduler.Location)
}

// onChanges is the cluster node's Options.OnChanges: what any node (this
// one included) changed in the store. REST schedules put or deleted are
// read again and applied; pauses and resumes are applied to the running
// set without being written again.
func (d *Daemon) onChanges(ctx context.Context, changes []store.Change) {
	var schedules, pauses []string
	for _, c := range changes {
		switch c.Kind {
		case store.ChangeSchedule:
			schedules = append(schedules, c.ID)
		case store.ChangePause:
			pauses = append(pauses, c.ID)
		}
	}
	if schedules != nil {
		d.refreshStored(ctx, schedules)
	}
	if pauses != nil {
		d.applyPauses(ctx, pauses)
	}
}

// refreshStored reads the stored REST schedules of ids (nil: all) and
// applies them if anything changed.
func (d *Daemon) refreshStored(ctx context.Context, ids []string) {
	r := &d.rest
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	if err := d.readStoredLocked(ctx, ids, d.current.Load().Scheduler.Location); err != nil {
		d.log.Error("REST schedules changed by another node not read; read again at the next change", "err", err)
	}
	d.applyPendingLocked(ctx)
}

// applyPendingLocked applies the REST definitions that changed since the
// last Reconcile, if any; d.rest.applyMu is held.
func (d *Daemon) applyPendingLocked(ctx context.Context) {
	if !d.rest.unapplied.Load() {
		return
	}
	if err := d.applyRESTLocked(ctx, ""); err != nil {
		d.log.Error("REST schedules changed by another node not applied; applied at the next change or reload", "err", err)
	}
}

// applyPauses applies the paused flags the store holds for ids.
func (d *Daemon) applyPauses(ctx context.Context, ids []string) {
	slices.Sort(ids)
	trs, err := d.opts.DB.ListTriggers(ctx, store.ListTriggersParams{ScheduleIDs: slices.Compact(ids)})
	if err != nil {
		d.log.Error("pause or resume made on another node not read", "schedules", ids, "err", err)
		return
	}
	byFlag := map[bool][]string{}
	for _, t := range trs {
		byFlag[t.Paused] = append(byFlag[t.Paused], t.ScheduleID)
	}
	for paused, ids := range byFlag {
		if n := d.sched.ApplyPaused(scheduler.ApplyPausedParams{ScheduleIDs: ids, Paused: paused}); n > 0 {
			d.log.Info("pause state changed on another node applied", "paused", paused, "schedules", n)
		}
	}
}

// Schedules returns the scheduler's REST surface, once Run has created the
// scheduler.
func (d *Daemon) Schedules() api.Schedules { return &scheduleService{d: d} }

// scheduleService implements api.Schedules over the daemon.
type scheduleService struct{ d *Daemon }

var _ api.Schedules = (*scheduleService)(nil)

func (s *scheduleService) job(info scheduler.ScheduleInfo, stored map[string]store.Trigger, contexts *config.ContextCache) crest.Resource {
	p := s.params(info, stored)
	p.Contexts = contexts
	return schedview.Job(p)
}

// params says what the view needs besides the scheduler's: the node
// holding the trigger (this one for an in-memory trigger; for a persisted
// one, the node that fired it last, from stored), the revisions of a REST
// definition and of a stored trigger.
func (s *scheduleService) params(info scheduler.ScheduleInfo, stored map[string]store.Trigger) schedview.JobParams {
	p := schedview.JobParams{Info: info}
	if !info.Schedule.Persisted {
		p.NodeID = s.d.nodeID
	} else if t, ok := stored[info.ID]; ok {
		p.NodeID, p.TriggerRev = t.LastNodeID, strconv.FormatInt(t.Revision, 10)
	}
	if _, fromFile := s.d.current.Load().Schedules[info.ID]; !fromFile {
		if def, ok := s.d.rest.get(info.ID); ok {
			p.Rev = strconv.FormatInt(def.rev, 10)
		}
	}
	return p
}

// maxTriggerIDs is the most ids storedTriggers asks the store for by id;
// past it, it reads every trigger.
const maxTriggerIDs = 100

// storedTriggers returns, by schedule id, the stored triggers of the
// persisted schedules among infos on a cluster node (nil otherwise). A
// store that does not answer leaves them out: their nodeId shows null.
func (s *scheduleService) storedTriggers(ctx context.Context, infos ...scheduler.ScheduleInfo) map[string]store.Trigger {
	if s.d.opts.DB == nil {
		return nil
	}
	var ids []string
	for _, info := range infos {
		if info.Schedule.Persisted && info.Schedule.Enabled {
			ids = append(ids, info.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	if len(ids) > maxTriggerIDs {
		ids = nil
	}
	trs, err := s.d.opts.DB.ListTriggers(ctx, store.ListTriggersParams{ScheduleIDs: ids})
	if err != nil {
		s.d.log.Warn("stored triggers not read: their nodeId shows null", "err", err)
		return nil
	}
	out := make(map[string]store.Trigger, len(trs))
	for _, t := range trs {
		out[t.ScheduleID] = t
	}
	return out
}

func (s *scheduleService) Jobs(ctx context.Context) ([]crest.Resource, error) {
	infos := s.d.sched.Schedules()
	stored := s.storedTriggers(ctx, infos...)
	out := make([]crest.Resource, 0, len(infos))
	// One cache for the answer: jobs of one context share its decoded map.
	var contexts config.ContextCache
	for _, info := range infos {
		out = append(out, s.job(info, stored, &contexts))
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

func (s *scheduleService) Job(ctx context.Context, id string) (crest.Resource, error) {
	info, err := s.info(id)
	if err != nil {
		return crest.Resource{}, err
	}
	return s.job(info, s.storedTriggers(ctx, info), nil), nil
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

// checkRev answers If-Match against a REST definition's revision.
func checkRev(id, ifMatch string, def restSchedule, exists bool) error {
	if ifMatch == "" || ifMatch == "*" {
		return nil
	}
	if !exists {
		return crest.NotFound("Schedule does not exist: %s", id)
	}
	if rev := strconv.FormatInt(def.rev, 10); rev != ifMatch {
		return crest.PreconditionFailed("revision %s of schedule %s does not match %s", rev, id, ifMatch)
	}
	return nil
}

// storeConflict turns the store's refusal of a revision into a 412.
func storeConflict(id string, err error) error {
	var ce *store.APIScheduleConflictError
	if errors.As(err, &ce) {
		return crest.PreconditionFailed("schedule %s: %v", id, err)
	}
	if errors.Is(err, store.ErrNotFound) {
		return crest.NotFound("Schedule does not exist: %s", id)
	}
	return fmt.Errorf("schedule %s: store: %w", id, err)
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
		return crest.Resource{}, false, crest.BadRequest("invalid schedule %s: %s", id, joinErrors(errs))
	}
	r := &d.rest
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	if d.opts.DB != nil {
		// Another node may have written this id since this node last read
		// it; what the read finds runs here even if this write fails.
		if err := d.readStoredLocked(ctx, []string{id}, files.Scheduler.Location); err != nil {
			return crest.Resource{}, false, err
		}
		defer d.applyPendingLocked(ctx)
	}
	prev, exists := r.get(id)
	if p.CreateOnly && exists {
		return crest.Resource{}, false, crest.PreconditionFailed("schedule %s already exists", id)
	}
	if err := checkRev(id, p.IfMatch, prev, exists); err != nil {
		return crest.Resource{}, false, err
	}
	def := restSchedule{sched: sched}
	// The store's revision check closes the gap since the read above.
	ifRev := store.AnyRev
	switch {
	case !exists || !prev.stored:
		ifRev = store.MustNotExist
	case p.IfMatch != "" && p.IfMatch != "*":
		ifRev = prev.rev
	}
	switch {
	case sched.Persisted && d.opts.DB != nil:
		a, err := d.opts.DB.PutAPISchedule(ctx, store.PutAPIScheduleParams{ID: id, Body: p.Body, IfRev: ifRev})
		if err != nil {
			return crest.Resource{}, false, storeConflict(id, err)
		}
		def.rev, def.stored, def.putAt = a.Rev, true, a.UpdatedAt
	case exists && prev.stored:
		// Persisted no more: it moves to this node's memory.
		if _, err := d.opts.DB.DeleteAPISchedule(ctx, store.DeleteAPIScheduleParams{ID: id, IfRev: ifRev}); err != nil {
			return crest.Resource{}, false, storeConflict(id, err)
		}
	}
	r.own(id)
	r.set(id, def)
	if err := d.applyRESTLocked(ctx, id); err != nil {
		// A change the store took stays (every node reads it from there);
		// it applies here at the next change or reload.
		if !def.stored && !(exists && prev.stored) {
			r.restore(id, prev, exists)
		}
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
	if d.opts.DB != nil {
		if err := d.readStoredLocked(ctx, []string{p.ID}, d.current.Load().Scheduler.Location); err != nil {
			return crest.Resource{}, err
		}
		defer d.applyPendingLocked(ctx)
	}
	prev, exists := r.get(p.ID)
	if !exists {
		return crest.Resource{}, crest.NotFound("Schedule does not exist: %s", p.ID)
	}
	if err := checkRev(p.ID, p.IfMatch, prev, exists); err != nil {
		return crest.Resource{}, err
	}
	was, err := s.Job(ctx, p.ID)
	if err != nil {
		return crest.Resource{}, err
	}
	if prev.stored {
		ifRev := store.AnyRev
		if p.IfMatch != "" && p.IfMatch != "*" {
			ifRev = prev.rev
		}
		if _, err := d.opts.DB.DeleteAPISchedule(ctx, store.DeleteAPIScheduleParams{ID: p.ID, IfRev: ifRev}); err != nil {
			return crest.Resource{}, storeConflict(p.ID, err)
		}
	}
	r.own(p.ID)
	r.set(p.ID, restSchedule{})
	if err := d.applyRESTLocked(ctx, p.ID); err != nil {
		if !prev.stored {
			r.restore(p.ID, prev, true)
		}
		return crest.Resource{}, err
	}
	d.log.Info("schedule deleted over REST", "schedule", p.ID, "by", p.ClientID)
	return was, nil
}

// applyRESTLocked reconciles the scheduler with the files and the REST
// schedules after a REST change; d.rest.applyMu is held. id, when set, is
// the schedule the change is about: one that cannot be applied is a 400.
func (d *Daemon) applyRESTLocked(ctx context.Context, id string) error {
	merged := d.rest.merged(d.current.Load())
	res, err := d.sched.Reconcile(ctx, merged)
	if err != nil {
		d.rest.unapplied.Store(true)
		return fmt.Errorf("apply the REST schedules: %w", err)
	}
	d.rest.reconciled()
	if e := res.Errors[id]; id != "" && e != nil {
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
	runs := s.d.sched.Executing()
	out := make([]map[string]any, 0, len(runs))
	for _, r := range runs {
		out = append(out, r.Schedule.Config())
	}
	return out, nil
}

func (s *scheduleService) Triggers(ctx context.Context) ([]crest.Resource, error) {
	infos := s.d.sched.Schedules()
	stored := s.storedTriggers(ctx, infos...)
	var out []crest.Resource
	for _, info := range infos {
		if tr, ok := schedview.Trigger(s.params(info, stored)); ok {
			out = append(out, tr)
		}
	}
	return out, nil
}

func (s *scheduleService) Trigger(ctx context.Context, id string) (crest.Resource, error) {
	sid, ok := strings.CutPrefix(id, schedview.Group+".trigger-")
	if !ok {
		return crest.Resource{}, crest.NotFound("Trigger does not exist: %s", id)
	}
	info, ok := s.d.sched.Schedule(sid)
	if !ok {
		return crest.Resource{}, crest.NotFound("Trigger does not exist: %s", id)
	}
	tr, ok := schedview.Trigger(s.params(info, s.storedTriggers(ctx, info)))
	if !ok {
		return crest.Resource{}, crest.NotFound("Trigger does not exist: %s", id)
	}
	return tr, nil
}
