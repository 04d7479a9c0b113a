package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Recons stores what synchronization keeps: the links between source and
// target objects (IDM's repo/link), and reconciliation runs with their
// plans and audit entries. Both backends implement it; ReconsOf finds it
// behind a Store.
//
// Errors wrap ErrNotFound, ErrConflict or ErrInvalid.
type Recons interface {
	// CreateLinks inserts links in one transaction, one result per item in
	// input order. An item that would make a second link of its
	// (LinkType, LinkQualifier) for its FirstID or for its SecondID, or
	// whose ID exists, has Err wrapping ErrConflict and is not written.
	// An item without an ID gets a new UUID (version 7: time-ordered).
	CreateLinks(ctx context.Context, links []Link) ([]CreateLinkResult, error)
	// DeleteLinks removes links by id in one transaction and returns how
	// many existed.
	DeleteLinks(ctx context.Context, ids []string) (int, error)
	// QueryLinks calls fn with each link of LinkType that matches the
	// other set fields, in id order, until fn fails.
	QueryLinks(ctx context.Context, params QueryLinksParams, fn func(Link) error) error
	// LinksOf calls fn with each link of LinkType and LinkQualifier whose
	// FirstID is one of FirstIDs, or whose SecondID is one of SecondIDs,
	// until fn fails. At most one of the two lists is set (ErrInvalid
	// otherwise); with neither there is no link. A reconciliation reads
	// the links of each batch of objects so, not every link at once.
	LinksOf(ctx context.Context, params LinksOfParams, fn func(Link) error) error

	// PutReconRun records a run, or replaces the record of its ID.
	PutReconRun(ctx context.Context, run ReconRun) error
	// ReadReconRun returns a run's record.
	ReadReconRun(ctx context.Context, id string) (ReconRun, error)
	// ListReconRuns returns every run's record, oldest start first.
	ListReconRuns(ctx context.Context) ([]ReconRun, error)
	// DeleteReconRuns removes the runs that ended before EndedBefore, but
	// not the KeepNewest newest of them, with their plans and audit
	// entries, and returns how many runs it removed.
	DeleteReconRuns(ctx context.Context, params DeleteReconRunsParams) (int, error)

	// AppendReconEntries stores plan or audit entries of runs.
	AppendReconEntries(ctx context.Context, entries []ReconEntry) error
	// ReadReconEntries calls fn with a run's entries of one kind, in Seq
	// order, until fn fails.
	ReadReconEntries(ctx context.Context, params ReadReconEntriesParams, fn func(ReconEntry) error) error
}

// Link is one link: the object FirstID of the defining mapping's source
// is the object SecondID of its target, for one link qualifier.
type Link struct {
	ID            string
	Rev           string // "1": links are created and deleted, never updated
	LinkType      string // the defining mapping's name
	LinkQualifier string
	FirstID       string
	SecondID      string
}

// CreateLinkResult is one item's outcome: Link as stored, or Err.
type CreateLinkResult struct {
	Link Link
	Err  error
}

// QueryLinksParams select links: LinkType is required; the others filter
// when not "".
type QueryLinksParams struct {
	LinkType      string
	LinkQualifier string
	FirstID       string
	SecondID      string
}

// LinksOfParams name links by one of their ends: the links of LinkType
// and LinkQualifier whose FirstID is one of FirstIDs, or whose SecondID
// is one of SecondIDs.
type LinksOfParams struct {
	LinkType      string
	LinkQualifier string
	FirstIDs      []string
	SecondIDs     []string
}

// ReconRun is the record of one reconciliation run.
type ReconRun struct {
	ID      string
	Mapping string
	// State is ACTIVE, SUCCESS, FAILED or CANCELED.
	State   string
	Started time.Time
	Ended   time.Time // zero while ACTIVE
	// Summary is the run's summary in IDM's shape.
	Summary json.RawMessage
}

// DeleteReconRunsParams bound the runs DeleteReconRuns keeps.
type DeleteReconRunsParams struct {
	EndedBefore time.Time
	KeepNewest  int
}

// Kinds of ReconEntry.
const (
	ReconPlan  = "plan"
	ReconAudit = "audit"
)

// ReconEntry is one entry of a run's plan or audit.
type ReconEntry struct {
	ReconID string
	Kind    string // ReconPlan or ReconAudit
	// Seq orders a run's entries of one kind; unique per (ReconID, Kind).
	Seq int64
	Doc json.RawMessage
}

// ReadReconEntriesParams name a run's entries of one kind.
type ReadReconEntriesParams struct {
	ReconID string
	Kind    string
}

// ReconsOf returns the synchronization store of s.
func ReconsOf(s Store) (Recons, error) {
	r, ok := s.(Recons)
	if !ok {
		return nil, fmt.Errorf("%w: the %T store does not hold links and recon runs", ErrInvalid, s)
	}
	return r, nil
}

// LinkConflict is the error of a link that a unique key refuses.
func LinkConflict(l Link) error {
	return fmt.Errorf("%w: link %s/%s of %s -> %s: the source or the target is linked already (or the id %s exists)",
		ErrConflict, l.LinkType, l.LinkQualifier, l.FirstID, l.SecondID, l.ID)
}
