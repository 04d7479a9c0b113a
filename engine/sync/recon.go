package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	stdsync "sync"
	"time"

	"sundial/engine/config"
	"sundial/engine/connector"
	"sundial/engine/query"
	"sundial/engine/script"
	"sundial/engine/store"
)

// Actions.
const (
	ActCreate    = "CREATE"
	ActUpdate    = "UPDATE"
	ActDelete    = "DELETE"
	ActLink      = "LINK"
	ActUnlink    = "UNLINK"
	ActException = "EXCEPTION"
	ActIgnore    = "IGNORE"
	ActReport    = "REPORT"
	ActNoReport  = "NOREPORT"
	ActAsync     = "ASYNC"
)

// DefaultActions are the actions IDM's code takes when no policy of the
// situation applies (its documentation says IGNORE for the last three).
var DefaultActions = map[string]string{
	"CONFIRMED": ActUpdate, "FOUND": ActUpdate, "ABSENT": ActCreate, "UNQUALIFIED": ActDelete,
	"FOUND_ALREADY_LINKED": ActException, "AMBIGUOUS": ActException, "MISSING": ActException,
	"UNASSIGNED": ActException, "SOURCE_MISSING": ActException, "LINK_ONLY": ActException,
	"SOURCE_IGNORED": ActReport, "TARGET_IGNORED": ActReport, "ALL_GONE": ActNoReport,
}

var validActions = map[string]bool{ActCreate: true, ActUpdate: true, ActDelete: true, ActLink: true, ActUnlink: true,
	ActException: true, ActIgnore: true, ActReport: true, ActNoReport: true, ActAsync: true}

// Change is one entry of a plan: an object and qualifier, its situation
// and action, and the concrete changes the action makes.
type Change struct {
	Phase         string `json:"phase"` // "source" or "target"
	LinkQualifier string `json:"linkQualifier"`
	Situation     string `json:"situation"`
	Action        string `json:"action"`
	SourceID      string `json:"sourceId,omitempty"`
	TargetID      string `json:"targetId,omitempty"`
	// Create is the target object to create (under TargetID, or an id
	// the set chooses when TargetID is "").
	Create map[string]any `json:"create,omitempty"`
	Update *UpdateChange  `json:"update,omitempty"`
	Delete *DeleteChange  `json:"delete,omitempty"`
	Link   *LinkChange    `json:"link,omitempty"`
	Unlink *UnlinkChange  `json:"unlink,omitempty"`
	// Ambiguous are the candidates of an AMBIGUOUS situation.
	Ambiguous []string `json:"ambiguousTargetIds,omitempty"`
	// Error is why the entry failed (an EXCEPTION action included).
	Error string `json:"error,omitempty"`
}

// UpdateChange replaces the target at revision Rev by Object; Diff lists
// the top-level fields that change.
type UpdateChange struct {
	Rev    string         `json:"rev"`
	Object map[string]any `json:"object"`
	Diff   []FieldDiff    `json:"diff"`
}

// FieldDiff is one changed field of an update.
type FieldDiff struct {
	Field string `json:"field"`
	Old   any    `json:"old"`
	New   any    `json:"new"`
}

// DeleteChange deletes the target at revision Rev.
type DeleteChange struct {
	Rev string `json:"rev"`
}

// LinkChange links the source to the target, replacing the source's
// link Replaces when it is not "".
type LinkChange struct {
	Replaces string `json:"replaces,omitempty"`
}

// UnlinkChange removes a link.
type UnlinkChange struct {
	LinkID string `json:"linkId"`
}

// entry is one object and qualifier being reconciled.
type entry struct {
	phase, qualifier string
	sourceID         string
	source           map[string]any // nil: none
	targetID         string
	target           map[string]any // nil: none
	link             *store.Link
	situation        string
	action           string
	policy           *config.Policy
	ambiguous        []string
	// linkedTargets are targets read ahead by id (nil: not found), shared
	// by the entries of a batch of sources and not to be changed.
	linkedTargets map[string]connector.Object
	// links are the links of the entry's batch (nil: none read).
	links *linkBatch
}

// mappingRun is the state of one run of one mapping.
type mappingRun struct {
	s      *Service
	r      *Run
	m      *config.Mapping
	source connector.ObjectSet
	target connector.ObjectSet
	// resources are the scripts' openidm.*: read-only in a dry run.
	resources  script.Resources
	qualifiers []string
	links      *linkIndex
	// targetEmpty: the target set was empty at the start.
	targetEmpty bool

	// touched are the targets the source phase reached or created, which
	// the target phase skips (nil: no target phase).
	touched *idSet

	filters stdsync.Map // filter text → *query.Program

	batchMu stdsync.Mutex // held while a batch of creates is written
	queueMu stdsync.Mutex
	queue   []queued // creates waiting for their batch
}

