package crest

import (
	"fmt"
	"net/http/httptest"
	"testing"
)

// BenchmarkQuery10000 is GET ?_queryFilter=… over 10,000 job-like
// resources, the envelope written.
func BenchmarkQuery10000(b *testing.B) {
	rs := make([]Resource, 10000)
	for i := range rs {
		rs[i] = Resource{ID: fmt.Sprintf("job-%05d", i), Rev: "1", Fields: map[string]any{
			"enabled": i%2 == 0, "persisted": true, "schedule": "0 0 * * * ?", "nextRunDate": nil,
			"invokeContext": map[string]any{"action": "reconcile", "mapping": "m"},
			"triggers":      []any{map[string]any{"nodeId": "node1", "state": "NORMAL"}},
		}}
	}
	for _, filter := range []string{"true", "invokeContext/action+eq+%22reconcile%22+and+enabled+eq+true"} {
		b.Run(filter, func(b *testing.B) {
			p, err := ParseParams(httptest.NewRequest("GET", "/x?_queryFilter="+filter, nil))
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				out, err := Query(rs, p.Query, p.Fields)
				if err != nil {
					b.Fatal(err)
				}
				Writer{}.JSON(httptest.NewRecorder(), 200, out)
			}
		})
	}
}
