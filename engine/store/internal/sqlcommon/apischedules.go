package sqlcommon

import (
	"bytes"
	"encoding/json"
	"sort"

	"sundial/engine/store"
)

// CheckPutAPISchedule checks PutAPISchedule's params and returns the body
// to store.
func CheckPutAPISchedule(p store.PutAPIScheduleParams) (string, error) {
	if err := ID("api schedule id", p.ID); err != nil {
		return "", err
	}
	if p.IfRev < store.MustNotExist {
		return "", store.Invalidf("api schedule %s: IfRev %d (want -1, 0 or a revision)", p.ID, p.IfRev)
	}
	body := bytes.TrimSpace(p.Body)
	if !json.Valid(body) || len(body) == 0 || body[0] != '{' {
		return "", store.Invalidf("api schedule %s: body is not a JSON object", p.ID)
	}
	return string(body), nil
}

// CheckDeleteAPISchedule checks DeleteAPISchedule's params.
func CheckDeleteAPISchedule(p store.DeleteAPIScheduleParams) error {
	if err := ID("api schedule id", p.ID); err != nil {
		return err
	}
	if p.IfRev < 0 {
		return store.Invalidf("api schedule %s: IfRev %d (want 0 or a revision)", p.ID, p.IfRev)
	}
	return nil
}

// RevConflict returns the refusal of a put or delete with IfRev given the
// stored row (found false: none), or nil when IfRev holds.
func RevConflict(id string, ifRev int64, cur store.APISchedule, found bool) error {
	ok := ifRev == store.AnyRev ||
		(ifRev == store.MustNotExist && !found) ||
		(ifRev > 0 && found && cur.Rev == ifRev)
	if ok {
		return nil
	}
	if !found {
		cur = store.APISchedule{}
	}
	return &store.APIScheduleConflictError{ID: id, IfRev: ifRev, Current: cur}
}

// ChangesLimit is ChangesParams.Limit with its default.
func ChangesLimit(n int) int {
	if n <= 0 {
		return store.DefaultChangesLimit
	}
	return n
}

// PruneLimit is a prune call's Limit with its default.
func PruneLimit(n int) int {
	if n <= 0 {
		return store.DefaultPruneLimit
	}
	return n
}

// APIScheduleCols is the column list the Codec's APISchedule scans.
const APIScheduleCols = `id, body, rev, created_at, updated_at`

// ChangeCols is the column list the Codec's Change scans.
const ChangeCols = `seq, kind, schedule_id, at`

// APISchedule scans one api_schedules row.
func (c Codec[T, B, S]) APISchedule(row Scanner) (store.APISchedule, error) {
	var a store.APISchedule
	var body string
	var created, updated T
	if err := row.Scan(&a.ID, &body, &a.Rev, &created, &updated); err != nil {
		return store.APISchedule{}, err
	}
	a.Body = json.RawMessage(body)
	a.CreatedAt, a.UpdatedAt = c.Time(created), c.Time(updated)
	return a, nil
}

// Change scans one changes row.
func (c Codec[T, B, S]) Change(row Scanner) (store.Change, error) {
	var ch store.Change
	var kind string
	var at T
	if err := row.Scan(&ch.Seq, &kind, &ch.ID, &at); err != nil {
		return store.Change{}, err
	}
	ch.Kind, ch.At = store.ChangeKind(kind), c.Time(at)
	return ch, nil
}

// SigningKeyName keys the API token signing key in cluster_secrets.
const SigningKeyName = "api-token-signing-key"

// SigningKeySize is the signing key's length in bytes.
const SigningKeySize = 32

// SortAPISchedules orders REST schedules by id.
func SortAPISchedules(as []store.APISchedule) {
	sort.Slice(as, func(i, j int) bool { return as[i].ID < as[j].ID })
}

// ChangesAfter assembles Changes' result from the items read after seq.
func ChangesAfter(after int64, items []store.Change) store.Changes {
	last := after
	if len(items) > 0 {
		last = items[len(items)-1].Seq
	}
	return store.Changes{Items: items, LastSeq: last}
}
