package cron

import "time"

// maxIterations bounds the search. Quartz's own bound is the year 2999, which
// any search reaches within about 15,000 steps; this only ends the loops
// Quartz itself never leaves ("L-30W" searching from January).
const maxIterations = 100_000

// Next returns the first fire time strictly after after, computed in
// after.Location() as Quartz computes in the expression's time zone, or the
// zero time when the expression never fires again. Wall times in a DST gap
// never fire; a repeated wall time fires at its later occurrence.
//
// When the expression is plain (see isPlain) and its next fire time lies in
// the zone period of after, with no DST transition near, Next computes it in
// wall-clock arithmetic (nextPlain); every other search is Quartz's, step for
// step (see search).
func (e *Expression) Next(after time.Time) time.Time {
	loc := after.Location()
	base := after.Add(time.Second)
	baseSec := base.Unix()
	z := newZoneCache(loc)
	// With W, Quartz compares a fire time with the start to the millisecond:
	// a start with a fraction of a second is left to the search.
	plain := e.plain && (!e.nearestWeekday || base.Nanosecond() == 0)
	if w := z.wallOf(baseSec); plain && w >= z.safeLo && w < z.safeHi {
		if fire, ok := e.nextPlain(w, &z); ok && fire < z.safeHi {
			return time.Unix(fire-z.off, 0).In(loc)
		}
	}
	return e.search(after, &z)
}

// search is Quartz's CronExpression.getTimeAfter, step for step, on a
// lenient calendar (see calendar.go) in z's location, which is after's: it
// starts at the whole second after after, and moves field by field (second,
// minute, hour, day, month, year) to the next allowed value, restarting from
// the seconds whenever a larger field changed.
func (e *Expression) search(after time.Time, z *zoneCache) time.Time {
	loc := after.Location()
	base := after.Add(time.Second)
	baseSec, baseNsec := base.Unix(), base.Nanosecond()
	// before reports whether the whole-second instant n is before base.
	before := func(n int64) bool { return n < baseSec || (n == baseSec && baseNsec > 0) }

	cl := calendar{z: z}
	cl.setWall(z.wallOf(baseSec))
	cl.dirty = true // Quartz sets MILLISECOND, so the first read maps the fields back

	secs, mins, hours := &e.sets[second], &e.sets[minute], &e.sets[hour]
	doms, months, dows, years := &e.sets[dayOfMonth], &e.sets[month], &e.sets[dayOfWeek], &e.sets[year]

	for iter := 0; ; iter++ {
		if iter > maxIterations || cl.getYear() > hardMaxYear {
			return time.Time{}
		}

		// Second.
		sec := cl.getSecond()
		min := cl.getMinute()
		if v, ok := secs.ceil(sec); ok {
			sec = v
		} else {
			sec, _ = secs.first()
			min++
			cl.setMinute(min)
		}
		cl.setSecond(sec)

		// Minute.
		min = cl.getMinute()
		hr := cl.getHour()
		t := -1
		if v, ok := mins.ceil(min); ok {
			t = min
			min = v
		} else {
			min, _ = mins.first()
			hr++
		}
		if min != t {
			cl.setSecond(0)
			cl.setMinute(min)
			setCalendarHour(&cl, hr)
			continue
		}
		cl.setMinute(min)

		// Hour.
		hr = cl.getHour()
		day := cl.getDay()
		t = -1
		if v, ok := hours.ceil(hr); ok {
			t = hr
			hr = v
		} else {
			hr, _ = hours.first()
			day++
		}
		if hr != t {
			cl.setSecond(0)
			cl.setMinute(0)
			cl.setDay(day)
			setCalendarHour(&cl, hr)
			continue
		}
		cl.setHour(hr)

		// Day of month or day of week.
		day = cl.getDay()
		mon := cl.getMonth()
		t = -1
		tmon := mon
		if e.domSpec && !e.dowSpec {
			switch {
			case e.lastdayOfMonth && !e.nearestWeekday:
				t = day
				day = lastDayOfMonth(mon, cl.getYear()) - int(e.lastdayOffset)
				if t > day {
					mon++
					if mon > 12 {
						mon = 1
						tmon = 3333 // forces the restart below
						cl.addYear(1)
					}
					day = 1
				}
			case e.lastdayOfMonth: // "LW", "L-nW"
				t = day
				day = lastDayOfMonth(mon, cl.getYear()) - int(e.lastdayOffset)
				var n int64
				day, n = nearestWeekday(&cl, cl.getYear(), mon, day, hr, min, sec)
				if before(n) {
					day = 1
					mon++
				}
			case e.nearestWeekday: // "nW"
				t = day
				first, _ := doms.first()
				var n int64
				day, n = nearestWeekday(&cl, cl.getYear(), mon, first, hr, min, sec)
				if before(n) {
					day = first
					mon++
				}
			default:
				if v, ok := doms.ceil(day); ok {
					t = day
					day = v
					if day > lastDayOfMonth(mon, cl.getYear()) {
						day, _ = doms.first()
						mon++
					}
				} else {
					day, _ = doms.first()
					mon++
				}
			}
			if day != t || mon != tmon {
				cl.setSecond(0)
				cl.setMinute(0)
				cl.setHour(0)
				cl.setDay(day)
				cl.setMonth(mon)
				continue
			}
		} else {
			restart := false
			day, restart = e.dayOfWeekStep(&cl, day, mon, dows)
			if restart {
				continue
			}
		}
		cl.setDay(day)

		// Month.
		mon = cl.getMonth()
		yr := cl.getYear()
		t = -1
		if yr > maxYear {
			return time.Time{}
		}
		if v, ok := months.ceil(mon); ok {
			t = mon
			mon = v
		} else {
			mon, _ = months.first()
			yr++
		}
		if mon != t {
			cl.setSecond(0)
			cl.setMinute(0)
			cl.setHour(0)
			cl.setDay(1)
			cl.setMonth(mon)
			cl.setYear(yr)
			continue
		}
		cl.setMonth(mon)

		// Year.
		yr = cl.getYear()
		t = -1
		if v, ok := years.ceil(yr); ok {
			t = yr
			yr = v
		} else {
			return time.Time{}
		}
		if yr != t {
			cl.setSecond(0)
			cl.setMinute(0)
			cl.setHour(0)
			cl.setDay(1)
			cl.setMonth(1)
			cl.setYear(yr)
			continue
		}
		cl.setYear(yr)
		next := time.Unix(cl.instant(), 0).In(loc)
		if !next.After(after) {
			return time.Time{} // never go backwards, whatever the fields said
		}
		return next
	}
}

