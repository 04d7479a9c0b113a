package cronbench

import (
	"strings"
	"testing"
	"time"
)

// TestEnginesAgree checks every engine's fire times against the truth over
// the range the benchmarks cover. Sundial must be right everywhere; a peer
// must be right everywhere except on the workloads PeerFaults declares, and
// wrong on those, so that a new disagreement or a fault that went away both
// fail.
func TestEnginesAgree(t *testing.T) {
	for _, w := range Workloads() {
		for _, en := range Engines() {
			if en.Spec(w) == "" {
				continue
			}
			wrong, err := Wrong(en, w)
			if err != nil {
				t.Fatal(err)
			}
			fault, declared := FaultOf(en, w)
			switch {
			case en.Name == Sundial && wrong != "":
				t.Errorf("sundial is wrong on %q in %s: %s", w.Name, w.Zone(), wrong)
			case wrong != "" && !declared:
				t.Errorf("%s is wrong on %q in %s, and PeerFaults does not say so: %s", en.Name, w.Name, w.Zone(), wrong)
			case wrong == "" && declared:
				t.Errorf("%s is now right on %q in %s: remove its fault %q from PeerFaults", en.Name, w.Name, w.Zone(), fault.Why)
			case wrong != "":
				t.Logf("%s on %q in %s: %s (%s)", en.Name, w.Name, w.Zone(), wrong, fault.Why)
			}
		}
	}
}

// TestPeerFaultsNameWorkloads checks that each declared fault names a peer
// and a workload that exist, so a misspelt entry cannot go unchecked.
func TestPeerFaultsNameWorkloads(t *testing.T) {
	for _, f := range PeerFaults {
		found := false
		for _, w := range Workloads() {
			for _, en := range Engines() {
				if en.Name != Sundial && en.Spec(w) != "" && f.Engine == en.Name && f.Workload == w.Name && f.Zone == w.Zone() {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("PeerFaults entry %+v names no peer workload", f)
		}
	}
}

// TestTruthMatchesQuartz checks the brute-force truth against answers of the
// real Quartz 2.3.2 (the same cases as in engine/cron/testdata), DST gaps and
// repeated hours included.
func TestTruthMatchesQuartz(t *testing.T) {
	ny, utc := mustZone("America/New_York"), time.UTC
	tests := []struct {
		name string
		rule rule
		from time.Time
		want []string
	}{
		{"0 30 2 * * ?", rule{everyDay, at(2, 30, 0)}, time.Date(2026, 3, 8, 0, 30, 0, 0, ny),
			[]string{"2026-03-09T02:30:00-04:00", "2026-03-10T02:30:00-04:00", "2026-03-11T02:30:00-04:00"}},
		{"* * * * * ? (gap)", rule{everyDay, every(1)}, time.Date(2026, 3, 8, 1, 59, 58, 0, ny),
			[]string{"2026-03-08T01:59:59-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T03:00:01-04:00"}},
		{"* * * * * ? (repeated hour)", rule{everyDay, every(1)}, time.Date(2026, 11, 1, 5, 30, 0, 0, utc).In(ny),
			[]string{"2026-11-01T01:30:01-05:00", "2026-11-01T01:30:02-05:00"}},
		{"* * * * * ? (end of repeated hour)", rule{everyDay, every(1)}, time.Date(2027, 11, 7, 5, 59, 58, 0, utc).In(ny),
			[]string{"2027-11-07T01:59:59-05:00", "2027-11-07T02:00:00-05:00", "2027-11-07T02:00:01-05:00"}},
		{"0 0 0 29 2 ?", rule{dayOfYear(time.February, 29), at(0, 0, 0)}, time.Date(2026, 1, 1, 0, 0, 0, 0, utc),
			[]string{"2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00", "2036-02-29T00:00:00+00:00"}},
		{"0 0 12 LW * ?", rule{lastWeekday, at(12, 0, 0)}, time.Date(2026, 1, 1, 0, 0, 0, 0, utc),
			[]string{"2026-01-30T12:00:00+00:00", "2026-02-27T12:00:00+00:00", "2026-03-31T12:00:00+00:00", "2026-04-30T12:00:00+00:00", "2026-05-29T12:00:00+00:00", "2026-06-30T12:00:00+00:00"}},
	}
	for _, tt := range tests {
		got := Truth(Workload{Start: tt.from, rule: tt.rule}, len(tt.want))
		var want []time.Time
		for _, s := range tt.want {
			v, err := time.Parse(time.RFC3339, s)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, v)
		}
		if d := differ(got, want); d != "" {
			t.Errorf("%s from %s: %s", tt.name, stamp(tt.from), d)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	for _, w := range Workloads() {
		for _, en := range Engines() {
			if spec := en.Spec(w); spec != "" {
				b.Run(benchName(w, en), func(b *testing.B) { BenchParse(b, en, spec) })
			}
		}
	}
}

func BenchmarkNext(b *testing.B) {
	for _, w := range Workloads() {
		for _, en := range Engines() {
			if en.Spec(w) != "" {
				b.Run(benchName(w, en), func(b *testing.B) { BenchNext(b, en, w) })
			}
		}
	}
}

// benchName is workload/zone/engine, the zone's slash dropped so that each is
// one level of the benchmark's name.
func benchName(w Workload, en Engine) string {
	return w.Name + "/" + strings.ReplaceAll(w.Zone(), "/", "_") + "/" + en.Name
}
