package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"sundial/engine/api"
	"sundial/engine/api/crest"
	"sundial/engine/query"
	"sundial/engine/store"
	"sundial/engine/sync"
)

// audits serves /openidm/audit from the store: audit/recon entries are
// the recon runs' audit entries (kept and pruned with the runs),
// audit/sync entries the objects of sync.AuditSyncType, audit/activity
// entries those of sync.AuditActivityType.
type audits struct{ d *Daemon }

var _ api.Audits = audits{}

func (a audits) recons() (store.Recons, error) {
	if a.d.opts.DB == nil {
		return nil, crest.Errorf(http.StatusServiceUnavailable, "The audit needs the store (run with a database)")
	}
	return store.ReconsOf(a.d.opts.DB)
}

// reconEntryID is an audit/recon entry's _id: its run's id and its
// sequence number, zero-padded so that _id order is a run's order.
func reconEntryID(reconID string, seq int64) string {
	return fmt.Sprintf("%s-%010d", reconID, seq)
}

// reconEntryResource is a stored audit/recon entry as a resource.
func reconEntryResource(e store.ReconEntry) (crest.Resource, error) {
	d := json.NewDecoder(bytes.NewReader(e.Doc))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return crest.Resource{}, fmt.Errorf("audit entry %d of recon %s: %w", e.Seq, e.ReconID, err)
	}
	return crest.Resource{ID: reconEntryID(e.ReconID, e.Seq), Fields: m}, nil
}