// nextPlain returns the first wall time at or after w that every field
// allows, in wall-clock arithmetic alone, or false when there is none by
// maxYear. For a plain expression (see isPlain), this is where Quartz's
// search ends whenever no DST transition comes near: its steps on the lenient
// calendar are then this same arithmetic. TestNextPlainIsQuartz checks the
// two against each other.
func (e *Expression) nextPlain(w int64, z *zoneCache) (int64, bool) {
	days := floorDiv(w, secondsPerDay)
	rem := int(w - days*secondsPerDay)
	h, mi, s := rem/3600, rem/60%60, rem%60
	if days < 0 { // before 1970
		return 0, false
	}
	if e.anyDate {
		fire := days * secondsPerDay
		h, mi, s, ok := e.firstTimeFrom(h, mi, s)
		if !ok {
			fire += secondsPerDay
			h, mi, s, _ = e.firstTimeFrom(0, 0, 0)
		}
		fire += int64(h*3600 + mi*60 + s)
		return fire, fire < endOfMaxYear
	}
	y, mo, d := civilFromDays(days)
	doms, months, dows, years := &e.sets[dayOfMonth], &e.sets[month], &e.sets[dayOfWeek], &e.sets[year]
	byDom := e.domSpec && !e.dowSpec
	// Days since the epoch of the 1st of (msYear, msMonth).
	ms, msYear, msMonth := days-int64(d-1), y, mo
	for {
		if y > maxYear {
			return 0, false
		}
		if v, ok := years.ceil(y); !ok {
			return 0, false
		} else if v != y {
			y, mo, d, h, mi, s = v, 1, 1, 0, 0, 0
			continue
		}
		if v, ok := months.ceil(mo); !ok {
			y, mo, d, h, mi, s = y+1, 1, 1, 0, 0, 0
			continue
		} else if v != mo {
			mo, d, h, mi, s = v, 1, 0, 0, 0
		}
		ld := lastDayOfMonth(mo, y)
		if y != msYear || mo != msMonth {
			ms, msYear, msMonth = daysFromCivil(y, mo, 1), y, mo
		}
		// weekday returns the day of the week of day, 1 = Sunday … 7 = Saturday.
		weekday := func(day int) int { return int(floorMod(ms+int64(day)+3, 7)) + 1 }
		day, found := 0, false
		switch {
		case !byDom && e.lastdayOfWeek: // "nL"
			dow, _ := dows.first()
			day = ld - int(floorMod(int64(weekday(ld)-dow), 7))
			found = d <= day
		case !byDom && e.nthdayOfWeek != 0: // "n#k"
			dow, _ := dows.first()
			day = 1 + int(floorMod(int64(dow-weekday(1)), 7)) + 7*(int(e.nthdayOfWeek)-1)
			found = d <= day && day <= ld
		case !byDom:
			wd := weekday(d) - 1 // 0 = Sunday
			k := 0
			for k < 7 && !dows.contains((wd+k)%7+1) {
				k++
			}
			day, found = d+k, k < 7 && d+k <= ld
		case e.lastdayOfMonth: // "L", "L-n", "LW", "L-nW"
			day = ld - int(e.lastdayOffset)
			if e.nearestWeekday {
				// Quartz reads the weekday, and the fire time it compares
				// with the start, on a calendar of their own: away from
				// DST, the same arithmetic.
				near := weekdayAdjust(day, weekday(day), ld)
				first := (ms + int64(min(day, near)) - 1) * secondsPerDay
				last := (ms + int64(max(day, near))) * secondsPerDay
				if first < z.safeLo || last > z.safeHi {
					return 0, false
				}
				day = near
			}
			found = d <= day
		default:
			v, ok := doms.ceil(d)
			day, found = v, ok && v <= ld
		}
		if !found {
			y, mo = nextMonth(y, mo)
			d, h, mi, s = 1, 0, 0, 0
			continue
		}
		if day != d {
			d, h, mi, s = day, 0, 0, 0
		}
		var ok bool
		if h, mi, s, ok = e.firstTimeFrom(h, mi, s); !ok {
			y, mo, d = dayAfter(y, mo, d, ld)
			h, mi, s = 0, 0, 0
			continue
		}
		return (ms+int64(d)-1)*secondsPerDay + int64(h*3600+mi*60+s), true
	}
}

