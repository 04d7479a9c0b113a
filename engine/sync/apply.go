package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	stdsync "sync"

	"sundial/engine/config"
	"sundial/engine/connector"
	"sundial/engine/store"
)

// apply performs a change: the hooks of the action, the target's write
// (revision-checked), then the link's. e holds the objects the hooks see;
// ApplyPlan reads them again.
func (mr *mappingRun) apply(ctx context.Context, c *Change, e *entry) error {
	if c.Error != "" && c.Action == ActException {
		return nil // recorded, changes nothing
	}
	st := mr.s.recons
	// The run's last record is a durable commit, which makes these too.
	ctx = store.WithDeferredSync(ctx)
	if c.Unlink != nil && mr.m.OnUnlink != nil {
		if _, err := mr.run(ctx, mr.m.OnUnlink, mr.hookScope(e, e.target, nil)); err != nil {
			return fmt.Errorf("onUnlink: %w", err)
		}
	}
	switch {
	case c.Create != nil:
		obj, err := mr.target.Create(mr.pending(ctx, c), c.TargetID, c.Create)
		if err != nil {
			return fmt.Errorf("create the target: %w", err)
		}
		c.TargetID = idOf(obj)
		mr.countOne(func(n *Counts) { n.Created++ })
	case c.Update != nil:
		_, err := mr.target.Update(ctx, c.TargetID, c.Update.Rev, c.Update.Object)
		if errors.Is(err, connector.ErrConflict) {
			return fmt.Errorf("update the target %s: it changed since it was read (revision %s): %w", c.TargetID, c.Update.Rev, err)
		}
		if err != nil {
			return fmt.Errorf("update the target %s: %w", c.TargetID, err)
		}
		mr.countOne(func(n *Counts) { n.Updated++ })
	case c.Delete != nil:
		if mr.m.OnDelete != nil {
			if _, err := mr.run(ctx, mr.m.OnDelete, mr.hookScope(e, e.target, nil)); err != nil {
				return fmt.Errorf("onDelete: %w", err)
			}
		}
		err := mr.target.Delete(ctx, c.TargetID, c.Delete.Rev)
		if errors.Is(err, connector.ErrConflict) {
			return fmt.Errorf("delete the target %s: it changed since it was read (revision %s): %w", c.TargetID, c.Delete.Rev, err)
		}
		if err != nil && !errors.Is(err, connector.ErrNotFound) {
			return fmt.Errorf("delete the target %s: %w", c.TargetID, err)
		}
		mr.countOne(func(n *Counts) { n.Deleted++ })
	}
	if c.Unlink != nil {
		if _, err := st.DeleteLinks(ctx, []string{c.Unlink.LinkID}); err != nil {
			return fmt.Errorf("unlink: %w", err)
		}
		mr.countOne(func(n *Counts) { n.Unlinked++ })
	}
	if c.Link != nil {
		if mr.m.OnLink != nil {
			e.targetID = c.TargetID
			if _, err := mr.run(ctx, mr.m.OnLink, mr.hookScope(e, e.target, nil)); err != nil {
				return fmt.Errorf("onLink: %w", err)
			}
		}
		if c.Link.Replaces != "" {
			if _, err := st.DeleteLinks(ctx, []string{c.Link.Replaces}); err != nil {
				return fmt.Errorf("replace the link: %w", err)
			}
		}
		l := mr.links.newLink(c.LinkQualifier, c.SourceID, c.TargetID)
		res, err := st.CreateLinks(ctx, []store.Link{l})
		if err == nil {
			err = res[0].Err
		}
		if err != nil {
			return fmt.Errorf("link: %w", err)
		}
		mr.links.put(c.LinkQualifier, c.SourceID, c.TargetID, res[0].Link.ID)
		mr.countOne(func(n *Counts) { n.Linked++ })
	}
	if mr.postAction(e) != nil {
		if _, err := mr.run(ctx, mr.postAction(e), map[string]any{"source": e.source, "target": e.target, "action": c.Action,
			"situation": c.Situation, "linkQualifier": c.LinkQualifier, "sourceAction": c.Phase == "source", "reconId": mr.r.ID}); err != nil {
			return fmt.Errorf("postAction: %w", err)
		}
	}
	return nil
}

