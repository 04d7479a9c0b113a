package cron

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestZoneTable checks the zone tables against the time package: the offset
// on either side of every listed change, in the middle of every period, and
// at random instants over the whole table.
func TestZoneTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, name := range []string{"America/New_York", "Europe/London", "Australia/Lord_Howe", "Pacific/Apia", "Asia/Kolkata", "America/Sao_Paulo", "Europe/Dublin"} {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		tb := newZoneTable(loc)
		check := func(at int64) {
			t.Helper()
			_, want := time.Unix(at, 0).In(loc).Zone()
			_, _, got, ok := tb.period(at)
			if !ok || got != int64(want) {
				t.Fatalf("%s at %s: table offset %d (in table: %v), time package %d", name, time.Unix(at, 0).UTC(), got, ok, want)
			}
		}
		for i, start := range tb.starts {
			if i > 0 {
				check(start - 1)
				check(start)
			}
			end := tb.end
			if i+1 < len(tb.starts) {
				end = tb.starts[i+1]
			}
			check(max(start, tableFrom)/2 + min(end, tableTo)/2)
		}
		for range 2000 {
			check(tableFrom + rng.Int64N(tableTo-tableFrom))
		}
		if _, _, _, ok := tb.period(tableTo + 86400*400); ok && tb.end != 1<<63-1 {
			t.Errorf("%s: table claims an instant past its end", name)
		}
	}
}

// TestZoneTablesShared runs searches in more zones than the table slots from
// several goroutines at once: every answer must be Quartz's, whichever table
// a search found or built.
func TestZoneTablesShared(t *testing.T) {
	names := []string{"America/New_York", "Europe/London", "Australia/Lord_Howe", "Pacific/Apia", "Asia/Kolkata",
		"America/Sao_Paulo", "Europe/Dublin", "Pacific/Chatham", "Europe/Berlin", "America/Chicago", "America/Denver",
		"America/Los_Angeles", "Asia/Tokyo", "Australia/Sydney", "Africa/Cairo", "America/Santiago", "Asia/Tehran",
		"Europe/Moscow", "America/Havana", "Antarctica/Troll"}
	var locs []*time.Location
	for _, name := range names {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		locs = append(locs, loc)
	}
	e := MustParse("0 30 2 ? * SUN")
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	errs := make(chan string, len(locs)*4)
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range locs {
				loc := locs[(i+g*5)%len(locs)]
				at := from.In(loc)
				for range 60 {
					z := newZoneCache(loc)
					got, want := e.Next(at), e.search(at, &z)
					if !got.Equal(want) {
						errs <- loc.String() + ": " + got.String() + " != " + want.String()
						return
					}
					at = got
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