// ReconEntries streams the audit entries of one run, or of every kept
// run, oldest run first; an unknown run has none.
func (a audits) ReconEntries(ctx context.Context, reconID string, fn func(crest.Resource) error) error {
	rs, err := a.recons()
	if err != nil {
		return err
	}
	ids := []string{reconID}
	if reconID == "" {
		runs, err := rs.ListReconRuns(ctx)
		if err != nil {
			return err
		}
		ids = ids[:0]
		for _, run := range runs {
			ids = append(ids, run.ID)
		}
	}
	for _, id := range ids {
		err := rs.ReadReconEntries(ctx, store.ReadReconEntriesParams{ReconID: id, Kind: store.ReconAudit}, func(e store.ReconEntry) error {
			res, err := reconEntryResource(e)
			if err != nil {
				return err
			}
			return fn(res)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// errFound ends a read once the entry sought is found.
var errFound = errors.New("found")

// ReconEntry reads one audit/recon entry by its _id.
func (a audits) ReconEntry(ctx context.Context, id string) (crest.Resource, error) {
	rs, err := a.recons()
	if err != nil {
		return crest.Resource{}, err
	}
	notFound := crest.NotFound("Audit entry audit/recon/%s not found", id)
	cut := strings.LastIndexByte(id, '-')
	if cut < 0 {
		return crest.Resource{}, notFound
	}
	reconID := id[:cut]
	seq, err := strconv.ParseInt(id[cut+1:], 10, 64)
	if err != nil || reconEntryID(reconID, seq) != id {
		return crest.Resource{}, notFound
	}
	var out crest.Resource
	err = rs.ReadReconEntries(ctx, store.ReadReconEntriesParams{ReconID: reconID, Kind: store.ReconAudit}, func(e store.ReconEntry) error {
		if e.Seq != seq {
			return nil
		}
		res, err := reconEntryResource(e)
		if err != nil {
			return err
		}
		out = res
		return errFound
	})
	switch {
	case errors.Is(err, errFound):
		return out, nil
	case err != nil:
		return crest.Resource{}, err
	}
	return crest.Resource{}, notFound
}

// SyncEntries is the objects store that holds the audit/sync entries.
func (a audits) SyncEntries() (store.Objects, string, error) {
	if a.d.opts.DB == nil {
		return nil, "", crest.Errorf(http.StatusServiceUnavailable, "The audit needs the store (run with a database)")
	}
	objs, err := store.ObjectsOf(a.d.opts.DB)
	if err != nil {
		return nil, "", err
	}
	return objs, sync.AuditSyncType, nil
}

// mountAudit serves /openidm/audit and /openidm/repo on mux.
func (d *Daemon) mountAudit(mux *http.ServeMux) {
	h := api.NewAudit(api.AuditOptions{Audits: audits{d}, Auth: d.auth, Logger: d.log})
	mux.Handle("/openidm/audit/", h)
	mux.Handle("/openidm/repo/", api.NewRepo(api.RepoOptions{Repo: repoCollections{d}, Auth: d.auth, Logger: d.log}))
}

// ActivityEntries is the objects store that holds the audit/activity
// entries.
func (a audits) ActivityEntries() (store.Objects, string, error) {
	objs, _, err := a.SyncEntries()
	return objs, sync.AuditActivityType, err
}

// activityEnabled says whether the applied boot properties record
// audit/activity entries (sync.ActivityEnabledProperty).
func (d *Daemon) activityEnabled() bool {
	cur := d.current.Load()
	return cur == nil || sync.ActivityEnabled(cur.Properties)
}

// retainedAudit is an audit kept as objects of one internal type of the
// objects store, whose UUIDv7 ids order them by time, and the boot
// properties that bound it: <prefix>.maxentries, how many of the newest
// entries are kept (negative: any number), and <prefix>.maxage (a Go
// duration, "720h"), beyond which they go (unset: any age).
type retainedAudit struct {
	// Name is the audit's, for the logs: "audit/sync".
	Name string
	// Type is the entries' object type.
	Type string
	// Properties is the boot properties' prefix: "openidm.audit.sync".
	Properties string
}

// The audits the retention pass prunes.
var retainedAudits = []retainedAudit{
	{Name: "audit/sync", Type: sync.AuditSyncType, Properties: "openidm.audit.sync"},
	{Name: "audit/activity", Type: sync.AuditActivityType, Properties: "openidm.audit.activity"},
}

// DefaultAuditMaxEntries is how many entries of audit/sync and of
// audit/activity are kept without their maxentries property.
const DefaultAuditMaxEntries = 100_000

// auditRetention is a's bound in the applied boot properties: the entries
// kept (negative: any number) and the age beyond which they go (zero: any
// age).
func (d *Daemon) auditRetention(a retainedAudit) (maxEntries int, maxAge time.Duration) {
	maxEntries = DefaultAuditMaxEntries
	cur := d.current.Load()
	if cur == nil {
		return maxEntries, 0
	}
	entriesProp, ageProp := a.Properties+".maxentries", a.Properties+".maxage"
	if v := cur.Properties[entriesProp]; v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			maxEntries = n
		} else {
			d.log.Warn("ignoring a boot property that is not an integer", "property", entriesProp, "value", v)
		}
	}
	if v := cur.Properties[ageProp]; v != "" {
		if age, err := time.ParseDuration(v); err == nil && age > 0 {
			maxAge = age
		} else {
			d.log.Warn("ignoring a boot property that is not a positive duration", "property", ageProp, "value", v)
		}
	}
	return maxEntries, maxAge
}

// pruneAudits deletes, of each retained audit, the entries beyond the
// newest maxentries and those older than maxage, oldest first (their ids
// are time-ordered), in batches of pruneBatch. A store error ends an
// audit's pass (logged); the next pass retries.
func (d *Daemon) pruneAudits(ctx context.Context, db store.Store) {
	objs, err := store.ObjectsOf(db)
	if err != nil {
		return
	}
	for _, a := range retainedAudits {
		maxEntries, maxAge := d.auditRetention(a)
		deleted, err := d.pruneAuditBy(ctx, objs, a.Type, maxEntries, maxAge)
		if err != nil && ctx.Err() == nil {
			d.log.LogAttrs(ctx, slog.LevelWarn, "prune "+a.Name+" entries", slog.Any("error", err))
		}
		if deleted > 0 {
			d.log.LogAttrs(ctx, slog.LevelDebug, "pruned "+a.Name+" entries", slog.Int("entries", deleted),
				slog.Int("maxEntries", maxEntries), slog.Duration("maxAge", maxAge))
		}
	}
}

func (d *Daemon) pruneAuditBy(ctx context.Context, objs store.Objects, typ string, maxEntries int, maxAge time.Duration) (int, error) {
	deleted := 0
	if maxAge > 0 {
		cutoff := d.opts.Clock.Now().Add(-maxAge).UTC().Format(time.RFC3339Nano)
		older := &query.Comparison{Field: query.Pointer{Tokens: []string{"timestamp"}}, Operator: query.OpLess,
			Value: query.Value{Kind: query.KindString, Str: cutoff}}
		for ctx.Err() == nil {
			n, err := deleteAudit(ctx, objs, typ, older, pruneBatch)
			deleted += n
			if err != nil || n < pruneBatch {
				if err != nil {
					return deleted, err
				}
				break
			}
		}
	}
	if maxEntries < 0 {
		return deleted, nil
	}
	count, err := objs.QueryObjects(ctx, store.QueryObjectsParams{Type: typ, PageSize: 1, CountTotal: true})
	if err != nil {
		return deleted, err
	}
	for excess := count.Total - maxEntries; excess > 0 && ctx.Err() == nil; {
		n, err := deleteAudit(ctx, objs, typ, nil, min(excess, pruneBatch))
		deleted += n
		excess -= n
		if err != nil || n == 0 {
			return deleted, err
		}
	}
	return deleted, nil
}

// deleteAudit deletes up to limit of the oldest entries of type typ that
// match filter (nil: any) and returns how many it deleted; an entry
// another node deleted meanwhile is not counted.
func deleteAudit(ctx context.Context, objs store.Objects, typ string, filter query.Filter, limit int) (int, error) {
	page, err := objs.QueryObjects(ctx, store.QueryObjectsParams{Type: typ, Filter: filter, PageSize: limit})
	if err != nil || len(page.Objects) == 0 {
		return 0, err
	}
	units := make([]store.ObjectUnit, len(page.Objects))
	for i, o := range page.Objects {
		units[i] = store.ObjectUnit{Writes: []store.ObjectWrite{{Type: typ, ID: o.ID, Rev: o.Rev}}}
	}
	errs, err := objs.CommitObjectUnits(ctx, store.CommitObjectUnitsParams{Units: units})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range errs {
		if e == nil {
			n++
		}
	}
	return n, nil
}

// repoCollections serves /openidm/repo: liveSync's stages and dead-letter
// queues, kept in the objects store.
type repoCollections struct{ d *Daemon }

var _ api.Repo = repoCollections{}

func (rc repoCollections) Collection(path string) (store.Objects, string, bool, error) {
	typ, ok := sync.RepoType(path)
	if !ok {
		return nil, "", false, nil
	}
	if rc.d.opts.DB == nil {
		return nil, "", false, crest.Errorf(http.StatusServiceUnavailable, "The repo needs the store (run with a database)")
	}
	objs, err := store.ObjectsOf(rc.d.opts.DB)
	if err != nil {
		return nil, "", false, err
	}
	return objs, typ, true, nil
}
