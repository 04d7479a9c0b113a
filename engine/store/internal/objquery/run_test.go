package objquery

import (
	"context"
	"fmt"
	"testing"

	"sundial/engine/query"
	"sundial/engine/store"
)

// TestRunCountsFromTheScan: a first keyset page that holds every match
// counts its total from the page, without reading the rows again; a cut
// page (or a later one) of a filter SQL decides whole counts them in SQL,
// one of a filter it does not, by reading them all.
func TestRunCountsFromTheScan(t *testing.T) {
	var rows []Row
	for i := range 10 {
		id := fmt.Sprintf("o%02d", i)
		rows = append(rows, Row{ID: id, Rev: 1, Doc: []byte(`{"_id":"` + id + `","_rev":"1"}`), Sure: true})
	}
	for _, tc := range []struct {
		name       string
		pageSize   int
		t          Translation
		wantPage   int
		wantReads  int
		wantCounts int
	}{
		{"all", 0, exact("TRUE"), 10, 1, 0},
		{"page holds all", 20, exact("TRUE"), 10, 1, 0},
		{"cut page", 4, exact("TRUE"), 4, 1, 1},
		{"cut page, decided in Go", 4, Translation{Sure: "TRUE", Maybe: "MAYBE"}, 4, 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reads, counts := 0, 0
			countExact := func(context.Context) (int, error) { counts++; return len(rows), nil }
			fetch := func(_ context.Context, after string, limit int) ([]Row, error) {
				reads++
				var out []Row
				for _, r := range rows {
					if r.ID > after && len(out) < limit {
						out = append(out, r)
					}
				}
				return out, nil
			}
			res, err := Run(t.Context(), store.QueryObjectsParams{Type: "t", PageSize: tc.pageSize, CountTotal: true, Filter: &query.Literal{Value: true}}, tc.t, fetch, countExact)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Objects) != tc.wantPage || res.Total != len(rows) || reads != tc.wantReads || counts != tc.wantCounts {
				t.Errorf("page %d, total %d, %d reads, %d counts; want %d, %d, %d reads, %d counts",
					len(res.Objects), res.Total, reads, counts, tc.wantPage, len(rows), tc.wantReads, tc.wantCounts)
			}
		})
	}
}