// postAction is the entry's policy's postAction, or the situation's first
// policy's.
func (mr *mappingRun) postAction(e *entry) config.Script {
	if e.policy != nil {
		return e.policy.PostAction
	}
	for i := range mr.m.Policies {
		if mr.m.Policies[i].Situation == e.situation {
			return mr.m.Policies[i].PostAction
		}
	}
	return nil
}

func (mr *mappingRun) countOne(f func(*Counts)) {
	mr.r.mu.Lock()
	f(&mr.r.counts)
	mr.r.mu.Unlock()
}

// applyPlan applies the stored plan of the dry run reconID, entry by
// entry.
func (s *Service) applyPlan(ctx context.Context, r *Run, m *config.Mapping, reconID string) error {
	mr, err := s.prepare(ctx, r, m)
	if err != nil {
		return err
	}
	r.audit(ctx, s, map[string]any{"entryType": "start", "status": "SUCCESS", "message": "Applying the plan of reconciliation " + reconID})
	if err := mr.links.load(ctx); err != nil {
		return err
	}
	r.setStage("ACTIVE_APPLYING_PLAN")
	return s.recons.ReadReconEntries(ctx, store.ReadReconEntriesParams{ReconID: reconID, Kind: store.ReconPlan}, func(en store.ReconEntry) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		var c Change
		if err := json.Unmarshal(en.Doc, &c); err != nil {
			return fmt.Errorf("plan entry %d: %w", en.Seq, err)
		}
		if c.Error != "" && c.Action != ActException {
			return nil // failed when planned: nothing to apply
		}
		e := &entry{phase: c.Phase, qualifier: c.LinkQualifier, sourceID: c.SourceID, targetID: c.TargetID, situation: c.Situation, action: c.Action}
		if mr.needsObjects(&c) {
			if c.SourceID != "" {
				e.source, _ = mr.source.Read(ctx, c.SourceID)
			}
			if c.TargetID != "" {
				e.target, _ = mr.target.Read(ctx, c.TargetID)
			}
		}
		for i := range m.Policies {
			if m.Policies[i].Situation == c.Situation {
				e.policy = &m.Policies[i]
				break
			}
		}
		err := mr.apply(ctx, &c, e)
		mr.record(ctx, e, &c, err)
		return nil
	})
}

// needsObjects: the change runs hooks, which see the objects.
func (mr *mappingRun) needsObjects(c *Change) bool {
	m := mr.m
	return (c.Unlink != nil && m.OnUnlink != nil) || (c.Delete != nil && m.OnDelete != nil) || (c.Link != nil && m.OnLink != nil) ||
		len(m.Policies) > 0
}

// linkIndex holds a mapping's links in memory (IDM's prefetchLinks),
// per qualifier, by source id and by target id.
type linkIndex struct {
	s        *Service
	linkType string
	// reversed: the links belong to a mapping going the other way, so
	// firstId is this mapping's target id.
	reversed       bool
	lowerS, lowerT bool
	mu             stdsync.Mutex
	bySrc, byTgt   map[string]map[string]*store.Link
	count          int
	enabled        bool
}

func newLinkIndex(s *Service, m *config.Mapping) *linkIndex {
	li := &linkIndex{s: s, linkType: m.Links, lowerS: !m.SourceIDsCaseSensitive, lowerT: !m.TargetIDsCaseSensitive,
		bySrc: map[string]map[string]*store.Link{}, byTgt: map[string]map[string]*store.Link{},
		enabled: m.EnableLinking}
	if m.Links != m.Name && s.cfg.Mappings != nil {
		for _, o := range s.cfg.Mappings() {
			if o.Name == m.Links && o.Source == m.Target && o.Target == m.Source && o.Source != o.Target {
				li.reversed = true
			}
		}
	}
	return li
}

