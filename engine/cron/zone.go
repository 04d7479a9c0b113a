package cron

import (
	"math"
	"sync/atomic"
	"time"
)

// A search asks its zone, again and again, which offset is in force at an
// instant and where that period begins and ends. The time package answers
// with a binary search over the zone file's transitions and, past the last
// one (2037 for most zones), by parsing the zone's rule string anew on every
// call; a search across decades in New York spent most of its time there.
// So each location's periods over tableFrom..tableTo are listed once, in a
// zoneTable shared by every search in that location, and a search looks them
// up in a slice. Outside that range the time package answers, as before.

// The years a zoneTable covers. Searches from the present day stay inside
// them; one outside (a year field before 1900 or after 2200) asks the time
// package.
var (
	tableFrom = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	tableTo   = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
)

// zoneTable is the zone periods of one location: period i covers the instants
// [starts[i], starts[i+1]) (the last one [starts[n-1], end)) at offset offs[i].
// starts[0] may be math.MinInt64 and end math.MaxInt64. A zoneTable is never
// modified once built.
type zoneTable struct {
	loc    *time.Location
	starts []int64
	offs   []int64
	end    int64
	// buckets[b] is the period in force at tableFrom + b*bucketSeconds, so
	// that a lookup steps over a few periods instead of searching them all.
	buckets []uint32
}

// bucketSeconds is the span of a zoneTable bucket: about a month, which
// seldom holds more than one change.
const bucketSeconds = 30 * secondsPerDay

// periodOf asks the time package for the zone period containing instant t.
func periodOf(loc *time.Location, t int64) (start, end, off int64) {
	tt := time.Unix(t, 0).In(loc)
	_, o := tt.Zone()
	s, e := tt.ZoneBounds()
	start, end = math.MinInt64, math.MaxInt64
	if !s.IsZero() {
		start = s.Unix()
	}
	if !e.IsZero() {
		end = e.Unix()
	}
	return start, end, int64(o)
}

// newZoneTable lists loc's periods from tableFrom to tableTo. Periods with the
// same offset are merged: a change of zone name alone moves no wall time.
func newZoneTable(loc *time.Location) *zoneTable {
	t := tableFrom
	start, end, off := periodOf(loc, t)
	tb := &zoneTable{loc: loc, starts: []int64{start}, offs: []int64{off}}
	for end != math.MaxInt64 && end < tableTo {
		// Past the zone file's last transition, ZoneBounds ends a period at
		// the year's end, and in a leap year a day early, so that the period
		// it reports at end may be the same one again: then step a day.
		for end <= t {
			next := t + secondsPerDay
			_, e, o := periodOf(loc, next)
			if o != off {
				tb.add(firstChange(loc, t, next, off), o)
				off = o
			}
			t, end = next, e
		}
		t = end
		_, e, o := periodOf(loc, t)
		if o != off {
			tb.add(t, o)
			off = o
		}
		end = e
	}
	tb.end = end
	for t, i := tableFrom, 0; t < tableTo; t += bucketSeconds {
		for i+1 < len(tb.starts) && tb.starts[i+1] <= t {
			i++
		}
		tb.buckets = append(tb.buckets, uint32(i))
	}
	return tb
}

func (tb *zoneTable) add(start, off int64) {
	tb.starts = append(tb.starts, start)
	tb.offs = append(tb.offs, off)
}

// firstChange returns the first instant in (lo, hi] whose offset in loc is not
// off, given that lo has offset off and hi does not.
func firstChange(loc *time.Location, lo, hi, off int64) int64 {
	for hi-lo > 1 {
		m := lo + (hi-lo)/2
		if _, o := time.Unix(m, 0).In(loc).Zone(); int64(o) == off {
			lo = m
		} else {
			hi = m
		}
	}
	return hi
}

// find returns the index of the period containing instant t, or ok = false
// when t is outside the table.
func (tb *zoneTable) find(t int64) (i int, ok bool) {
	if t < tb.starts[0] || t >= tb.end {
		return 0, false
	}
	// Start from the first period of t's bucket, then step to the last one
	// that starts at or before t.
	i = 0
	if b := (t - tableFrom) / bucketSeconds; b >= 0 && b < int64(len(tb.buckets)) {
		i = int(tb.buckets[b])
	}
	for i+1 < len(tb.starts) && tb.starts[i+1] <= t {
		i++
	}
	return i, true
}

// endOf returns the end of period i.
func (tb *zoneTable) endOf(i int) int64 {
	if i+1 < len(tb.starts) {
		return tb.starts[i+1]
	}
	return tb.end
}

