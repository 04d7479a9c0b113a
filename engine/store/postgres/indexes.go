package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"

	filter "sundial/engine/query"
	"sundial/engine/store"
	"sundial/engine/store/internal/objquery"
)

var _ store.ObjectIndexer = (*Store)(nil)

// indexKey is the expression of a field's object index, and of the hints
// that let a query use it: the field's string folded as the filter
// translation folds strings for comparisons, "[" for an array (whose
// elements are matched one by one), the text of any other value.
func indexKey(f filter.Pointer) (string, bool) {
	v, ok := dialect{}.Path(f.Tokens)
	if !ok {
		return "", false
	}
	folded := "(" + v.JSON + " #>> '{}')"
	for _, p := range [][2]string{{"ı", "i"}, {"İ", "i"}, {"ſ", "s"}, {"\u212a", "k"}} {
		folded = "replace(" + folded + ", '" + p[0] + "', '" + p[1] + "')"
	}
	return "(CASE WHEN jsonb_typeof(" + v.JSON + ") = 'array' THEN '[' ELSE lower((" + folded + ") COLLATE \"C\") END)", true
}

// hintOps are the comparisons a hint narrows: every match's key satisfies
// "key op value" (a string's key is its folded text) or is "[".
var hintOps = map[filter.Operator]string{
	filter.OpEqual: "=", filter.OpLess: "<", filter.OpLessEqual: "<=", filter.OpGreater: ">", filter.OpGreaterEqual: ">=",
}

// hint is one comparison of a query that an object index can narrow.
type hint struct {
	field     filter.Pointer
	key, cond string
}

// hints are the conditions every match of f satisfies that an index on
// indexKey answers: for each comparison with an ASCII string in f (the
// whole filter or an operand of its top-level and). The translation
// still decides; a hint only narrows the rows read, with or without an
// index.
func hints(f filter.Filter) []hint {
	switch f := f.(type) {
	case *filter.And:
		var out []hint
		for _, o := range f.Operands {
			out = append(out, hints(o)...)
		}
		return out
	case *filter.Comparison:
		op, ok := hintOps[f.Operator]
		if !ok || f.Value.Kind != filter.KindString {
			return nil
		}
		for i := 0; i < len(f.Value.Str); i++ {
			if c := f.Value.Str[i]; c == 0 || c >= 0x80 {
				return nil
			}
		}
		key, ok := indexKey(f.Field)
		if !ok {
			return nil
		}
		value := dialect{}.Quote(strings.ToLower(f.Value.Str))
		return []hint{{field: f.Field, key: key, cond: "(" + key + " " + op + " " + value + " COLLATE \"C\" OR " + key + " = '[')"}}
	}
	return nil
}

// hintSQL is the hints of f as " AND …" conditions ("" for none).
func hintSQL(f filter.Filter) string {
	var b strings.Builder
	for _, h := range hints(f) {
		b.WriteString(" AND " + h.cond)
	}
	return b.String()
}

// indexName names the index of key: managed_objects_ix_ and a hash of
// the expression.
func indexName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "managed_objects_ix_" + hex.EncodeToString(sum[:6])
}

// indexed are the index names this process has created or found.
var indexed sync.Map

// IndexObjectFilter creates (CONCURRENTLY, so writes go on meanwhile) an
// index on (type, indexKey) for each field Filter compares with a string,
// unless it exists.
func (s *Store) IndexObjectFilter(ctx context.Context, p store.IndexObjectFilterParams) error {
	if err := objquery.CheckType(p.Type); err != nil {
		return err
	}
	for _, h := range hints(p.Filter) {
		name := indexName(h.key)
		if _, ok := indexed.Load(name); ok {
			continue
		}
		if _, err := s.pool.Exec(ctx, "CREATE INDEX CONCURRENTLY IF NOT EXISTS "+name+" ON managed_objects (type, "+h.key+")"); err != nil {
			return fmt.Errorf("index managed objects on %s: %w", h.key, err)
		}
		indexed.Store(name, true)
	}
	return nil
}