func (li *linkIndex) load(ctx context.Context) error {
	if !li.enabled {
		return nil
	}
	li.mu.Lock()
	defer li.mu.Unlock()
	li.count = 0
	qualifiers := map[string]string{}
	return li.s.recons.QueryLinks(ctx, store.QueryLinksParams{LinkType: li.linkType}, func(l store.Link) error {
		// The link type and qualifiers are shared, not one copy per link.
		l.LinkType = li.linkType
		if q, ok := qualifiers[l.LinkQualifier]; ok {
			l.LinkQualifier = q
		} else {
			qualifiers[l.LinkQualifier] = l.LinkQualifier
		}
		li.index(&l)
		li.count++
		return nil
	})
}

func (li *linkIndex) index(l *store.Link) {
	src, tgt := l.FirstID, l.SecondID
	if li.reversed {
		src, tgt = tgt, src
	}
	if li.bySrc[l.LinkQualifier] == nil {
		li.bySrc[l.LinkQualifier] = map[string]*store.Link{}
		li.byTgt[l.LinkQualifier] = map[string]*store.Link{}
	}
	li.bySrc[l.LinkQualifier][li.srcKey(src)] = l
	li.byTgt[l.LinkQualifier][li.tgtKey(tgt)] = l
}

func (li *linkIndex) srcKey(id string) string {
	if li.lowerS {
		return lower(id)
	}
	return id
}

func (li *linkIndex) tgtKey(id string) string {
	if li.lowerT {
		return lower(id)
	}
	return id
}

func (li *linkIndex) bySource(q, id string) *store.Link {
	if !li.enabled {
		return nil
	}
	li.mu.Lock()
	defer li.mu.Unlock()
	return li.bySrc[q][li.srcKey(id)]
}

func (li *linkIndex) byTarget(q, id string) *store.Link {
	if !li.enabled {
		return nil
	}
	li.mu.Lock()
	defer li.mu.Unlock()
	return li.byTgt[q][li.tgtKey(id)]
}

func (li *linkIndex) sourceOf(l *store.Link) string {
	if li.reversed {
		return l.SecondID
	}
	return l.FirstID
}

func (li *linkIndex) targetOf(l *store.Link) string {
	if li.reversed {
		return l.FirstID
	}
	return l.SecondID
}

// newLink is the stored form of a link of this mapping.
func (li *linkIndex) newLink(q, src, tgt string) store.Link {
	src, tgt = li.srcKey(src), li.tgtKey(tgt)
	if li.reversed {
		src, tgt = tgt, src
	}
	return store.Link{LinkType: li.linkType, LinkQualifier: q, FirstID: src, SecondID: tgt}
}

// put records a link (id "" while only planned), replacing the source's
// and the target's previous ones.
func (li *linkIndex) put(q, src, tgt string, id ...string) {
	l := li.newLink(q, src, tgt)
	if len(id) > 0 {
		l.ID = id[0]
	}
	li.mu.Lock()
	defer li.mu.Unlock()
	if old := li.bySrc[q][li.srcKey(src)]; old != nil {
		delete(li.byTgt[q], li.tgtKey(li.targetOf(old)))
	}
	li.index(&l)
}

// remove forgets a link.
func (li *linkIndex) remove(q string, l *store.Link) {
	if l == nil {
		return
	}
	li.mu.Lock()
	defer li.mu.Unlock()
	if cur := li.bySrc[q][li.srcKey(li.sourceOf(l))]; cur == l || (cur != nil && cur.ID == l.ID) {
		delete(li.bySrc[q], li.srcKey(li.sourceOf(l)))
	}
	if cur := li.byTgt[q][li.tgtKey(li.targetOf(l))]; cur == l || (cur != nil && cur.ID == l.ID) {
		delete(li.byTgt[q], li.tgtKey(li.targetOf(l)))
	}
}