func (s *Service) prepare(ctx context.Context, r *Run, m *config.Mapping) (*mappingRun, error) {
	mr := &mappingRun{s: s, r: r, m: m, resources: s.cfg.Resources}
	if r.DryRun && mr.resources != nil {
		mr.resources = readOnly{mr.resources}
	}
	if s.cfg.Resolve == nil {
		return nil, errors.New("no object sets to reconcile")
	}
	var err error
	var release func()
	if mr.source, release, err = s.cfg.Resolve(m.Source); err != nil {
		return nil, fmt.Errorf("source %s: %w", m.Source, err)
	}
	r.onEnd(release)
	if mr.target, release, err = s.cfg.Resolve(m.Target); err != nil {
		return nil, fmt.Errorf("target %s: %w", m.Target, err)
	}
	r.onEnd(release)
	mr.qualifiers = m.LinkQualifiers
	if m.LinkQualifiersScript != nil {
		// Every qualifier: the links to load and the target phase's.
		if mr.qualifiers, err = mr.qualifierScript(ctx, nil, nil, true); err != nil {
			return nil, err
		}
	}
	mr.links = newLinkIndex(s, m)
	return mr, nil
}

// reconcile is one run of a mapping: query, source phase, target phase,
// results.
func (s *Service) reconcile(ctx context.Context, r *Run, m *config.Mapping) error {
	mr, err := s.prepare(ctx, r, m)
	if err != nil {
		return err
	}
	r.audit(ctx, s, map[string]any{"entryType": "start", "status": "SUCCESS", "message": "Reconciliation initiated by " + r.params.InitiatedBy})
	if m.OnRecon != nil {
		if _, err := mr.run(ctx, m.OnRecon, map[string]any{}); err != nil {
			return fmt.Errorf("onRecon: %w", err)
		}
	}
	r.setStage("ACTIVE_QUERY_ENTRIES")
	runTarget := m.RunTargetPhase
	if r.params.SourceID != "" {
		runTarget = false // IDM's reconById default
	}
	if r.params.RunTargetPhase != nil {
		runTarget = *r.params.RunTargetPhase
	}
	allowEmpty := m.AllowEmptySourceSet
	if r.params.AllowEmptySourceSet != nil {
		allowEmpty = *r.params.AllowEmptySourceSet
	}
	// Whether the target set is empty; the target phase reads its ids
	// again (and counts them) once the source phase is done, skipping
	// those the source phase touched, so that neither the ids nor the
	// links are held all at once.
	tq, err := scopeQuery(m.TargetQuery)
	if err != nil {
		return fmt.Errorf("targetQuery: %w", err)
	}
	tq.IDsOnly = true
	mr.targetEmpty = true
	if err := mr.target.Query(ctx, tq, func(connector.Object) error {
		mr.targetEmpty = false
		return errStopQuery
	}); err != nil && !errors.Is(err, errStopQuery) {
		return fmt.Errorf("query the target %s: %w", m.Target, err)
	}
	if runTarget {
		mr.touched = &idSet{}
	}
	mr.links.settle = true

	// The source phase.
	r.setStage("ACTIVE_RECONCILING_SOURCE")
	sq, err := scopeQuery(m.SourceQuery)
	if err != nil {
		return fmt.Errorf("sourceQuery: %w", err)
	}
	sources := 0
	err = mr.inBatches(ctx, mr.querySource, sq, &sources, nil, mr.sourceBatch)
	r.mu.Lock()
	r.counts.SourceTotal = sources
	r.mu.Unlock()
	if err != nil {
		return err
	}
	if sources == 0 && !allowEmpty {
		return fmt.Errorf("the source set %s is empty and allowEmptySourceSet is false: nothing reconciled", m.Source)
	}

	if runTarget {
		r.setStage("ACTIVE_RECONCILING_TARGET")
		mr.touched.seal()
		// The total is of the targets there were at the start: those the
		// source phase created are read now and not counted, those it
		// deleted are counted (a dry run changed none).
		targets := 0
		if c := mr.r.Counts(); !r.DryRun {
			targets = c.Deleted - c.Created
		}
		touched := func(o connector.Object) bool { return mr.touched.has(idOf(o)) }
		err = mr.inBatches(ctx, mr.target.Query, tq, &targets, touched, mr.targetBatch)
		r.mu.Lock()
		r.counts.TargetTotal = max(targets, 0)
		r.mu.Unlock()
		if err != nil {
			return err
		}
	}
	r.setStage("ACTIVE_PROCESSING_RESULTS")
	if m.Result != nil {
		sum := r.Summary()
		global := map[string]any{"startTime": sum["started"], "endTime": s.cfg.Now().UTC().Format(time.RFC3339Nano),
			"duration": sum["duration"], "reconId": r.ID, "mappingName": m.Name}
		progress, _ := sum["progress"].(map[string]any)
		if _, err := mr.run(ctx, m.Result, map[string]any{"source": progress["source"], "target": progress["target"], "global": global}); err != nil {
			return fmt.Errorf("result: %w", err)
		}
	}
	return ctx.Err()
}

