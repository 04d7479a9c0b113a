package sync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"sundial/engine/config"
	"sundial/engine/connector"
	"sundial/engine/store"
)

// ErrSyncFailed is wrapped by the error of a write whose object was
// written but whose synchronization onto the mappings of its set failed
// (IDM then answers the write with that error too).
var ErrSyncFailed = errors.New("synchronization failed")

// Notification is one change of a source object that implicit sync and
// liveSync send through the mappings whose source is its set (IDM's
// notifyCreate, notifyUpdate and notifyDelete).
type Notification struct {
	// Resource is the object's set: "managed/user", "system/ldap/account".
	Resource string
	ID       string
	// OldValue is the object before the change (nil: unknown, as in
	// liveSync); NewValue after it (nil for a delete).
	OldValue, NewValue map[string]any
	Deleted            bool
	// PreviousID is the object's id before a rename that liveSync
	// reported ("": none); the object takes its links.
	PreviousID string
	// InitiatedBy names what made the change, for the audit's userId.
	InitiatedBy string

	// pending is the link the sync that created the object is making, of
	// the link type pendingType.
	pending     pendingLink
	pendingType string
}

// HasSyncMappings reports whether a mapping with enableSync has resource
// as its source: whether a Notify of it does anything.
func (s *Service) HasSyncMappings(resource string) bool {
	return len(s.syncMappings(resource)) > 0
}

func (s *Service) syncMappings(resource string) []*config.Mapping {
	if s.cfg.Mappings == nil {
		return nil
	}
	var out []*config.Mapping
	for _, m := range s.cfg.Mappings() {
		if m.Source == resource && m.EnableSync {
			out = append(out, m)
		}
	}
	return out
}

// Notify runs every mapping with enableSync whose source is n's set, in
// file order: the source-side assessment of the object in each link
// qualifier, and the action it calls for. An update whose old value
// equals the new one (revision aside) does nothing. The first mapping that
// fails stops the others (IDM marks them SKIPPED); its error is returned,
// wrapping ErrSyncFailed. Every mapping × qualifier writes an audit/sync
// entry.
func (s *Service) Notify(ctx context.Context, n Notification) error {
	maps := s.syncMappings(n.Resource)
	if len(maps) == 0 {
		return nil
	}
	if !n.Deleted && n.OldValue != nil && sameJSON(withoutRev(n.OldValue), withoutRev(n.NewValue)) {
		return nil
	}
	for _, m := range maps {
		if err := s.syncOne(ctx, m, n); err != nil {
			return fmt.Errorf("%w: mapping %s, %s/%s: %w", ErrSyncFailed, m.Name, n.Resource, n.ID, err)
		}
	}
	return nil
}

func withoutRev(o map[string]any) map[string]any {
	if _, ok := o["_rev"]; !ok {
		return o
	}
	c := make(map[string]any, len(o))
	for k, v := range o {
		if k != "_rev" {
			c[k] = v
		}
	}
	return c
}

// syncOne synchronizes one object through one mapping, in each of its
// qualifiers.
func (s *Service) syncOne(ctx context.Context, m *config.Mapping, n Notification) error {
	r := s.newRun(uuid.NewString(), m, ReconParams{Mapping: m.Name, InitiatedBy: n.InitiatedBy})
	defer func() {
		r.release()
		r.cancel()
	}()
	mr, err := s.prepare(ctx, r, m)
	if err != nil {
		return err
	}
	// Only this object's links are read, and the links of the targets
	// the correlation finds; one object at a time, so no batch of creates.
	if err := mr.links.loadSource(ctx, mr.qualifiers, n.ID); err != nil {
		return err
	}
	if n.pendingType != "" && n.pendingType == m.Links && mr.links.enabled {
		mr.links.put(nil, n.pending.qualifier, n.ID, n.pending.other, "")
	}
	if n.PreviousID != "" && !n.Deleted {
		if err := mr.renameLinks(ctx, n.PreviousID, n.ID); err != nil {
			return err
		}
	}
	mr.target = oneByOne{ObjectSet: mr.target, links: mr.links, qualifiers: mr.qualifiers}
	src := n.NewValue
	if !n.Deleted && src == nil {
		if src, err = mr.source.Read(ctx, n.ID); err != nil {
			return fmt.Errorf("read the source: %w", err)
		}
	}
	// The object's own qualifiers, as IDM asks the linkQualifiers script
	// with returnAll false.
	obj := src
	if n.Deleted {
		obj = nil
	}
	qualifiers, err := mr.qualifiersOf(ctx, obj, n.OldValue)
	if err != nil {
		return err
	}
	for _, q := range qualifiers {
		e := &entry{phase: "source", qualifier: q, sourceID: n.ID, source: src}
		if n.Deleted {
			err = mr.deletedSituation(ctx, e, n.OldValue)
		} else {
			_, err = mr.sourceSituation(ctx, e)
		}
		var c *Change
		if err == nil {
			c, err = mr.perform(ctx, e)
		}
		if err == nil && c != nil && c.Action == ActException {
			// A sync, unlike a recon, fails on EXCEPTION.
			err = errors.New(c.Error)
		}
		s.auditSync(ctx, mr, e, c, err, n)
		if err != nil {
			return err
		}
	}
	return nil
}