// endOfMaxYear is the wall time at which maxYear ends.
var endOfMaxYear = daysFromCivil(maxYear+1, 1, 1) * secondsPerDay

// firstTimeFrom returns the first time of day at or after h:mi:s that the
// hour, minute and second fields allow, or false when none is left that day.
func (e *Expression) firstTimeFrom(h, mi, s int) (int, int, int, bool) {
	secs, mins, hours := &e.sets[second], &e.sets[minute], &e.sets[hour]
	for {
		v, ok := hours.ceil(h)
		if !ok {
			return 0, 0, 0, false
		}
		if v != h {
			h, mi, s = v, 0, 0
		}
		if v, ok = mins.ceil(mi); !ok {
			if h == 23 {
				return 0, 0, 0, false
			}
			h, mi, s = h+1, 0, 0
			continue
		}
		if v != mi {
			mi, s = v, 0
		}
		if v, ok = secs.ceil(s); ok {
			return h, mi, v, true
		}
		switch {
		case mi < 59:
			mi, s = mi+1, 0
		case h < 23:
			h, mi, s = h+1, 0, 0
		default:
			return 0, 0, 0, false
		}
	}
}

// dayAfter returns the day after (y, mo, d), ld being the month's last day.
func dayAfter(y, mo, d, ld int) (int, int, int) {
	if d < ld {
		return y, mo, d + 1
	}
	y, mo = nextMonth(y, mo)
	return y, mo, 1
}

func nextMonth(y, mo int) (int, int) {
	if mo == 12 {
		return y + 1, 1
	}
	return y, mo + 1
}

