package config

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// zoneForms says which zone ids ParseZone accepts; every error about a zone
// ends with it.
const zoneForms = `use an IANA name such as "Europe/Paris", or UTC, GMT, UT, Z, or an offset from UTC as Java writes it: ` +
	`GMT+2, GMT+02, GMT+02:00, GMT+0200, the same after UTC or UT, or alone (+02:00, -5); hours up to 18; ` +
	`GMT+2 is two hours ahead of UTC (the opposite of POSIX's Etc/GMT+2)`

// javaOffset is an offset id as java.time.ZoneId.of and
// java.util.TimeZone.getTimeZone read it: an optional GMT, UTC or UT prefix,
// a sign, and hours (1 or 2 digits) with optional minutes (2 digits, with or
// without a colon).
var javaOffset = regexp.MustCompile(`^(GMT|UTC|UT|)([+-])(\d{1,2})(?::?(\d{2}))?$`)

// ParseZone reads a time-zone id the way IDM's Java reads one, and is how
// every zone of a conf directory is read (a schedule's timeZone, the
// scheduler's default zone):
//
//   - a region id of the IANA database, exact case ("Europe/Paris",
//     "America/New_York", "Etc/GMT+2"), from the database embedded in the
//     binary;
//   - "UTC", "GMT", "UT" and "Z": UTC;
//   - an offset from UTC with a "GMT", "UTC" or "UT" prefix, or none:
//     "GMT+2", "GMT+02", "GMT+02:00", "GMT+0200", "UTC-5", "UT+01:30",
//     "+02:00", "-0530". Hours go up to 18 and minutes up to 59, as in
//     java.time.ZoneOffset. The sign is Java's: GMT+2 is two hours ahead of
//     UTC, the opposite of POSIX's Etc/GMT+2. The zone is named in Java's
//     normalised form ("GMT+02:00"; "GMT" for a zero offset).
//
// Anything else ("utc", "Local", "GMT+2:00", "GMT+19", a path) is an error
// wrapping ErrInvalidTimeZone that lists these forms.
func ParseZone(name string) (*time.Location, error) {
	switch name {
	case "UT", "Z":
		return time.FixedZone(name, 0), nil
	}
	if m := javaOffset.FindStringSubmatch(name); m != nil {
		h, _ := strconv.Atoi(m[3])
		mi := 0
		if m[4] != "" {
			mi, _ = strconv.Atoi(m[4])
		}
		if h > 18 || mi > 59 || h == 18 && mi > 0 {
			return nil, errorf(ErrInvalidTimeZone, "unknown time zone %q: the offset is out of range: %s", name, zoneForms)
		}
		off := h*3600 + mi*60
		if m[2] == "-" {
			off = -off
		}
		id := m[1]
		switch {
		case off == 0 && id == "":
			id = "Z"
		case off != 0:
			id += fmt.Sprintf("%s%02d:%02d", m[2], h, mi)
		}
		return time.FixedZone(id, off), nil
	}
	if name == "" || name == "Local" || strings.ContainsAny(name, " \\") || strings.HasPrefix(name, "/") || strings.Contains(name, "..") {
		return nil, errorf(ErrInvalidTimeZone, "unknown time zone %q: %s", name, zoneForms)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, errorw(ErrInvalidTimeZone, err, "unknown time zone %q: %s", name, zoneForms)
	}
	return loc, nil
}

// ZoneID names a zone as IDM shows it (a Java zone id). The machine's own
// zone, which Go calls "Local", is named by its IANA name when the TZ
// variable or /etc/localtime gives it, else "UTC" when it is UTC.
func ZoneID(loc *time.Location) string {
	if loc != time.Local {
		return loc.String()
	}
	localZoneOnce.Do(func() { localZoneID = localZone() })
	return localZoneID
}

var (
	localZoneOnce sync.Once
	localZoneID   string
)

func localZone() string {
	if tz := strings.TrimPrefix(os.Getenv("TZ"), ":"); tz != "" && !strings.HasPrefix(tz, "/") {
		return tz
	}
	if target, err := os.Readlink("/etc/localtime"); err == nil {
		if _, name, ok := strings.Cut(target, "zoneinfo/"); ok && name != "" {
			return name
		}
	}
	if _, off := time.Now().In(time.Local).Zone(); off == 0 {
		return "UTC"
	}
	return "Local"
}
