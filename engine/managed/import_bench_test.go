package managed_test

import (
	"bytes"
	"fmt"
	"testing"

	"sundial/engine/managed"
	"sundial/internal/benchenv"
)

// BenchmarkImportJSONLines imports 100,000 users (SUNDIAL_BENCH_USERS)
// from JSON lines into a fresh SQLite store, in batches of 1,000:
// objects/s is the figure, with the peak RSS of the imports (the
// process's, reset after the input is built).
func BenchmarkImportJSONLines(b *testing.B) {
	n := benchenv.Users(b, 100_000)
	var buf bytes.Buffer
	for i := range n {
		fmt.Fprintf(&buf, `{"_id":"u%d","userName":"u%d","givenName":"Given%d","sn":"Sn%d","mail":"u%d@example.com","accountStatus":"active","sunset":{"date":"2026-%02d-01T00:00:00.000Z"}}`+"\n",
			i, i, i, i, i, i%12+1)
	}
	data := buf.Bytes()
	benchenv.ResetPeakRSS()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		o := openObjectsB(b)
		b.StartTimer()
		res, err := managed.Import(b.Context(), managed.ImportParams{Objects: o, Type: "user", Input: bytes.NewReader(data), Format: managed.FormatJSONLines})
		if err != nil || res.Imported != n {
			b.Fatalf("imported %d: %v", res.Imported, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "objects/s")
	b.SetBytes(int64(len(data)))
	benchenv.ReportPeakRSS(b)
}
