package api

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"sundial/engine/store"
	"sundial/engine/store/sqlite"
	"sundial/internal/benchenv"
)

// BenchmarkManagedQueryUserName is GET /openidm/managed/user?_queryFilter=
// userName eq "u123456" over real HTTP (loopback, one keep-alive client)
// against 100,000 users (SUNDIAL_BENCH_USERS) in SQLite, one match; it reports the latency's
// p50 and p99 in milliseconds.
func BenchmarkManagedQueryUserName(b *testing.B) {
	n := benchenv.Users(b, 100_000)
	db, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "sundial.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for start := 0; start < n; start += 1000 {
		news := make([]store.NewObject, 1000)
		for i := range news {
			k := 100_000 + start + i
			news[i] = store.NewObject{ID: fmt.Sprintf("id-%d", k), Content: map[string]any{
				"userName": fmt.Sprintf("u%d", k), "mail": fmt.Sprintf("u%d@example.com", k), "accountStatus": "active",
				"sunset": map[string]any{"date": fmt.Sprintf("20%02d-01-01T00:00:00.000Z", 20+k%10)},
			}}
		}
		if _, err := db.CreateObjects(b.Context(), store.CreateObjectsParams{Type: "user", Objects: news}); err != nil {
			b.Fatal(err)
		}
	}
	h := New(Options{Schedules: newMem(), Auth: fixedAuth{}, Logger: slog.New(slog.DiscardHandler),
		Objects: db, ManagedTypes: typeSet{"user": true}})
	srv := httptest.NewServer(h)
	defer srv.Close()
	target := srv.URL + "/openidm/managed/user?_queryFilter=" + url.QueryEscape(`userName eq "u123456"`)
	client := srv.Client()
	var lat []time.Duration
	for b.Loop() {
		req, _ := http.NewRequest("GET", target, nil)
		req.Header.Set("X-Test-Client", "reader")
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(t0))
		if resp.StatusCode != 200 || len(body) < 100 {
			b.Fatalf("%d %s", resp.StatusCode, body)
		}
	}
	slices.Sort(lat)
	ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
}
