package cron

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestNextPlainIsQuartz checks Next, which answers plain expressions with
// nextPlain when no DST transition is near, against search, Quartz's own
// steps, on random plain expressions from random instants, many of them
// close to a DST transition, in zones with gaps and overlaps of every size.
func TestNextPlainIsQuartz(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	zones := []string{"UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Pacific/Chatham", "America/Sao_Paulo", "Pacific/Apia", "Asia/Kolkata"}
	var locs []*time.Location
	for _, name := range zones {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		locs = append(locs, loc)
	}
	// Fixed cases first: with W, a start a fraction of a second before the
	// fire time makes Quartz skip to the next month.
	for _, c := range []struct {
		spec string
		from time.Time
	}{
		{"0 15 10 LW * ?", time.Date(2026, 1, 30, 10, 14, 59, 5e8, time.UTC)},
		{"0 15 10 L-2W * ?", time.Date(2026, 1, 29, 10, 14, 59, 5e8, time.UTC)},
		{"0 15 10 L * ?", time.Date(2026, 1, 31, 10, 14, 59, 5e8, time.UTC)},
	} {
		z := newZoneCache(time.UTC)
		e := MustParse(c.spec)
		if got, want := e.Next(c.from), e.search(c.from, &z); !got.Equal(want) {
			t.Errorf("%q from %s: Next = %s, Quartz's search = %s", c.spec, c.from.Format(time.RFC3339Nano), got.Format(time.RFC3339), want.Format(time.RFC3339))
		}
	}
	lo := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	hi := time.Date(2130, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	plain, cases := 0, 6000
	if testing.Short() {
		cases = 1000
	}
	for range cases {
		spec := randomPlain(rng)
		e, err := Parse(spec)
		if err != nil {
			t.Fatalf("Parse(%q): %v", spec, err)
		}
		if e.plain {
			plain++
		}
		loc := locs[rng.IntN(len(locs))]
		from := lo + rng.Int64N(hi-lo)
		if rng.IntN(2) == 0 { // a few hours either side of a transition
			tb := tableFor(loc)
			if loc != time.UTC && len(tb.starts) > 1 {
				from = tb.starts[1+rng.IntN(len(tb.starts)-1)] + rng.Int64N(6*3600) - 3*3600
			}
		}
		at := time.Unix(from, 0).In(loc)
		if rng.IntN(4) == 0 {
			at = at.Add(time.Duration(rng.Int64N(int64(time.Second)))) // W compares to the millisecond
		}
		for i := 0; i < 4; i++ {
			z := newZoneCache(loc)
			got, want := e.Next(at), e.search(at, &z)
			if !got.Equal(want) {
				t.Fatalf("%q in %s from %s: Next = %s, Quartz's search = %s", spec, loc, at.Format(time.RFC3339), got.Format(time.RFC3339), want.Format(time.RFC3339))
			}
			if want.IsZero() {
				break
			}
			at = want
		}
	}
	if plain < cases/2 {
		t.Fatalf("only %d of %d random expressions are plain", plain, cases)
	}
}

// randomPlain returns a random expression that is most often plain (see
// isPlain), with L, W and # among its days.
func randomPlain(rng *rand.Rand) string {
	field := func(lo, hi int) string {
		n := func() int { return lo + rng.IntN(hi-lo+1) }
		switch rng.IntN(6) {
		case 0:
			return "*"
		case 1:
			return fmt.Sprint(n())
		case 2:
			return fmt.Sprintf("%d-%d", n(), n())
		case 3:
			return fmt.Sprintf("%d/%d", n(), 1+rng.IntN(hi-lo))
		case 4:
			return fmt.Sprintf("%d,%d,%d", n(), n(), n())
		}
		return fmt.Sprintf("*/%d", 1+rng.IntN(hi-lo))
	}
	f := []string{field(0, 59), field(0, 59), field(0, 23), field(1, 31), field(1, 12), field(1, 7)}
	// Small sets most of the time, so that searches cross months and years.
	for i := range 3 {
		if rng.IntN(3) == 0 {
			f[i] = fmt.Sprint(rng.IntN(24))
		}
	}
	if rng.IntN(2) == 0 {
		f[3] = "?"
		switch rng.IntN(4) {
		case 0:
			f[5] = fmt.Sprintf("%dL", 1+rng.IntN(7))
		case 1:
			f[5] = fmt.Sprintf("%d#%d", 1+rng.IntN(7), 1+rng.IntN(5))
		}
	} else {
		f[5] = "?"
		switch rng.IntN(6) {
		case 0:
			f[3] = "L"
		case 1:
			f[3] = fmt.Sprintf("L-%d", rng.IntN(31))
		case 2:
			f[3] = "LW"
		case 3:
			f[3] = fmt.Sprintf("L-%dW", rng.IntN(31))
		case 4:
			f[3] = fmt.Sprintf("%dW", 1+rng.IntN(31))
		}
	}
	switch rng.IntN(6) {
	case 0:
		f = append(f, fmt.Sprintf("%d-%d", 2020+rng.IntN(20), 2040+rng.IntN(100)))
	case 1:
		f = append(f, fmt.Sprint(2026+rng.IntN(10)))
	}
	return strings.Join(f, " ")
}