// inBatches runs work over the objects query reads, a batch of
// sourceBatchSize at a time on the workers, then writes the creates left
// queued. n counts the objects read; skip (nil: none) leaves some out.
func (mr *mappingRun) inBatches(ctx context.Context, query func(context.Context, connector.Query, func(connector.Object) error) error, q connector.Query, n *int,
	skip func(connector.Object) bool, work func(context.Context, []connector.Object)) error {
	err := mr.parallel(ctx, func(feed chan<- func(context.Context)) error {
		var batch []connector.Object
		send := func() {
			objs := batch
			batch = nil
			feed <- func(ctx context.Context) { work(ctx, objs) }
		}
		err := query(ctx, q, func(o connector.Object) error {
			*n++
			if skip != nil && skip(o) {
				return ctx.Err()
			}
			if batch = append(batch, o); len(batch) == sourceBatchSize {
				send()
			}
			return ctx.Err()
		})
		if err == nil && len(batch) > 0 {
			send()
		}
		return err
	})
	if ferr := mr.flushCreates(ctx); err == nil {
		err = ferr
	}
	return err
}

// parallel runs the entries that produce sends on the mapping's
// taskThreads workers (in the caller's goroutine when 0).
func (mr *mappingRun) parallel(ctx context.Context, produce func(feed chan<- func(context.Context)) error) error {
	n := mr.m.TaskThreads
	if n == 0 {
		feed := make(chan func(context.Context), 1)
		var err error
		go func() { err = produce(feed); close(feed) }()
		for f := range feed {
			if ctx.Err() == nil {
				f(ctx)
			}
		}
		return err
	}
	// A short queue: an item may be a batch of source objects, and the
	// queue's items are held in memory.
	feed := make(chan func(context.Context), 2*n)
	var wg stdsync.WaitGroup
	for range n {
		wg.Go(func() {
			for f := range feed {
				if ctx.Err() == nil {
					f(ctx)
				}
			}
		})
	}
	err := produce(feed)
	close(feed)
	wg.Wait()
	if err == nil {
		err = ctx.Err()
	}
	return err
}

// sourceBatchSize is how many source (or target) objects a worker takes
// at a time, and so how many objects' links and linked targets it reads
// in one call.
const sourceBatchSize = 100

// batchReader is a set that reads many objects in one call.
type batchReader interface {
	ReadMany(ctx context.Context, ids []string) (map[string]connector.Object, error)
}

// errStopQuery ends a query that has read enough.
var errStopQuery = errors.New("enough read")

// sourceBatch reconciles source objects one after the other, having read
// their links together, and their linked targets when the target set can.
func (mr *mappingRun) sourceBatch(ctx context.Context, objs []connector.Object) {
	_, links, ok := mr.batchLinks(ctx, "source", objs)
	if !ok {
		return
	}
	linked := mr.readLinkedTargets(ctx, objs, links)
	for _, o := range objs {
		if ctx.Err() != nil {
			return
		}
		mr.sourceEntry(ctx, o, linked, links)
	}
}

// targetBatch reconciles targets no source reached (objects holding at
// least their ids), having read their links together.
func (mr *mappingRun) targetBatch(ctx context.Context, objs []connector.Object) {
	ids, links, ok := mr.batchLinks(ctx, "target", objs)
	if !ok {
		return
	}
	for _, id := range ids {
		if ctx.Err() != nil {
			return
		}
		mr.targetEntry(ctx, id, links)
	}
}

// batchLinks reads the links of a batch of objects of a phase ("source":
// by source id; "target": by target id) and adds them to the run's total.
// When that fails, each object's entry fails and ok is false.
func (mr *mappingRun) batchLinks(ctx context.Context, phase string, objs []connector.Object) (ids []string, links *linkBatch, ok bool) {
	ids = make([]string, len(objs))
	for i, o := range objs {
		ids[i] = idOf(o)
	}
	links, err := mr.links.readBatch(ctx, mr.qualifiers, ids, phase)
	if err != nil {
		for _, id := range ids {
			e := &entry{phase: phase, sourceID: id, qualifier: mr.qualifiers[0]}
			if phase == "target" {
				e.sourceID, e.targetID = "", id
			}
			mr.record(ctx, e, nil, fmt.Errorf("read the links: %w", err))
		}
		return nil, nil, false
	}
	n := 0
	for _, m := range links.links {
		n += len(m)
	}
	mr.r.mu.Lock()
	mr.r.linksTotal = max(mr.r.linksTotal, 0) + n
	mr.r.mu.Unlock()
	return ids, links, true
}

