package postgres

import (
	"strings"
	"testing"

	filter "sundial/engine/query"
	"sundial/engine/store"
	"sundial/engine/store/internal/objquery"
)

// TestScanFilterIndexes: IndexObjectFilter indexes the fields a scan's
// filter compares with strings (the sunset date, a userName), the plan
// of the query's count and of a userName lookup use those indexes, and
// the answers stay the translation's.
func TestScanFilterIndexes(t *testing.T) {
	t.Parallel()
	s, conn := storeAndConn(t)
	// 20,000 users, 1 % of them past their sunset date, one array date.
	if _, err := conn.Exec(t.Context(), `INSERT INTO managed_objects (type, id, rev, doc)
		SELECT 'user', 'u' || i, 1, jsonb_build_object('_id', 'u' || i, '_rev', '1', 'userName', 'U' || i,
			'sunset', jsonb_build_object('date', CASE WHEN i % 100 = 0 THEN '2019-12-20T12:00:00.000Z' ELSE '2099-01-01T00:00:00.000Z' END))
		FROM generate_series(1, 20000) AS i`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(t.Context(), `UPDATE managed_objects SET doc = jsonb_set(doc, '{sunset,date}', '["2019-01-01T00:00:00.000Z"]') WHERE id = 'u7'`); err != nil {
		t.Fatal(err)
	}
	sunset, err := filter.Parse(`(/sunset/date lt "2020-01-01T00:00:00.000Z") AND !(/sunset/task-completed pr)`)
	if err != nil {
		t.Fatal(err)
	}
	byName, _ := filter.Parse(`userName eq "u123"`)
	for _, f := range []filter.Filter{sunset, byName} {
		if err := s.IndexObjectFilter(t.Context(), store.IndexObjectFilterParams{Type: "user", Filter: f}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Exec(t.Context(), "ANALYZE managed_objects"); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]filter.Filter{"sunset count": sunset, "userName": byName} {
		key, _ := indexKey(hints(f)[0].field)
		q := "SELECT COUNT(*) FROM managed_objects WHERE type = 'user' AND (" + objquery.Translate(dialect{}, f).Maybe + ")" + hintSQL(f)
		text := explain(t, conn, name, q)
		t.Logf("%s:\n  %s", name, text)
		if !strings.Contains(text, indexName(key)) {
			t.Errorf("%s: the plan does not use %s:\n  %s", name, indexName(key), text)
		}
	}
	res, err := s.QueryObjects(t.Context(), store.QueryObjectsParams{Type: "user", Filter: sunset, CountTotal: true, PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != 201 || len(res.Objects) != 10 {
		t.Errorf("sunset query: total %d, page %d; want 201 (200 past and the array), 10", res.Total, len(res.Objects))
	}
	res, err = s.QueryObjects(t.Context(), store.QueryObjectsParams{Type: "user", Filter: byName})
	if err != nil || len(res.Objects) != 1 || res.Objects[0].ID != "u123" {
		t.Errorf("userName query: %+v %v, want u123", res.Objects, err)
	}
}
