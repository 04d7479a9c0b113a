// Package sqlcommon holds what the SQL backends share regardless of dialect:
// the column lists of the store tables, the turning of scanned rows into
// store types, result assembly, the SQL fragments both dialects spell the
// same, and the checks and defaults of the params (check.go), so that both
// reject the same inputs with the same errors. Placeholders, locking and
// connection handling stay with each backend; the claim decision is in
// claimrule.
package sqlcommon

import (
	"errors"
	"fmt"
	"time"

	"sundial/engine/store"
	"sundial/engine/store/internal/claimrule"
)

// Column lists, in the order the Codec scans them.
const (
	TriggerCols = `schedule_id, definition, config_hash, state, paused, next_fire_at, prev_fire_at,
	times_triggered, last_node_id, revision, created_at, updated_at, data`
	RunCols = `id, schedule_id, scheduled_at, started_at, ended_at, node_id, status, error,
	recoverable, recovery, recovered_from, attempt`
	NodeCols = `id, state, started_at, first_seen_at, checked_in_at, reported_at, config_hash, info,
	recovered_at, recovered_by, instance`
)

// UpsertTriggerSQL is UpsertTriggers' statement for one trigger; values is
// the dialect's VALUES tuple for (schedule_id, definition, config_hash,
// state, paused, next_fire_at, 1, created_at, updated_at, data). A row is
// returned unless the stored config hash is the same.
func UpsertTriggerSQL(values string) string {
	return `INSERT INTO triggers
			(schedule_id, definition, config_hash, state, paused, next_fire_at, revision, created_at, updated_at, data)
			VALUES ` + values + `
			ON CONFLICT (schedule_id) DO UPDATE SET
				definition = excluded.definition,
				config_hash = excluded.config_hash,
				data = excluded.data,
				next_fire_at = excluded.next_fire_at,
				state = CASE WHEN triggers.state = 'blocked' AND excluded.state = 'waiting' THEN 'blocked' ELSE excluded.state END,
				revision = triggers.revision + 1,
				updated_at = excluded.updated_at
			WHERE triggers.config_hash <> excluded.config_hash
			RETURNING ` + TriggerCols
}

// CheckInSQL is CheckIn's upsert of a node row; values is the dialect's
// VALUES tuple for (id, 'active', started_at, first_seen_at, checked_in_at,
// reported_at, config_hash, info, instance), returning what follows RETURNING.
func CheckInSQL(values, returning string) string {
	return `INSERT INTO nodes
			(id, state, started_at, first_seen_at, checked_in_at, reported_at, config_hash, info, instance)
			VALUES ` + values + `
			ON CONFLICT (id) DO UPDATE SET
				state = 'active',
				started_at = COALESCE(excluded.started_at, nodes.started_at),
				checked_in_at = excluded.checked_in_at,
				reported_at = excluded.reported_at,
				config_hash = excluded.config_hash,
				info = excluded.info,
				instance = excluded.instance
			RETURNING ` + returning
}

// Scanner is a row: *sql.Row, *sql.Rows, pgx.Row, pgx.Rows.
type Scanner interface{ Scan(dest ...any) error }

// Rows is a result set being read.
type Rows interface {
	Scanner
	Next() bool
	Err() error
}

