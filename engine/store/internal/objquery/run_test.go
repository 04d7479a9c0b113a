package objquery

import (
	"context"
	"fmt"
	"testing"

	"sundial/engine/store"
)

// TestRunCountsFromTheScan: a first keyset page that holds every match
// counts its total from the page, without reading the rows again; a cut
// page (or a later one) still counts them all.
func TestRunCountsFromTheScan(t *testing.T) {
	var rows []Row
	for i := range 10 {
		id := fmt.Sprintf("o%02d", i)
		rows = append(rows, Row{ID: id, Rev: 1, Doc: []byte(`{"_id":"` + id + `","_rev":"1"}`), Sure: true})
	}
	for _, tc := range []struct {
		name      string
		pageSize  int
		wantPage  int
		wantReads int
	}{
		{"all", 0, 10, 1},
		{"page holds all", 20, 10, 1},
		{"cut page", 4, 4, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reads := 0
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
			res, err := Run(t.Context(), store.QueryObjectsParams{Type: "t", PageSize: tc.pageSize, CountTotal: true}, exact("TRUE"), fetch)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Objects) != tc.wantPage || res.Total != len(rows) || reads != tc.wantReads {
				t.Errorf("page %d, total %d, %d reads; want %d, %d, %d reads", len(res.Objects), res.Total, reads, tc.wantPage, len(rows), tc.wantReads)
			}
		})
	}
}