// readLinkedTargets reads the targets the sources' links name, by id; an
// id asked for and not found maps to nil. It returns nil when the target
// set reads one object at a time or the read fails (each entry then reads
// its own).
func (mr *mappingRun) readLinkedTargets(ctx context.Context, objs []connector.Object, links *linkBatch) map[string]connector.Object {
	br, ok := mr.target.(batchReader)
	if !ok || !mr.links.enabled {
		return nil
	}
	var ids []string
	for _, o := range objs {
		for _, q := range mr.qualifiers {
			if l := mr.links.sourceLink(links, q, idOf(o)); l != nil {
				ids = append(ids, mr.links.targetOf(l))
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	found, err := br.ReadMany(ctx, ids)
	if err != nil {
		return nil
	}
	for _, id := range ids {
		if _, ok := found[id]; !ok {
			found[id] = nil
		}
	}
	return found
}

// sourceEntry reconciles one source object in every qualifier; linked
// holds the targets read ahead for it (nil: none), links its batch's
// links.
func (mr *mappingRun) sourceEntry(ctx context.Context, o connector.Object, linked map[string]connector.Object, links *linkBatch) {
	start := time.Now()
	id := idOf(o)
	if !fullEntry(o) {
		full, err := mr.source.Read(ctx, id)
		if err != nil && !errors.Is(err, connector.ErrNotFound) {
			mr.record(ctx, &entry{phase: "source", sourceID: id, qualifier: mr.qualifiers[0]}, nil, fmt.Errorf("read the source: %w", err))
			return
		}
		o = full // nil when gone
	}
	qualifiers, err := mr.qualifiersOf(ctx, o, nil)
	if err != nil {
		mr.record(ctx, &entry{phase: "source", sourceID: id, source: o, qualifier: mr.qualifiers[0]}, nil, err)
		return
	}
	for _, q := range qualifiers {
		e := &entry{phase: "source", qualifier: q, sourceID: id, source: o, linkedTargets: linked, links: links}
		c, err := mr.assessSource(ctx, e)
		if err == nil {
			c, err = mr.perform(ctx, e)
		}
		mr.record(ctx, e, c, err)
	}
	mr.r.mu.Lock()
	mr.r.srcDone++
	mr.r.mu.Unlock()
	mr.r.observe("sourceObjectRecon", time.Since(start))
}

// targetEntry reconciles one target no source reached, in every
// qualifier; links are its batch's links.
func (mr *mappingRun) targetEntry(ctx context.Context, id string, links *linkBatch) {
	start := time.Now()
	t, err := mr.target.Read(ctx, id)
	if errors.Is(err, connector.ErrNotFound) {
		return // deleted during the run
	}
	for _, q := range mr.qualifiers {
		e := &entry{phase: "target", qualifier: q, targetID: id, target: t, links: links}
		var c *Change
		if err == nil {
			if err = mr.targetSituation(ctx, e); err == nil {
				c, err = mr.perform(ctx, e)
			}
		}
		mr.record(ctx, e, c, err)
	}
	mr.r.mu.Lock()
	mr.r.tgtDone++
	mr.r.mu.Unlock()
	mr.r.observe("targetObjectRecon", time.Since(start))
}

// touch marks targets the source phase reached: the target phase skips
// them.
func (mr *mappingRun) touch(ids ...string) {
	if mr.touched != nil {
		mr.touched.add(ids...)
	}
}

// sourceSituation assesses a source entry (IDM's SourceSyncOperation).
func (mr *mappingRun) sourceSituation(ctx context.Context, e *entry) (*Change, error) {
	valid, err := mr.validSource(ctx, e.source, e.qualifier)
	if err != nil {
		return nil, err
	}
	if l := mr.links.sourceLink(e.links, e.qualifier, e.sourceID); l != nil {
		e.link = l
		e.targetID = mr.links.targetOf(l)
		mr.touch(e.targetID)
		t, err := mr.readLinked(ctx, e)
		switch {
		case errors.Is(err, connector.ErrNotFound):
		case err != nil:
			return nil, fmt.Errorf("read the linked target %s: %w", e.targetID, err)
		default:
			e.target = t
		}
		switch {
		case !valid:
			e.situation = "UNQUALIFIED"
		case e.target != nil:
			e.situation = "CONFIRMED"
		default:
			e.situation = "MISSING"
		}
		return nil, nil
	}
	cands, err := mr.correlate(ctx, e)
	if err != nil {
		return nil, fmt.Errorf("correlation: %w", err)
	}
	ids := make([]string, len(cands))
	for i, c := range cands {
		ids[i] = idOf(c)
	}
	mr.touch(ids...)
	switch {
	case !valid && len(cands) > 0:
		e.situation = "UNQUALIFIED"
		if len(cands) == 1 {
			e.targetID, e.target = ids[0], cands[0]
		} else {
			e.ambiguous = ids
		}
	case !valid:
		e.situation = "SOURCE_IGNORED"
	case len(cands) == 0:
		e.situation = "ABSENT"
	case len(cands) == 1:
		e.targetID, e.target = ids[0], cands[0]
		l, err := mr.links.targetLink(ctx, e.links, e.qualifier, e.targetID)
		switch {
		case err != nil:
			return nil, fmt.Errorf("read the link of %s: %w", e.targetID, err)
		case l != nil:
			e.situation = "FOUND_ALREADY_LINKED"
		default:
			e.situation = "FOUND"
		}
	default:
		e.situation = "AMBIGUOUS"
		e.ambiguous = ids
	}
	return nil, nil
}

// readLinked reads the entry's linked target, from the targets read ahead
// when it is among them.
func (mr *mappingRun) readLinked(ctx context.Context, e *entry) (connector.Object, error) {
	if t, ok := e.linkedTargets[e.targetID]; ok {
		if t == nil {
			return nil, fmt.Errorf("%w: %s", connector.ErrNotFound, e.targetID)
		}
		return t, nil
	}
	return mr.target.Read(ctx, e.targetID)
}

// targetSituation assesses a target entry (IDM's TargetSyncOperation).
func (mr *mappingRun) targetSituation(ctx context.Context, e *entry) error {
	valid, err := mr.validTarget(ctx, e.target, e.qualifier)
	if err != nil {
		return err
	}
	if !valid {
		e.situation = "TARGET_IGNORED"
		return nil
	}
	l, err := mr.links.targetLink(ctx, e.links, e.qualifier, e.targetID)
	if err != nil {
		return fmt.Errorf("read the link of %s: %w", e.targetID, err)
	}
	if l == nil {
		e.situation = "UNASSIGNED"
		return nil
	}
	e.link = l
	e.sourceID = mr.links.sourceOf(l)
	src, err := mr.source.Read(ctx, e.sourceID)
	switch {
	case errors.Is(err, connector.ErrNotFound):
		e.situation = "SOURCE_MISSING"
		return nil
	case err != nil:
		return fmt.Errorf("read the linked source %s: %w", e.sourceID, err)
	}
	e.source = src
	ok, err := mr.validSource(ctx, src, e.qualifier)
	switch {
	case err != nil:
		return err
	case !ok:
		e.situation = "UNQUALIFIED"
	default:
		e.situation = "CONFIRMED"
	}
	return nil
}

// validSource is validSource and sourceCondition.
func (mr *mappingRun) validSource(ctx context.Context, src map[string]any, q string) (bool, error) {
	if src == nil {
		return false, nil
	}
	if mr.m.ValidSource != nil {
		ok, err := mr.boolScript(ctx, mr.m.ValidSource, map[string]any{"source": src, "linkQualifier": q}, "validSource")
		if err != nil || !ok {
			return false, err
		}
	}
	if !mr.m.SourceCondition.IsZero() {
		return mr.holds(ctx, mr.m.SourceCondition, map[string]any{"source": src, "linkQualifier": q}, src)
	}
	return true, nil
}

func (mr *mappingRun) validTarget(ctx context.Context, t map[string]any, q string) (bool, error) {
	if t == nil {
		return false, nil
	}
	if mr.m.ValidTarget == nil {
		return true, nil
	}
	return mr.boolScript(ctx, mr.m.ValidTarget, map[string]any{"target": t, "linkQualifier": q}, "validTarget")
}

func (mr *mappingRun) boolScript(ctx context.Context, sc config.Script, bindings map[string]any, what string) (bool, error) {
	v, err := mr.run(ctx, sc, bindings)
	if err != nil {
		return false, fmt.Errorf("%s: %w", what, err)
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("%s: the script returned %v, not a boolean", what, v)
	}
	return b, nil
}

// holds evaluates a condition over scope; an equality condition compares
// its pointers in equalsBase.
func (mr *mappingRun) holds(ctx context.Context, c config.Condition, scope, equalsBase map[string]any) (bool, error) {
	switch {
	case c.Filter != "":
		p, err := mr.program(c.Filter)
		if err != nil {
			return false, err
		}
		return p.Match(normalizeMap(scope)), nil
	case c.Script != nil:
		v, err := mr.run(ctx, c.Script, scope)
		if err != nil {
			return false, fmt.Errorf("condition: %w", err)
		}
		return v == true, nil
	case c.Equals != nil:
		for k, want := range c.Equals {
			got, _ := getPointer(equalsBase, k)
			if !sameJSON(got, want) {
				return false, nil
			}
		}
	}
	return true, nil
}

func (mr *mappingRun) program(filter string) (*query.Program, error) {
	if p, ok := mr.filters.Load(filter); ok {
		return p.(*query.Program), nil
	}
	f, err := query.Parse(filter)
	if err != nil {
		return nil, err
	}
	p, err := query.Compile(f)
	if err != nil {
		return nil, err
	}
	mr.filters.Store(filter, p)
	return p, nil
}

// correlate returns the candidate targets of a source without a link.
func (mr *mappingRun) correlate(ctx context.Context, e *entry) ([]map[string]any, error) {
	if mr.targetEmpty && !mr.m.CorrelateEmptyTargetSet {
		return nil, nil
	}
	bindings := map[string]any{"source": e.source, "linkQualifier": e.qualifier}
	if mr.m.CorrelationScript != nil {
		v, err := mr.run(ctx, mr.m.CorrelationScript, bindings)
		if err != nil {
			return nil, err
		}
		return mr.candidates(ctx, v)
	}
	var corr *config.Correlation
	for i := range mr.m.Correlations {
		if mr.m.Correlations[i].LinkQualifier == e.qualifier {
			corr = &mr.m.Correlations[i]
			break
		}
	}
	if corr == nil {
		return nil, nil
	}
	var filter string
	if corr.TreeFields != nil {
		mapped := map[string]any{}
		if err := mr.mapProperties(ctx, e, mapped, nil); err != nil {
			return nil, err
		}
		var terms []string
		for _, f := range corr.TreeFields {
			v, ok := getPointer(mapped, f)
			if !ok || v == nil {
				continue
			}
			b, _ := json.Marshal(v)
			terms = append(terms, fmt.Sprintf("/%s eq %s", strings.TrimPrefix(f, "/"), b))
		}
		if len(terms) == 0 {
			return nil, nil
		}
		join := " or "
		if corr.TreeAll {
			join = " and "
		}
		filter = strings.Join(terms, join)
	} else {
		v, err := mr.run(ctx, corr.Script, bindings)
		if err != nil {
			return nil, err
		}
		params, _ := v.(map[string]any)
		qf, _ := params["_queryFilter"].(string)
		if uid, ok := params["uid"]; ok && params["_queryId"] == "for-userName" {
			// The query IDM's repository defines for managed users.
			b, _ := json.Marshal(uid)
			qf = "/userName eq " + string(b)
		}
		if qf == "" {
			return nil, fmt.Errorf("the correlation query returned %v: Sundial needs {\"_queryFilter\": …} (or the for-userName query)", v)
		}
		filter = qf
	}
	f, err := query.Parse(filter)
	if err != nil {
		return nil, fmt.Errorf("correlation filter %q: %w", filter, err)
	}
	var out []map[string]any
	err = mr.target.Query(ctx, connector.Query{Filter: f}, func(o connector.Object) error {
		out = append(out, o)
		return nil
	})
	return out, err
}

// candidates reads a correlationScript's result: a list of objects with
// _id, read in full when they hold only ids.
func (mr *mappingRun) candidates(ctx context.Context, v any) ([]map[string]any, error) {
	list, ok := v.([]any)
	if !ok && v != nil {
		return nil, fmt.Errorf("correlationScript returned %v, not a list", v)
	}
	var out []map[string]any
	for _, it := range list {
		o, _ := it.(map[string]any)
		id, _ := o["_id"].(string)
		if id == "" {
			return nil, fmt.Errorf("correlationScript returned a candidate without _id: %v", it)
		}
		if !fullEntry(o) {
			full, err := mr.target.Read(ctx, id)
			if err != nil {
				return nil, err
			}
			o = full
		}
		out = append(out, o)
	}
	return out, nil
}

// decide picks the action: the situation's default, or the first policy
// of the situation whose condition holds.
func (mr *mappingRun) decide(ctx context.Context, e *entry) error {
	e.action = DefaultActions[e.situation]
	for i := range mr.m.Policies {
		p := &mr.m.Policies[i]
		if p.Situation != e.situation {
			continue
		}
		if !p.Condition.IsZero() {
			scope := map[string]any{"object": e.source, "linkQualifier": e.qualifier}
			ok, err := mr.holds(ctx, p.Condition, scope, scope)
			if err != nil {
				return fmt.Errorf("policy condition: %w", err)
			}
			if !ok {
				continue
			}
		}
		e.policy = p
		if p.ActionScript == nil {
			e.action = p.Action
			return nil
		}
		v, err := mr.run(ctx, p.ActionScript, map[string]any{"source": e.source, "target": e.target, "linkQualifier": e.qualifier,
			"sourceAction": e.phase == "source", "recon": map[string]any{"actionParam": mr.actionParam(e)}})
		if err != nil {
			return fmt.Errorf("policy action: %w", err)
		}
		a, _ := v.(string)
		if !validActions[a] {
			return fmt.Errorf("the action script returned %v, not an action", v)
		}
		e.action = a
		return nil
	}
	return nil
}

func (mr *mappingRun) actionParam(e *entry) map[string]any {
	return map[string]any{"reconId": mr.r.ID, "mapping": mr.m.Name, "situation": e.situation, "action": e.action,
		"sourceId": e.sourceID, "targetId": e.targetID, "linkQualifier": e.qualifier}
}

// perform decides the action and computes its change, then applies it,
// or, in a dry run, counts it for the plan.
func (mr *mappingRun) perform(ctx context.Context, e *entry) (*Change, error) {
	if err := mr.decide(ctx, e); err != nil {
		return nil, err
	}
	c, err := mr.plan(ctx, e)
	if err != nil {
		return c, err
	}
	if mr.r.DryRun {
		mr.count(c)
		return c, nil
	}
	if mr.batchable(c, e) {
		return c, mr.enqueue(ctx, e, c)
	}
	return c, mr.apply(ctx, c, e)
}

// plan computes the concrete change of an entry's action.
func (mr *mappingRun) plan(ctx context.Context, e *entry) (*Change, error) {
	c := &Change{Phase: e.phase, LinkQualifier: e.qualifier, Situation: e.situation, Action: e.action,
		SourceID: e.sourceID, TargetID: e.targetID, Ambiguous: e.ambiguous}
	switch e.action {
	case ActCreate:
		if e.source == nil {
			return c, errors.New("CREATE without a source object")
		}
		if e.target != nil {
			return c, fmt.Errorf("CREATE of a target that exists (%s)", e.targetID)
		}
		t := map[string]any{}
		if err := mr.mapProperties(ctx, e, t, nil); err != nil {
			return c, err
		}
		if mr.m.OnCreate != nil {
			var err error
			if t, err = mr.mutate(ctx, mr.m.OnCreate, mr.hookScope(e, t, nil), "onCreate"); err != nil {
				return c, err
			}
		}
		id, _ := t["_id"].(string)
		delete(t, "_rev")
		c.TargetID, c.Create = id, t
		if mr.m.EnableLinking {
			c.Link = &LinkChange{}
			if l := mr.links.sourceLink(e.links, e.qualifier, e.sourceID); l != nil {
				c.Link.Replaces = l.ID
			}
		}
	case ActUpdate, ActLink:
		if e.targetID == "" {
			return c, fmt.Errorf("%s without a target object", e.action)
		}
		if mr.m.EnableLinking && (e.link == nil || mr.links.targetOf(e.link) != e.targetID) {
			c.Link = &LinkChange{}
			if l := mr.links.sourceLink(e.links, e.qualifier, e.sourceID); l != nil {
				c.Link.Replaces = l.ID
			}
		}
		if e.action == ActLink {
			break
		}
		if e.source == nil {
			return c, errors.New("UPDATE without a source object")
		}
		if e.target == nil {
			return c, fmt.Errorf("UPDATE of a target that does not exist (%s)", e.targetID)
		}
		t := deepCopy(e.target)
		if err := mr.mapProperties(ctx, e, t, e.target); err != nil {
			return c, err
		}
		if mr.m.OnUpdate != nil {
			var err error
			if t, err = mr.mutate(ctx, mr.m.OnUpdate, mr.hookScope(e, t, e.target), "onUpdate"); err != nil {
				return c, err
			}
		}
		if id, _ := t["_id"].(string); id != e.targetID {
			return c, fmt.Errorf("UPDATE may not change the target's _id (%s to %v)", e.targetID, t["_id"])
		}
		if diff := diffObjects(e.target, t); len(diff) > 0 {
			rev, _ := e.target["_rev"].(string)
			delete(t, "_rev")
			c.Update = &UpdateChange{Rev: rev, Object: t, Diff: diff}
		}
	case ActDelete:
		if e.target != nil {
			rev, _ := e.target["_rev"].(string)
			c.Delete = &DeleteChange{Rev: rev}
		}
		if e.link != nil {
			c.Unlink = &UnlinkChange{LinkID: e.link.ID}
		}
	case ActUnlink:
		if e.link != nil {
			c.Unlink = &UnlinkChange{LinkID: e.link.ID}
		}
	case ActException:
		c.Error = fmt.Sprintf("Situation %s marked as EXCEPTION", e.situation)
	}
	// The links this entry will make or remove are reserved now, so that
	// the entries that follow see them (and a dry run plans as a real
	// run would apply).
	if c.Unlink != nil {
		mr.links.remove(e.qualifier, e.link)
	}
	if c.Link != nil && c.TargetID != "" {
		mr.links.put(e.links, e.qualifier, e.sourceID, c.TargetID, "")
	}
	return c, nil
}

// hookScope is the scope of onCreate, onUpdate, onDelete, onLink and
// onUnlink.
func (mr *mappingRun) hookScope(e *entry, target, oldTarget map[string]any) map[string]any {
	scope := map[string]any{"context": map[string]any{"reconId": mr.r.ID}, "linkQualifier": e.qualifier, "mappingConfig": map[string]any{"name": mr.m.Name, "source": mr.m.Source, "target": mr.m.Target},
		"source": orNull(e.source), "oldSource": nil, "sourceId": e.sourceID, "target": orNull(target), "targetId": e.targetID, "situation": e.situation}
	if oldTarget != nil {
		scope["oldTarget"] = oldTarget
	}
	return scope
}

// orNull is an object for a script's bindings: null, not {}, when
// there is none.
func orNull(o map[string]any) any {
	if o == nil {
		return nil
	}
	return o
}

// mapProperties applies the property mappings onto t.
func (mr *mappingRun) mapProperties(ctx context.Context, e *entry, t, oldTarget map[string]any) error {
	for i := range mr.m.Properties {
		p := &mr.m.Properties[i]
		if !p.Condition.IsZero() {
			scope := map[string]any{"object": e.source, "target": t, "linkQualifier": e.qualifier, "oldSource": nil, "oldTarget": oldTarget}
			ok, err := mr.holds(ctx, p.Condition, scope, scope)
			if err != nil {
				return fmt.Errorf("properties %s: %w", p.Target, err)
			}
			if !ok {
				continue
			}
		}
		var v any
		if p.HasSource {
			if strings.Trim(p.Source, "/") == "" {
				v = e.source
			} else if got, ok := getPointer(e.source, p.Source); ok {
				v = got
			}
		}
		if p.Transform != nil {
			var err error
			if v, err = mr.run(ctx, p.Transform, map[string]any{"source": v, "linkQualifier": e.qualifier}); err != nil {
				return fmt.Errorf("properties %s: transform: %w", p.Target, err)
			}
		}
		if v == nil && p.HasDefault {
			v = p.Default
		}
		setPointer(t, p.Target, deepCopyValue(v))
	}
	return nil
}

// record audits an entry and, in a dry run, stores its change.
func (mr *mappingRun) record(ctx context.Context, e *entry, c *Change, err error) {
	if errors.Is(err, errQueued) {
		return // recorded when its batch is written
	}
	if c == nil {
		c = &Change{Phase: e.phase, LinkQualifier: e.qualifier, Situation: e.situation, Action: e.action, SourceID: e.sourceID, TargetID: e.targetID}
	}
	if err != nil {
		c.Error = err.Error()
	}
	ok := err == nil // an EXCEPTION action is audited SUCCESS, as IDM does
	r := mr.r
	r.mu.Lock()
	if e.situation != "" {
		if _, counted := r.situations[e.situation]; counted {
			r.situations[e.situation]++
		}
	}
	r.status[statusOf(ok)]++
	if !ok {
		r.counts.Failed++
	}
	if e.link != nil {
		r.linksDone++
	}
	r.mu.Unlock()
	if r.DryRun {
		if err := r.add(ctx, mr.s, store.ReconPlan, c); err != nil {
			mr.s.cfg.Logger.Warn("storing a plan entry failed", "recon", r.ID, "err", err)
		}
	}
	if c.Action == ActNoReport && ok {
		return
	}
	a := r.common(mr.s)
	a.EntryType, a.Reconciling, a.Situation, a.Action, a.LinkQualifier = "entry", e.phase, e.situation, c.Action, e.qualifier
	a.Status, a.Message, a.ReconAction = statusOf(ok), c.Error, "recon"
	a.SourceObjectID, a.TargetObjectID = qualified(mr.m.Source, c.SourceID), qualified(mr.m.Target, c.TargetID)
	a.AmbiguousTargetObjectIDs = strings.Join(e.ambiguous, ", ")
	if err != nil {
		msg := err.Error()
		a.Exception = &msg
	}
	r.addAudit(ctx, mr.s, &a)
}

func qualified(set, id string) any {
	if id == "" {
		return nil
	}
	return set + "/" + id
}

// count adds a change to the run's counts.
func (mr *mappingRun) count(c *Change) {
	r := mr.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.Create != nil {
		r.counts.Created++
	}
	if c.Update != nil {
		r.counts.Updated++
	}
	if c.Delete != nil {
		r.counts.Deleted++
	}
	if c.Link != nil {
		r.counts.Linked++
	}
	if c.Unlink != nil {
		r.counts.Unlinked++
	}
}

// scopeQuery reads a sourceQuery or targetQuery.
func scopeQuery(params map[string]any) (connector.Query, error) {
	qf, _ := params["_queryFilter"].(string)
	if qf == "" {
		qf, _ = params["queryFilter"].(string)
	}
	if qf == "" {
		return connector.Query{}, nil
	}
	f, err := query.Parse(qf)
	return connector.Query{Filter: f}, err
}

func idOf(o map[string]any) string {
	id, _ := o["_id"].(string)
	return id
}

// fullEntry reports whether a query result holds more than ids (IDM:
// more than _id, _rev and two fields counts as full; any field here).
func fullEntry(o map[string]any) bool {
	for k := range o {
		if k != "_id" && k != "_rev" {
			return true
		}
	}
	return false
}

// diffObjects lists the top-level fields that differ between old and
// new, _rev aside.
func diffObjects(old, new map[string]any) []FieldDiff {
	var out []FieldDiff
	for k, nv := range new {
		if k == "_rev" {
			continue
		}
		if ov, ok := old[k]; !ok || !sameJSON(ov, nv) {
			out = append(out, FieldDiff{Field: k, Old: old[k], New: nv})
		}
	}
	for k, ov := range old {
		if _, ok := new[k]; !ok && k != "_rev" {
			out = append(out, FieldDiff{Field: k, Old: ov, New: nil})
		}
	}
	sortDiff(out)
	return out
}

// sameJSON compares two values as JSON documents.
func sameJSON(a, b any) bool {
	if reflect.DeepEqual(a, b) {
		return true
	}
	return reflect.DeepEqual(normalize(a), normalize(b))
}