// period returns the period containing instant t, or ok = false when t is
// outside the table.
func (tb *zoneTable) period(t int64) (start, end, off int64, ok bool) {
	i, ok := tb.find(t)
	if !ok {
		return 0, 0, 0, false
	}
	return tb.starts[i], tb.endOf(i), tb.offs[i], true
}

// zoneTables holds the tables of the locations searched last. A process
// schedules in a handful of zones, so a few slots hold them all; with more
// locations in turn than slots, a search may rebuild a table (about a
// thousand zone lookups) where it would otherwise have found it.
var (
	zoneTables    [16]atomic.Pointer[zoneTable]
	zoneTableNext atomic.Uint32
)

// tableFor returns the zone table of loc, building it on first use.
func tableFor(loc *time.Location) *zoneTable {
	for i := range zoneTables {
		if tb := zoneTables[i].Load(); tb != nil && tb.loc == loc {
			return tb
		}
	}
	tb := newZoneTable(loc)
	zoneTables[zoneTableNext.Add(1)%uint32(len(zoneTables))].Store(tb)
	return tb
}

// zoneCache answers "which instant is this wall time" for one search in one
// location, remembering the zone period it last used so that the common case
// is integer arithmetic.
type zoneCache struct {
	loc *time.Location
	tb  *zoneTable // nil for UTC
	// Current period: instants [start, end) have offset off.
	start, end int64
	off        int64
	// Wall times in [safeLo, safeHi) belong to the current period without
	// ambiguity: instant = wall - off, and they read back unchanged.
	safeLo, safeHi int64
}

// newZoneCache returns a cache with no current period; UTC needs none.
func newZoneCache(loc *time.Location) zoneCache {
	if loc == time.UTC {
		return zoneCache{loc: loc, start: math.MinInt64, end: math.MaxInt64, safeLo: math.MinInt64, safeHi: math.MaxInt64}
	}
	return zoneCache{loc: loc, tb: tableFor(loc), start: math.MaxInt64, end: math.MinInt64} // empty: the first use loads
}

// period returns the zone period containing instant t.
func (z *zoneCache) period(t int64) (start, end, off int64) {
	if z.tb != nil {
		if start, end, off, ok := z.tb.period(t); ok {
			return start, end, off
		}
	}
	return periodOf(z.loc, t)
}

// load makes the period containing instant t current.
func (z *zoneCache) load(t int64) {
	var i int
	inTable := false
	if z.tb != nil {
		i, inTable = z.tb.find(t)
	}
	if inTable {
		z.start, z.end, z.off = z.tb.starts[i], z.tb.endOf(i), z.tb.offs[i]
	} else {
		z.start, z.end, z.off = z.period(t)
	}
	z.safeLo, z.safeHi = math.MinInt64, math.MaxInt64
	if z.start != math.MinInt64 {
		var prev int64
		if inTable && i > 0 {
			prev = z.tb.offs[i-1]
		} else {
			_, _, prev = z.period(z.start - 1)
		}
		z.safeLo = z.start + max(z.off, prev)
	}
	if z.end != math.MaxInt64 {
		var next int64
		if inTable && i+1 < len(z.tb.starts) {
			next = z.tb.offs[i+1]
		} else {
			_, _, next = z.period(z.end)
		}
		z.safeHi = z.end + min(z.off, next)
	}
}

// resolve maps a wall time to an instant the way Java's ZoneInfo does: with
// the offset after the last transition whose post-transition wall time is not
// after w.
func (z *zoneCache) resolve(w int64) int64 {
	if w >= z.safeLo && w < z.safeHi {
		return w - z.off
	}
	// Start from the period of the instant w would be at the current offset,
	// then walk to the period whose rule covers w.
	start, end, off := z.period(w - z.off)
	for i := 0; i < 8; i++ {
		if start != math.MinInt64 && w < start+off {
			start, end, off = z.period(start - 1)
			continue
		}
		if end != math.MaxInt64 {
			_, _, next := z.period(end)
			if w >= end+next {
				start, end, off = z.period(end)
				continue
			}
		}
		break
	}
	t := w - off
	if t < z.start || t >= z.end {
		z.load(t)
	}
	return t
}

// wallOf returns the wall time of instant t.
func (z *zoneCache) wallOf(t int64) int64 {
	if t < z.start || t >= z.end {
		z.load(t)
	}
	return t + z.off
}

// normalize returns the wall time that w reads back as after a round trip
// through an instant: w itself, or w shifted past a DST gap.
func (z *zoneCache) normalize(w int64) int64 {
	if w >= z.safeLo && w < z.safeHi {
		return w
	}
	return z.wallOf(z.resolve(w))
}