// Collect scans every remaining row of rows with scan. The caller closes
// rows.
func Collect[T any](rows Rows, scan func(Scanner) (T, error)) ([]T, error) {
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Index maps xs by key.
func Index[T any, K comparable](xs []T, key func(T) K) map[K]T {
	m := make(map[K]T, len(xs))
	for _, x := range xs {
		m[key(x)] = x
	}
	return m
}

// TriggerID and RunID are the keys of Index for triggers and runs.
func TriggerID(t store.Trigger) string { return t.ScheduleID }

// RunID is the key of a run.
func RunID(r store.Run) string { return r.ID }

// Upserted turns the outcome of UpsertTriggerSQL into a result: inserted at
// revision 1, updated after, unchanged (ok false, Trigger to be read) when
// no row came back, which is the driver's noRows.
func Upserted(t store.Trigger, err, noRows error) (res store.UpsertTriggerResult, ok bool, _ error) {
	switch {
	case err == nil && t.Revision == 1:
		return store.UpsertTriggerResult{Action: store.UpsertInserted, Trigger: t}, true, nil
	case err == nil:
		return store.UpsertTriggerResult{Action: store.UpsertUpdated, Trigger: t}, true, nil
	case errors.Is(err, noRows):
		return store.UpsertTriggerResult{Action: store.UpsertUnchanged}, false, nil
	}
	return res, false, err
}

// Codec turns a dialect's scanned columns into store types: T is its
// nullable time column, B its boolean column and S its nullable text column,
// each with its decoder.
type Codec[T, B, S any] struct {
	Time func(T) time.Time
	Bool func(B) bool
	Str  func(S) string
}

// Trigger scans TriggerCols.
func (c Codec[T, B, S]) Trigger(row Scanner) (store.Trigger, error) {
	var (
		t                        store.Trigger
		def, state, data         string
		paused                   B
		next, prev, created, upd T
		lastNode                 S
	)
	err := row.Scan(&t.ScheduleID, &def, &t.ConfigHash, &state, &paused, &next, &prev,
		&t.TimesTriggered, &lastNode, &t.Revision, &created, &upd, &data)
	if err != nil {
		return t, err
	}
	t.Definition = []byte(def)
	t.Data = []byte(data)
	t.State = store.TriggerState(state)
	t.Paused = c.Bool(paused)
	t.NextFireAt, t.PrevFireAt = c.Time(next), c.Time(prev)
	t.CreatedAt, t.UpdatedAt = c.Time(created), c.Time(upd)
	t.LastNodeID = c.Str(lastNode)
	claimrule.SetBlockingRunID(&t)
	return t, nil
}

// Run scans RunCols.
func (c Codec[T, B, S]) Run(row Scanner) (store.Run, error) {
	var (
		r                         store.Run
		status                    string
		scheduled, started, ended T
		recoverable, recovery     B
	)
	err := row.Scan(&r.ID, &r.ScheduleID, &scheduled, &started, &ended, &r.Node, &status, &r.Error,
		&recoverable, &recovery, &r.RecoveredFrom, &r.Attempt)
	if err != nil {
		return r, err
	}
	r.ScheduledAt, r.StartedAt, r.EndedAt = c.Time(scheduled), c.Time(started), c.Time(ended)
	r.Status = store.RunStatus(status)
	r.Recoverable, r.Recovery = c.Bool(recoverable), c.Bool(recovery)
	return r, nil
}

// Node scans NodeCols followed by extra; now, called after the scan, is the
// database's clock that SinceCheckIn is measured by.
func (c Codec[T, B, S]) Node(row Scanner, now func() time.Time, extra ...any) (store.Node, error) {
	var (
		n                                      store.Node
		state, info                            string
		started, first, checked, reported, rec T
	)
	dest := append([]any{&n.ID, &state, &started, &first, &checked, &reported, &n.ConfigHash, &info, &rec, &n.RecoveredBy, &n.Instance}, extra...)
	if err := row.Scan(dest...); err != nil {
		return n, err
	}
	n.State = store.NodeState(state)
	n.StartedAt, n.FirstSeenAt = c.Time(started), c.Time(first)
	n.CheckedInAt, n.ReportedAt, n.RecoveredAt = c.Time(checked), c.Time(reported), c.Time(rec)
	n.Info = []byte(info)
	n.Skew = n.ReportedAt.Sub(n.CheckedInAt)
	n.SinceCheckIn = now().Sub(n.CheckedInAt)
	return n, nil
}

// InsertRun is the head of an INSERT of new runs, up to the values.
const InsertRun = `INSERT INTO runs
			(id, schedule_id, scheduled_at, started_at, ended_at, node_id, status, error, recoverable)`

// AddIDs reads rows of one text column (the ids an INSERT ... RETURNING id
// wrote) into set.
func AddIDs(rows Rows, set map[string]bool) error {
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		set[id] = true
	}
	return rows.Err()
}

// LinksOfChunk is how many ids one LinksOf statement compares.
const LinksOfChunk = 500

// LinksOfColumn is the id column LinksOf compares ("first_id" or
// "second_id") and the ids it compares it with (none: no link).
func LinksOfColumn(p store.LinksOfParams) (string, []string, error) {
	switch {
	case len(p.FirstIDs) > 0 && len(p.SecondIDs) > 0:
		return "", nil, fmt.Errorf("%w: links of %s: FirstIDs and SecondIDs both set", store.ErrInvalid, p.LinkType)
	case len(p.SecondIDs) > 0:
		return "second_id", p.SecondIDs, nil
	default:
		return "first_id", p.FirstIDs, nil
	}
}

// Each calls fn with each remaining row of rows, read by scan, until fn
// fails; fn's error is returned as is, a scan's or the read's wrapped
// with what. The caller closes rows.
func Each[T any](rows Rows, what string, scan func(Scanner) (T, error), fn func(T) error) error {
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// ScanLink reads a link's id, link_type, link_qualifier, first_id and
// second_id.
func ScanLink(row Scanner) (store.Link, error) {
	l := store.Link{Rev: "1"}
	err := row.Scan(&l.ID, &l.LinkType, &l.LinkQualifier, &l.FirstID, &l.SecondID)
	return l, err
}

// LinkOfScanner reads LinksOf's rows (id, first_id, second_id), links of
// p's type and qualifier.
func LinkOfScanner(p store.LinksOfParams) func(Scanner) (store.Link, error) {
	return func(row Scanner) (store.Link, error) {
		l := store.Link{Rev: "1", LinkType: p.LinkType, LinkQualifier: p.LinkQualifier}
		err := row.Scan(&l.ID, &l.FirstID, &l.SecondID)
		return l, err
	}
}

// ReconEntryScanner reads ReadReconEntries' rows (seq, doc as text),
// entries of p's run and kind.
func ReconEntryScanner(p store.ReadReconEntriesParams) func(Scanner) (store.ReconEntry, error) {
	return func(row Scanner) (store.ReconEntry, error) {
		e := store.ReconEntry{ReconID: p.ReconID, Kind: p.Kind}
		var doc string
		err := row.Scan(&e.Seq, &doc)
		e.Doc = []byte(doc)
		return e, err
	}
}
