package sqlite_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"sundial/engine/query"
	"sundial/engine/store"
	"sundial/engine/store/sqlite"
)

// BenchmarkQueryObjects runs filters over 100,000 users: pushed down to
// SQLite's JSON functions, and the Go-only path (every document read,
// decoded and matched by engine/query's program), for comparison.
func BenchmarkQueryObjects(b *testing.B) {
	const n = 100_000
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "sundial.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for start := 0; start < n; start += 1000 {
		news := make([]store.NewObject, 1000)
		for i := range news {
			k := start + i
			news[i] = store.NewObject{ID: fmt.Sprintf("u%d", k), Content: map[string]any{
				"userName": fmt.Sprintf("u%d", k), "mail": fmt.Sprintf("u%d@example.com", k), "accountStatus": "active",
				"sunset": map[string]any{"date": fmt.Sprintf("20%02d-01-01T00:00:00.000Z", 20+k%10)},
				"age":    json.Number(fmt.Sprint(18 + k%60)),
			}}
		}
		if _, err := s.CreateObjects(b.Context(), store.CreateObjectsParams{Type: "user", Objects: news}); err != nil {
			b.Fatal(err)
		}
	}
	for _, tc := range []struct{ name, filter string }{
		{"userName", `userName eq "u12345"`},
		{"sunset10pct", `((/sunset/date lt "2021-01-01T00:00:00.000Z") AND !(/sunset/task-completed pr))`},
	} {
		f, err := query.Parse(tc.filter)
		if err != nil {
			b.Fatal(err)
		}
		p, _ := query.Compile(f)
		b.Run(tc.name+"/pushed", func(b *testing.B) {
			matches := 0
			for range b.N {
				res, err := s.QueryObjects(b.Context(), store.QueryObjectsParams{Type: "user", Filter: f})
				if err != nil {
					b.Fatal(err)
				}
				matches = len(res.Objects)
			}
			b.ReportMetric(float64(matches), "matches")
		})
		b.Run(tc.name+"/go-only", func(b *testing.B) {
			matches := 0
			for range b.N {
				res, err := s.QueryObjects(b.Context(), store.QueryObjectsParams{Type: "user"})
				if err != nil {
					b.Fatal(err)
				}
				matches = 0
				for _, o := range res.Objects {
					if p.Match(o.Content) {
						matches++
					}
				}
			}
			b.ReportMetric(float64(matches), "matches")
		})
	}
}
