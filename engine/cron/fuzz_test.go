package cron

import (
	"testing"
	"time"
)

// FuzzParse checks, for any input, that Parse never panics and that Next on an
// accepted expression agrees with Quartz's step-by-step search and is
// strictly increasing: Next(t) > t and Next(Next(t)) > Next(t).
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"* * * * * ?", "0 0/5 * * * ?", "0 15 10 ? * MON-FRI", "0 11 11 11 11 ?",
		"0 0 0 29 2 ?", "0 15 10 L * ?", "0 15 10 ? * 6#3", "0 30 2 * * ?",
		"0 0 12 L-2W * ?", "0 0 12 31W * ?", "58-2 * * * * ?", "0 0 12 ? * 6L 2027",
		"0 0 12 * * ? 2200", "0 0 0 ? * 0#2", "0 0 12 L-30W * ?", "99 98 * 98 * ?",
	} {
		f.Add(s, int64(1767225600), uint8(0))
	}
	zones := []string{"UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Pacific/Chatham", "America/Sao_Paulo"}
	f.Fuzz(func(t *testing.T, spec string, from int64, zone uint8) {
		e, err := Parse(spec)
		if err != nil {
			return
		}
		_ = e.String()
		_ = e.Describe()
		loc, err := time.LoadLocation(zones[int(zone)%len(zones)])
		if err != nil {
			t.Fatal(err)
		}
		// Keep FROM within Quartz's searchable years.
		from = 0 + (from%(130*365*86400)+130*365*86400)%(130*365*86400)
		at := time.Unix(from, 0).In(loc)
		n1 := e.Next(at)
		z := newZoneCache(loc)
		if q := e.search(at, &z); !n1.Equal(q) {
			t.Fatalf("Next(%v) = %v, Quartz's search = %v", at, n1, q)
		}
		if n1.IsZero() {
			return
		}
		if !n1.After(at) {
			t.Fatalf("Next(%v) = %v, not after it", at, n1)
		}
		n2 := e.Next(n1)
		if !n2.IsZero() && !n2.After(n1) {
			t.Fatalf("Next(%v) = %v, not after it", n1, n2)
		}
	})
}