// setCalendarHour is Quartz's setCalendarHour: set the hour, and if the wall
// time read back has another hour (a DST gap), set the hour after it.
func setCalendarHour(cl *calendar, hr int) {
	cl.setHour(hr)
	if cl.getHour() != hr && hr != 24 {
		cl.setHour(hr + 1)
	}
}

// nearestWeekday moves day of (yr, mon) to the nearest weekday inside the
// month, as Quartz does on a scratch lenient calendar set to that day at
// midnight (so a day past the month's end is read in the next month). It
// returns the day and the instant of the candidate fire time, built on the
// scratch calendar with the year it read back.
func nearestWeekday(cl *calendar, yr, mon, day, hr, min, sec int) (int, int64) {
	tcal := calendar{z: cl.z, year: yr, month: mon, day: day, dirty: true,
		mYear: cl.mYear, mMonth: cl.mMonth, mStart: cl.mStart} // most often the same month
	day = weekdayAdjust(day, tcal.getWeekday(), lastDayOfMonth(mon, yr))
	tcal.setSecond(sec)
	tcal.setMinute(min)
	tcal.setHour(hr)
	tcal.setDay(day)
	tcal.setMonth(mon)
	return day, tcal.instant()
}

// weekdayAdjust moves day, a dow (1 = Sunday … 7 = Saturday) in a month of
// ldom days, to the nearest weekday inside the month, as Quartz's W does.
func weekdayAdjust(day, dow, ldom int) int {
	switch {
	case dow == 7 && day == 1:
		return day + 2
	case dow == 7:
		return day - 1
	case dow == 1 && day == ldom:
		return day - 2
	case dow == 1:
		return day + 1
	}
	return day
}

// dayOfWeekStep runs the day-of-week part of the search. It returns the day
// to keep, or restart = true after moving the calendar.
func (e *Expression) dayOfWeekStep(cl *calendar, day, mon int, dows *intSet) (int, bool) {
	daysUntil := func(cDow, dow int) int {
		switch {
		case cDow < dow:
			return dow - cDow
		case cDow > dow:
			return dow + (7 - cDow)
		}
		return 0
	}
	nextMonth := func() {
		cl.setSecond(0)
		cl.setMinute(0)
		cl.setHour(0)
		cl.setDay(1)
		cl.setMonth(mon + 1)
	}
	moveTo := func(d int) {
		cl.setSecond(0)
		cl.setMinute(0)
		cl.setHour(0)
		cl.setDay(d)
		cl.setMonth(mon)
	}
	switch {
	case e.lastdayOfWeek: // "nL": the last n-weekday of the month
		dow, _ := dows.first()
		daysToAdd := daysUntil(cl.getWeekday(), dow)
		lDay := lastDayOfMonth(mon, cl.getYear())
		if day+daysToAdd > lDay {
			nextMonth()
			return 0, true
		}
		for day+daysToAdd+7 <= lDay {
			daysToAdd += 7
		}
		day += daysToAdd
		if daysToAdd > 0 {
			moveTo(day)
			return 0, true
		}
	case e.nthdayOfWeek != 0: // "n#k": the k-th n-weekday of the month
		dow, _ := dows.first()
		daysToAdd := daysUntil(cl.getWeekday(), dow)
		dayShifted := daysToAdd > 0
		day += daysToAdd
		weekOfMonth := day / 7
		if day%7 > 0 {
			weekOfMonth++
		}
		daysToAdd = (int(e.nthdayOfWeek) - weekOfMonth) * 7
		day += daysToAdd
		if daysToAdd < 0 || day > lastDayOfMonth(mon, cl.getYear()) {
			nextMonth()
			return 0, true
		}
		if daysToAdd > 0 || dayShifted {
			moveTo(day)
			return 0, true
		}
	default:
		cDow := cl.getWeekday()
		dow, _ := dows.first()
		if v, ok := dows.ceil(cDow); ok {
			dow = v
		}
		daysToAdd := daysUntil(cDow, dow)
		if day+daysToAdd > lastDayOfMonth(mon, cl.getYear()) {
			nextMonth()
			return 0, true
		}
		if daysToAdd > 0 {
			moveTo(day + daysToAdd)
			return 0, true
		}
	}
	return day, false
}