// deletedSituation assesses a source object that was deleted (IDM's
// SourceSyncOperation with no source): its link's target, else a
// correlation of its old value.
func (mr *mappingRun) deletedSituation(ctx context.Context, e *entry, old map[string]any) error {
	e.source = nil
	if l := mr.links.sourceLink(e.links, e.qualifier, e.sourceID); l != nil {
		e.link = l
		e.targetID = mr.links.targetOf(l)
		t, err := mr.target.Read(ctx, e.targetID)
		switch {
		case errors.Is(err, connector.ErrNotFound):
			e.situation = "LINK_ONLY"
			return nil
		case err != nil:
			return fmt.Errorf("read the linked target %s: %w", e.targetID, err)
		}
		e.target = t
		valid, err := mr.validTarget(ctx, t, e.qualifier)
		if err != nil {
			return err
		}
		if valid {
			e.situation = "SOURCE_MISSING"
		} else {
			e.situation = "TARGET_IGNORED"
		}
		return nil
	}
	if old == nil {
		e.situation = "ALL_GONE"
		return nil
	}
	e.source = old
	cands, err := mr.correlate(ctx, e)
	if err != nil {
		e.source = nil
		return fmt.Errorf("correlation: %w", err)
	}
	valid, err := mr.validSource(ctx, old, e.qualifier)
	e.source = nil
	if err != nil {
		return err
	}
	switch {
	case len(cands) == 0:
		e.situation = "ALL_GONE"
	case len(cands) == 1:
		e.targetID, e.target = idOf(cands[0]), cands[0]
		e.situation = "TARGET_IGNORED"
		if valid {
			e.situation = "UNASSIGNED"
		}
	default:
		for _, c := range cands {
			e.ambiguous = append(e.ambiguous, idOf(c))
		}
		e.situation = "UNQUALIFIED"
		if valid {
			e.situation = "AMBIGUOUS"
		}
	}
	return nil
}

// loadSource reads the links of one source object in the qualifiers.
func (li *linkIndex) loadSource(ctx context.Context, qualifiers []string, sourceID string) error {
	first, second := li.srcKey(sourceID), ""
	if li.reversed {
		first, second = second, first
	}
	return li.loadSome(ctx, qualifiers, first, second)
}

// loadTarget reads the links of one target object in the qualifiers.
func (li *linkIndex) loadTarget(ctx context.Context, qualifiers []string, targetID string) error {
	first, second := "", li.tgtKey(targetID)
	if li.reversed {
		first, second = second, first
	}
	return li.loadSome(ctx, qualifiers, first, second)
}

// loadSome reads links one qualifier at a time (the store's indexes start
// with the link type and the qualifier).
func (li *linkIndex) loadSome(ctx context.Context, qualifiers []string, firstID, secondID string) error {
	if !li.enabled {
		return nil
	}
	for _, q := range qualifiers {
		err := li.s.recons.QueryLinks(ctx, store.QueryLinksParams{LinkType: li.linkType, LinkQualifier: q, FirstID: firstID, SecondID: secondID},
			func(l store.Link) error {
				li.mu.Lock()
				li.index(&l)
				li.mu.Unlock()
				return nil
			})
		if err != nil {
			return err
		}
	}
	return nil
}

// oneByOne is a sync's target set: every target it reads has its links
// read too (so that FOUND and FOUND_ALREADY_LINKED are told apart
// without reading every link), and it hides a set's batch creates.
type oneByOne struct {
	connector.ObjectSet
	links      *linkIndex
	qualifiers []string
}

func (o oneByOne) Read(ctx context.Context, id string) (connector.Object, error) {
	obj, err := o.ObjectSet.Read(ctx, id)
	if err == nil {
		err = o.links.loadTarget(ctx, o.qualifiers, id)
	}
	return obj, err
}

func (o oneByOne) Query(ctx context.Context, q connector.Query, fn func(connector.Object) error) error {
	return o.ObjectSet.Query(ctx, q, func(obj connector.Object) error {
		if err := o.links.loadTarget(ctx, o.qualifiers, idOf(obj)); err != nil {
			return err
		}
		return fn(obj)
	})
}

