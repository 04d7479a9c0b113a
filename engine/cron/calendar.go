package cron

// Quartz computes fire times with a lenient java.util.GregorianCalendar: it
// sets wall-clock fields one at a time, and every read normalises them (day 32
// becomes the 1st of the next month, hour 24 the next day) and maps the wall
// time to an instant. A wall time in a DST gap maps with the offset before the
// gap, so it reads back shifted forward by the gap; a wall time in an overlap
// maps to its later occurrence. calendar reproduces exactly that, working on
// wall-clock seconds and asking the zone only near transitions.

const secondsPerDay = 86400

// calendar is a lenient Gregorian calendar in one zone. Fields may be set out
// of range; reading any field normalises them all.
type calendar struct {
	z                                    *zoneCache
	year, month, day, hour, minute, secs int // month is 1-based
	dirty                                bool

	// Days since the epoch of the 1st of (mYear, mMonth): most reads stay in
	// one month, so the date part of a wall time is an addition.
	mYear, mMonth int
	mStart        int64
}

// monthStart returns the days since the epoch of the 1st of (y, m), m in 1..12.
func (c *calendar) monthStart(y, m int) int64 {
	if y != c.mYear || m != c.mMonth || c.mMonth == 0 {
		c.mYear, c.mMonth, c.mStart = y, m, daysFromCivil(y, m, 1)
	}
	return c.mStart
}

// setWall sets the fields from a wall time (seconds since the epoch, as if UTC).
func (c *calendar) setWall(w int64) {
	days := floorDiv(w, secondsPerDay)
	rem := w - days*secondsPerDay
	c.year, c.month, c.day = civilFromDays(days)
	c.hour = int(rem / 3600)
	c.minute = int(rem / 60 % 60)
	c.secs = int(rem % 60)
	c.dirty = false
}

// inRange reports whether every field already holds a normal value.
func (c *calendar) inRange() bool {
	return c.month >= 1 && c.month <= 12 && c.day >= 1 && (c.day <= 28 || c.day <= lastDayOfMonth(c.month, c.year)) &&
		uint(c.hour) < 24 && uint(c.minute) < 60 && uint(c.secs) < 60
}

// wall returns the wall time of the (possibly out-of-range) fields.
func (c *calendar) wall() int64 {
	if c.month >= 1 && c.month <= 12 {
		days := c.monthStart(c.year, c.month) + int64(c.day-1)
		return days*secondsPerDay + int64(c.hour)*3600 + int64(c.minute)*60 + int64(c.secs)
	}
	y, m := c.year, c.month-1
	y += floorDivInt(m, 12)
	m = m - floorDivInt(m, 12)*12
	days := daysFromCivil(y, m+1, 1) + int64(c.day-1)
	return days*secondsPerDay + int64(c.hour)*3600 + int64(c.minute)*60 + int64(c.secs)
}

func (c *calendar) norm() {
	if !c.dirty {
		return
	}
	w := c.wall()
	if c.inRange() && w >= c.z.safeLo && w < c.z.safeHi {
		c.dirty = false // already normal, and no DST transition near
		return
	}
	c.setWall(c.z.normalize(w))
}

// instant is Calendar.getTime(): the instant the fields map to.
func (c *calendar) instant() int64 {
	return c.z.resolve(c.wall())
}

func (c *calendar) getYear() int   { c.norm(); return c.year }
func (c *calendar) getMonth() int  { c.norm(); return c.month }
func (c *calendar) getDay() int    { c.norm(); return c.day }
func (c *calendar) getHour() int   { c.norm(); return c.hour }
func (c *calendar) getMinute() int { c.norm(); return c.minute }
func (c *calendar) getSecond() int { c.norm(); return c.secs }

// getWeekday returns the day of the week, 1 = Sunday … 7 = Saturday.
func (c *calendar) getWeekday() int {
	c.norm()
	d := c.monthStart(c.year, c.month) + int64(c.day-1)
	return int(floorMod(d+4, 7)) + 1 // 1970-01-01 was a Thursday (5)
}

// The setters leave a normalised calendar normalised when the value does
// not change: normalising is idempotent, so the fields would read back the
// same.
func (c *calendar) setYear(v int)   { set(c, &c.year, v) }
func (c *calendar) setMonth(v int)  { set(c, &c.month, v) } // 1-based
func (c *calendar) setDay(v int)    { set(c, &c.day, v) }
func (c *calendar) setHour(v int)   { set(c, &c.hour, v) }
func (c *calendar) setMinute(v int) { set(c, &c.minute, v) }
func (c *calendar) setSecond(v int) { set(c, &c.secs, v) }

func set(c *calendar, field *int, v int) {
	if *field != v {
		*field = v
		c.dirty = true
	}
}

// addYear is Calendar.add(YEAR, n): the same wall time n years on, with the
// day pinned to the month's length (29 February → 28).
func (c *calendar) addYear(n int) {
	c.norm()
	c.year += n
	if ld := lastDayOfMonth(c.month, c.year); c.day > ld {
		c.day = ld
	}
	c.dirty = true
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorDivInt(a, b int) int { return int(floorDiv(int64(a), int64(b))) }

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (Howard Hinnant's algorithm); m is 1..12.
func daysFromCivil(y, m, d int) int64 {
	yy := int64(y)
	if m <= 2 {
		yy--
	}
	era := floorDiv(yy, 400)
	yoe := yy - era*400
	mp := int64(m+9) % 12
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int64) (y, m, d int) {
	z += 719468
	era := z / 146097
	if z < 0 {
		era = floorDiv(z, 146097)
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	yy := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	m = int(mp + 3)
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		yy++
	}
	return int(yy), m, d
}

func isLeapYear(y int) bool { return (y%4 == 0 && y%100 != 0) || y%400 == 0 }

func lastDayOfMonth(m, y int) int {
	switch m {
	case 2:
		if isLeapYear(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
