package objquery

import (
	"cmp"
	"slices"

	"sundial/engine/store"
)

// Key names one object.
type Key struct{ Type, ID string }

// UnitKeys is every object the units write, once each, by type then id:
// the order a backend locks them in, so concurrent commits do not
// deadlock.
func UnitKeys(units []store.ObjectUnit) []Key {
	var keys []Key
	for _, u := range units {
		for _, w := range u.Writes {
			keys = append(keys, Key{w.Type, w.ID})
		}
	}
	slices.SortFunc(keys, func(a, b Key) int { return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.ID, b.ID)) })
	return slices.Compact(keys)
}

// UnitRow is one write of a unit: Doc at Rev, inserted when Insert, or
// a delete when Doc is nil.
type UnitRow struct {
	Key
	Rev    int64
	Doc    []byte
	Insert bool
}

// PlanUnit checks a unit against revs (each key's stored revision, 0 for
// an object that does not exist) and returns the rows that write it; a
// unit that cannot commit is the error, wrapping ErrConflict, ErrNotFound
// or ErrInvalid.
func PlanUnit(u store.ObjectUnit, revs map[Key]int64) ([]UnitRow, error) {
	rows := make([]UnitRow, 0, len(u.Writes))
	seen := make(map[Key]bool, len(u.Writes))
	for _, w := range u.Writes {
		k := Key{w.Type, w.ID}
		if err := CheckType(w.Type); err != nil {
			return nil, err
		}
		if err := CheckID(w.ID); err != nil {
			return nil, err
		}
		if seen[k] {
			return nil, store.Invalidf("managed/%s/%s: written twice in one unit", w.Type, w.ID)
		}
		seen[k] = true
		cur := revs[k]
		row := UnitRow{Key: k}
		switch {
		case w.Rev == "" && cur != 0:
			return nil, ErrExists(w.Type, w.ID)
		case w.Rev == "":
			row.Rev, row.Insert = 1, true
		case cur == 0:
			return nil, ErrMissing(w.Type, w.ID)
		default:
			if err := CheckRev(w.Type, w.ID, w.Rev, cur); err != nil {
				return nil, err
			}
			row.Rev = cur + 1
		}
		if w.Content != nil {
			doc, err := Encode(w.ID, row.Rev, w.Content)
			if err != nil {
				return nil, err
			}
			row.Doc = doc
		} else if row.Insert {
			return nil, store.Invalidf("managed/%s/%s: a unit deletes an object it creates", w.Type, w.ID)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// Applied records in revs what rows wrote.
func Applied(revs map[Key]int64, rows []UnitRow) {
	for _, r := range rows {
		if r.Doc == nil {
			revs[r.Key] = 0
		} else {
			revs[r.Key] = r.Rev
		}
	}
}