// AuditSyncType is where audit/sync entries are kept: objects of an
// internal type of the objects store, whose ids (UUIDv7) order them by
// the time they were written.
const AuditSyncType = "audit:sync"

// auditSync stores the audit/sync entry of one mapping × qualifier.
func (s *Service) auditSync(ctx context.Context, mr *mappingRun, e *entry, c *Change, err error, n Notification) {
	objs, oerr := store.ObjectsOf(s.cfg.Store)
	if oerr != nil {
		return
	}
	action, targetID := e.action, e.targetID
	if c != nil {
		action, targetID = c.Action, c.TargetID
	}
	a := map[string]any{"eventName": "sync", "transactionId": mr.r.ID, "timestamp": s.cfg.Now().UTC().Format(time.RFC3339Nano),
		"userId": n.InitiatedBy, "mapping": mr.m.Name, "situation": e.situation, "action": action, "linkQualifier": e.qualifier,
		"sourceObjectId": qualified(mr.m.Source, e.sourceID), "targetObjectId": qualified(mr.m.Target, targetID),
		"status": statusOf(err == nil), "message": nil, "exception": nil}
	if err != nil {
		a["message"], a["exception"] = err.Error(), err.Error()
	}
	if len(e.ambiguous) > 0 {
		a["ambiguousTargetObjectIds"] = e.ambiguous
	}
	// No id: the store makes a version 7 UUID, which orders the entries by
	// time for the retention.
	if _, werr := objs.CreateObjects(store.WithDeferredSync(context.WithoutCancel(ctx)), store.CreateObjectsParams{Type: AuditSyncType,
		Objects: []store.NewObject{{Content: a}}}); werr != nil {
		s.cfg.Logger.Warn("recording an audit/sync entry failed", "mapping", mr.m.Name, "err", werr)
	}
}

// SyncAudit returns the stored audit/sync entries of a mapping ("" for
// all), in no particular order.
func (s *Service) SyncAudit(ctx context.Context, mapping string) ([]map[string]any, error) {
	objs, err := store.ObjectsOf(s.cfg.Store)
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	cookie := ""
	for {
		page, err := objs.QueryObjects(ctx, store.QueryObjectsParams{Type: AuditSyncType, PageSize: 1000, Cookie: cookie})
		if err != nil {
			return nil, err
		}
		for _, o := range page.Objects {
			if mapping == "" || o.Content["mapping"] == mapping {
				out = append(out, o.Content)
			}
		}
		if cookie = page.Cookie; cookie == "" {
			return out, nil
		}
	}
}

// pendingLinks are the links a sync is about to make for the objects it
// creates, one per object in the order of the set's create call (IDM's
// pending link): the implicit sync of a created object sees its link
// before it is stored, so that the mapping going back to the creating
// mapping's source finds that source linked (CONFIRMED), not ABSENT.
type pendingLinks struct {
	linkType string
	items    []pendingLink
}

type pendingLink struct {
	qualifier string
	// other is the creating mapping's source id: the linked object of
	// the mapping going back.
	other string
}

type pendingKey struct{}

// pending marks ctx with the link a create of c will make.
func (mr *mappingRun) pending(ctx context.Context, c *Change) context.Context {
	if c.Link == nil {
		return ctx
	}
	return context.WithValue(ctx, pendingKey{}, &pendingLinks{linkType: mr.m.Links, items: []pendingLink{{c.LinkQualifier, c.SourceID}}})
}

// pendingBatch marks ctx with the links of a batch of creates.
func (mr *mappingRun) pendingBatch(ctx context.Context, batch []queued) context.Context {
	p := &pendingLinks{linkType: mr.m.Links, items: make([]pendingLink, len(batch))}
	for i, q := range batch {
		if q.c.Link != nil {
			p.items[i] = pendingLink{q.c.LinkQualifier, q.c.SourceID}
		}
	}
	return context.WithValue(ctx, pendingKey{}, p)
}

// pendingFor is the pending link of the i-th object created with ctx,
// if any, and ctx without the marks (the writes of the implicit sync
// make links of their own).
func pendingFor(ctx context.Context, i int) (pendingLink, string, context.Context) {
	p, _ := ctx.Value(pendingKey{}).(*pendingLinks)
	if p == nil {
		return pendingLink{}, "", ctx
	}
	ctx = context.WithValue(ctx, pendingKey{}, (*pendingLinks)(nil))
	if i >= len(p.items) || p.items[i].other == "" {
		return pendingLink{}, "", ctx
	}
	return p.items[i], p.linkType, ctx
}
