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
		mr.touch(c.TargetID)
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
		if e.link != nil && e.link.ID == c.Unlink.LinkID {
			mr.links.unstored(e.links, e.link)
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
			if e.link != nil && e.link.ID == c.Link.Replaces {
				mr.links.unstored(e.links, e.link)
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
		mr.links.stored(e.links, res[0].Link)
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
	mr.links.settle = true
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

// linkIndex is a mapping's view of its links. It holds the links this
// run made or removed (nil) that the store may not hold yet, and the
// links a sync of one object read (loadSource, loadTarget). A
// reconciliation reads its other links from the store a batch of objects
// at a time (a linkBatch), so that it holds none for long: its memory does
// not grow with the number of links (IDM's prefetchLinks, per batch).
type linkIndex struct {
	s        *Service
	linkType string
	// reversed: the links belong to a mapping going the other way, so
	// firstId is this mapping's target id.
	reversed       bool
	lowerS, lowerT bool
	enabled        bool
	// settle: a link the store has written or removed is forgotten (a
	// reconciliation's; a sync of one object keeps what it read).
	settle       bool
	mu           stdsync.Mutex
	bySrc, byTgt map[string]map[string]*store.Link
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

// linkBatch holds the links of a batch of objects, read together from the
// store: of source ids in the source phase, of target ids in the target
// phase. A lookup by the other end reads the store.
type linkBatch struct {
	byTarget bool
	mu       stdsync.Mutex
	links    map[string]map[string]*store.Link // qualifier → key → link
}

func (b *linkBatch) get(q, key string) *store.Link {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.links[q][key]
}

func (b *linkBatch) set(q, key string, l *store.Link) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if l == nil {
		delete(b.links[q], key)
		return
	}
	if b.links[q] == nil {
		b.links[q] = map[string]*store.Link{}
	}
	b.links[q][key] = l
}

// readBatch reads the links of the ids of a phase's objects (source ids
// in the "source" phase, target ids in the "target" phase) in each
// qualifier.
func (li *linkIndex) readBatch(ctx context.Context, qualifiers, ids []string, phase string) (*linkBatch, error) {
	byTarget := phase == "target"
	b := &linkBatch{byTarget: byTarget, links: map[string]map[string]*store.Link{}}
	if !li.enabled || len(ids) == 0 {
		return b, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		if byTarget {
			keys[i] = li.tgtKey(id)
		} else {
			keys[i] = li.srcKey(id)
		}
	}
	for _, q := range qualifiers {
		p := store.LinksOfParams{LinkType: li.linkType, LinkQualifier: q}
		if byTarget != li.reversed {
			p.SecondIDs = keys
		} else {
			p.FirstIDs = keys
		}
		m := map[string]*store.Link{}
		err := li.s.recons.LinksOf(ctx, p, func(l store.Link) error {
			// The link type and qualifier are shared, not one copy per link.
			l.LinkType, l.LinkQualifier = li.linkType, q
			if byTarget {
				m[li.tgtKey(li.targetOf(&l))] = &l
			} else {
				m[li.srcKey(li.sourceOf(&l))] = &l
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		b.links[q] = m
	}
	return b, nil
}

// sourceLink is the link of the source id in qualifier q: this run's
// own, else the batch's (b read by source ids; nil: none).
func (li *linkIndex) sourceLink(b *linkBatch, q, id string) *store.Link {
	if !li.enabled {
		return nil
	}
	key := li.srcKey(id)
	li.mu.Lock()
	l, ok := li.bySrc[q][key]
	li.mu.Unlock()
	if ok || b == nil || b.byTarget {
		return l
	}
	return b.get(q, key)
}

// bySource is the link of a source the index holds.
func (li *linkIndex) bySource(q, id string) *store.Link { return li.sourceLink(nil, q, id) }

// targetLink is the link of the target id in qualifier q: this run's
// own, else the batch's (b read by target ids), else the store's when the
// index settles, else none.
func (li *linkIndex) targetLink(ctx context.Context, b *linkBatch, q, id string) (*store.Link, error) {
	if !li.enabled {
		return nil, nil
	}
	key := li.tgtKey(id)
	li.mu.Lock()
	l, ok := li.byTgt[q][key]
	li.mu.Unlock()
	switch {
	case ok:
		return l, nil
	case b != nil && b.byTarget:
		return b.get(q, key), nil
	case !li.settle:
		return nil, nil
	}
	p := store.QueryLinksParams{LinkType: li.linkType, LinkQualifier: q, SecondID: key}
	if li.reversed {
		p.FirstID, p.SecondID = key, ""
	}
	err := li.s.recons.QueryLinks(ctx, p, func(found store.Link) error {
		l = &found
		return nil
	})
	return l, err
}

func (li *linkIndex) index(l *store.Link) {
	li.indexAt(l.LinkQualifier, li.srcKey(li.sourceOf(l)), li.tgtKey(li.targetOf(l)), l)
}

// indexAt records l (nil: removed) under a source and a target key.
func (li *linkIndex) indexAt(q, srcKey, tgtKey string, l *store.Link) {
	if li.bySrc[q] == nil {
		li.bySrc[q] = map[string]*store.Link{}
		li.byTgt[q] = map[string]*store.Link{}
	}
	if srcKey != "" {
		li.bySrc[q][srcKey] = l
	}
	if tgtKey != "" {
		li.byTgt[q][tgtKey] = l
	}
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

// put records a link (id "" while only planned), in place of the source's
// previous one (looked up in b too), whose target is then unlinked.
func (li *linkIndex) put(b *linkBatch, q, src, tgt, id string) {
	if !li.enabled {
		return
	}
	old := li.sourceLink(b, q, src)
	l := li.newLink(q, src, tgt)
	l.ID = id
	li.mu.Lock()
	defer li.mu.Unlock()
	if old != nil && li.tgtKey(li.targetOf(old)) != li.tgtKey(tgt) {
		li.indexAt(q, "", li.tgtKey(li.targetOf(old)), nil)
	}
	li.index(&l)
}

// remove records that a link is gone, or is to go, unless its source or
// target has another link of this run already.
func (li *linkIndex) remove(q string, l *store.Link) {
	if l == nil {
		return
	}
	li.mu.Lock()
	defer li.mu.Unlock()
	sk, tk := li.srcKey(li.sourceOf(l)), li.tgtKey(li.targetOf(l))
	if cur := li.bySrc[q][sk]; cur != nil && cur != l && cur.ID != l.ID {
		sk = ""
	}
	if cur := li.byTgt[q][tk]; cur != nil && cur != l && cur.ID != l.ID {
		tk = ""
	}
	li.indexAt(q, sk, tk, nil)
}

// batchKey is l's key in b: its target's when b was read by target ids.
func (li *linkIndex) batchKey(b *linkBatch, l *store.Link) string {
	if b.byTarget {
		return li.tgtKey(li.targetOf(l))
	}
	return li.srcKey(li.sourceOf(l))
}

// stored: the store now holds l, made by this run for an entry of batch
// b. A settling index forgets it (a lookup reads the store, or b).
func (li *linkIndex) stored(b *linkBatch, l store.Link) {
	if !li.settle {
		li.put(b, l.LinkQualifier, li.sourceOf(&l), li.targetOf(&l), l.ID)
		return
	}
	q, sk, tk := l.LinkQualifier, li.srcKey(li.sourceOf(&l)), li.tgtKey(li.targetOf(&l))
	if b != nil {
		b.set(q, li.batchKey(b, &l), &l)
	}
	li.mu.Lock()
	defer li.mu.Unlock()
	if cur, ok := li.bySrc[q][sk]; ok && cur != nil && li.tgtKey(li.targetOf(cur)) == tk {
		delete(li.bySrc[q], sk)
	}
	if cur, ok := li.byTgt[q][tk]; ok && cur != nil && li.srcKey(li.sourceOf(cur)) == sk {
		delete(li.byTgt[q], tk)
	}
}

// unstored: the store no longer holds l, removed by this run for an
// entry of batch b. A settling index forgets that it is gone.
func (li *linkIndex) unstored(b *linkBatch, l *store.Link) {
	if !li.settle || l == nil {
		return
	}
	q, sk, tk := l.LinkQualifier, li.srcKey(li.sourceOf(l)), li.tgtKey(li.targetOf(l))
	if b != nil {
		if cur := b.get(q, li.batchKey(b, l)); cur != nil && cur.ID == l.ID {
			b.set(q, li.batchKey(b, l), nil)
		}
	}
	li.mu.Lock()
	defer li.mu.Unlock()
	if cur, ok := li.bySrc[q][sk]; ok && cur == nil {
		delete(li.bySrc[q], sk)
	}
	if cur, ok := li.byTgt[q][tk]; ok && cur == nil {
		delete(li.byTgt[q], tk)
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
		mr.touch(q.c.TargetID)
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
				mr.links.stored(batch[i].e.links, res[j].Link)
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