// errQueued marks an entry whose change waits in the batch of creates: it
// is recorded when the batch is written.
var errQueued = errors.New("queued")

// createBatch is how many creates are written in one transaction.
const createBatch = 500

// batchCreator is a set that creates many objects in one transaction.
type batchCreator interface {
	CreateMany(ctx context.Context, ids []string, objs []connector.Object) ([]connector.Object, []error, error)
}

type queued struct {
	e *entry
	c *Change
}

// batchable: a plain create (and its new link), with no hook to run
// between the two and a target set that writes many at once.
func (mr *mappingRun) batchable(c *Change, e *entry) bool {
	_, ok := mr.target.(batchCreator)
	return ok && c.Create != nil && c.Unlink == nil && (c.Link == nil || c.Link.Replaces == "") &&
		mr.m.OnLink == nil && mr.postAction(e) == nil
}

// enqueue queues a create; a full queue is written.
func (mr *mappingRun) enqueue(ctx context.Context, e *entry, c *Change) error {
	mr.queueMu.Lock()
	mr.queue = append(mr.queue, queued{e, c})
	full := len(mr.queue) >= createBatch
	mr.queueMu.Unlock()
	if full {
		if err := mr.flushCreates(ctx); err != nil {
			mr.s.cfg.Logger.Warn("writing a batch of creates failed", "recon", mr.r.ID, "err", err)
		}
	}
	return errQueued
}

// flushCreates writes the queued creates in one transaction and their
// links in another, and records each entry.
func (mr *mappingRun) flushCreates(ctx context.Context) error {
	mr.batchMu.Lock()
	defer mr.batchMu.Unlock()
	mr.queueMu.Lock()
	batch := mr.queue
	mr.queue = nil
	mr.queueMu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	// The batch is written even when the run was canceled meanwhile: its
	// links then match its objects.
	ctx = store.WithDeferredSync(context.WithoutCancel(ctx))
	ids, objs := make([]string, len(batch)), make([]connector.Object, len(batch))
	for i, q := range batch {
		ids[i], objs[i] = q.c.TargetID, q.c.Create
	}
	created, errs, err := mr.target.(batchCreator).CreateMany(mr.pendingBatch(ctx, batch), ids, objs)
	if err != nil {
		for _, q := range batch {
			mr.record(ctx, q.e, q.c, fmt.Errorf("create the target: %w", err))
		}
		return err
	}
	var links []store.Link
	var linked []int
	for i, q := range batch {
		if errs[i] != nil {
			continue
		}
		q.c.TargetID = idOf(created[i])
		mr.countOne(func(n *Counts) { n.Created++ })
		if q.c.Link != nil {
			links = append(links, mr.links.newLink(q.c.LinkQualifier, q.c.SourceID, q.c.TargetID))
			linked = append(linked, i)
		}
	}
	linkErrs := make([]error, len(batch))
	if len(links) > 0 {
		res, err := mr.s.recons.CreateLinks(ctx, links)
		for j, i := range linked {
			switch {
			case err != nil:
				linkErrs[i] = err
			case res[j].Err != nil:
				linkErrs[i] = res[j].Err
			default:
				q := batch[i]
				mr.links.put(q.c.LinkQualifier, q.c.SourceID, q.c.TargetID, res[j].Link.ID)
				mr.countOne(func(n *Counts) { n.Linked++ })
			}
		}
	}
	for i, q := range batch {
		switch {
		case errs[i] != nil:
			mr.record(ctx, q.e, q.c, fmt.Errorf("create the target: %w", errs[i]))
		case linkErrs[i] != nil:
			mr.record(ctx, q.e, q.c, fmt.Errorf("link: %w", linkErrs[i]))
		default:
			mr.record(ctx, q.e, q.c, nil)
		}
	}
	return nil
}
