package web

import (
	"cmp"
	"fmt"
	"html/template"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"sundial/engine/config"
	"sundial/engine/scheduler"
)

// Row states, as data-state shows them.
const (
	stateEnabled  = "enabled"
	statePaused   = "paused"
	stateDisabled = "disabled"
	stateInvalid  = "invalid"
	stateRunning  = "running"
)

var rowStates = []string{stateEnabled, statePaused, stateDisabled, stateInvalid, stateRunning}

// stateOf is the one state a row shows: an invalid file first (its last
// good version may still run), then disabled, running, paused, enabled.
func stateOf(r ScheduleRow) string {
	switch {
	case len(r.Errors) > 0 || r.Schedule == nil:
		return stateInvalid
	case r.Status == scheduler.StatusNone:
		return stateDisabled
	case r.Running > 0:
		return stateRunning
	case r.Paused:
		return statePaused
	}
	return stateEnabled
}

// listQuery is the schedules page's URL: filters, sort and page.
type listQuery struct {
	State   string // one of rowStates, or ""
	Service string
	Source  string // "file", "rest" or ""
	Text    string
	Sort    string // one of sortKeys, "-" before it for descending
	Page    int    // 1-based
	Per     int
}

const (
	defaultPer = 50
	maxPer     = 500
	maxText    = 200
)

var sortKeys = []string{"id", "state", "next", "service", "runs", "failures", "skips"}

// parseListQuery reads the schedules page's query; a value out of its set
// is an error naming the parameter.
func parseListQuery(v url.Values) (listQuery, error) {
	q := listQuery{
		State: v.Get("state"), Service: v.Get("service"), Source: v.Get("source"),
		Text: strings.TrimSpace(v.Get("q")), Sort: v.Get("sort"), Page: 1, Per: defaultPer,
	}
	if q.State != "" && !slices.Contains(rowStates, q.State) {
		return q, fmt.Errorf("state %q: want one of %s", q.State, strings.Join(rowStates, ", "))
	}
	if q.Source != "" && q.Source != "file" && q.Source != "rest" {
		return q, fmt.Errorf("source %q: want file or rest", q.Source)
	}
	if len(q.Text) > maxText || len(q.Service) > maxText {
		return q, fmt.Errorf("q and service take at most %d bytes", maxText)
	}
	if q.Sort == "" {
		q.Sort = "id"
	}
	if !slices.Contains(sortKeys, strings.TrimPrefix(q.Sort, "-")) {
		return q, fmt.Errorf("sort %q: want one of %s, with - before it to reverse", q.Sort, strings.Join(sortKeys, ", "))
	}
	for _, p := range []struct {
		name string
		dst  *int
		max  int
	}{{"page", &q.Page, 1 << 20}, {"per", &q.Per, maxPer}} {
		s := v.Get(p.name)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > p.max {
			return q, fmt.Errorf("%s %q: want a whole number from 1 to %d", p.name, s, p.max)
		}
		*p.dst = n
	}
	return q, nil
}

// values is the query as URL parameters, without the defaults.
func (q listQuery) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"state": q.State, "service": q.Service, "source": q.Source, "q": q.Text} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.Sort != "id" {
		v.Set("sort", q.Sort)
	}
	if q.Per != defaultPer {
		v.Set("per", strconv.Itoa(q.Per))
	}
	return v
}

// URL is the schedules page with the query, at page p and sort key.
func (q listQuery) URL(p int, sort string) string {
	v := q.values()
	if sort != "" && sort != "id" {
		v.Set("sort", sort)
	} else if sort == "id" {
		v.Del("sort")
	}
	if p > 1 {
		v.Set("page", strconv.Itoa(p))
	}
	if len(v) == 0 {
		return "/ui/schedules"
	}
	return "/ui/schedules?" + v.Encode()
}

// SortURL toggles the direction when key is the current sort.
func (q listQuery) SortURL(key string) string {
	if q.Sort == key {
		return q.URL(1, "-"+key)
	}
	return q.URL(1, key)
}

// SortMark is the arrow of the current sort column.
func (q listQuery) SortMark(key string) string {
	switch q.Sort {
	case key:
		return "▲"
	case "-" + key:
		return "▼"
	}
	return ""
}

// AriaSort is the column's aria-sort value.
func (q listQuery) AriaSort(key string) string {
	switch q.Sort {
	case key:
		return "ascending"
	case "-" + key:
		return "descending"
	}
	return "none"
}

func serviceOf(r ScheduleRow) string {
	if r.Schedule == nil {
		return ""
	}
	return r.Schedule.InvokeService
}

// matches applies the filters.
func (q listQuery) matches(r ScheduleRow) bool {
	if q.State != "" && stateOf(r) != q.State {
		return false
	}
	if q.Service != "" && serviceOf(r) != q.Service {
		return false
	}
	switch q.Source {
	case "file":
		if r.File == "" {
			return false
		}
	case "rest":
		if r.File != "" {
			return false
		}
	}
	if q.Text != "" {
		t := strings.ToLower(q.Text)
		desc := ""
		if r.Schedule != nil {
			desc = r.Schedule.Description
		}
		if !strings.Contains(strings.ToLower(r.ID), t) && !strings.Contains(strings.ToLower(desc), t) &&
			!strings.Contains(strings.ToLower(r.File), t) {
			return false
		}
	}
	return true
}

// apply filters and sorts rows and returns the page asked for, the
// number of matches and the number of pages. It sorts indexes, not the
// rows (each a few hundred bytes), and ties break on the unique id.
func (q listQuery) apply(rows []ScheduleRow) (pageRows []ScheduleRow, matched, pages int) {
	kept := make([]int32, 0, len(rows))
	for i := range rows {
		if q.matches(rows[i]) {
			kept = append(kept, int32(i))
		}
	}
	key, desc := strings.TrimPrefix(q.Sort, "-"), strings.HasPrefix(q.Sort, "-")
	if key != "id" || desc {
		slices.SortFunc(kept, func(i, j int32) int {
			a, b := &rows[i], &rows[j]
			c := 0
			switch key {
			case "state":
				c = cmp.Compare(stateOf(*a), stateOf(*b))
			case "next":
				// Schedules that will not fire sort last.
				an, bn := a.Next, b.Next
				switch {
				case an.IsZero() && bn.IsZero():
				case an.IsZero():
					c = 1
				case bn.IsZero():
					c = -1
				default:
					c = an.Compare(bn)
				}
			case "service":
				c = cmp.Compare(serviceOf(*a), serviceOf(*b))
			case "runs":
				c = cmp.Compare(a.Runs, b.Runs)
			case "failures":
				c = cmp.Compare(a.Failures, b.Failures)
			case "skips":
				c = cmp.Compare(a.Skips, b.Skips)
			}
			if c == 0 {
				c = cmp.Compare(a.ID, b.ID)
			}
			if desc {
				c = -c
			}
			return c
		})
	}
	matched = len(kept)
	pages = max(1, (matched+q.Per-1)/q.Per)
	from := min((q.Page-1)*q.Per, matched)
	to := min(from+q.Per, matched)
	pageRows = make([]ScheduleRow, 0, to-from)
	for _, i := range kept[from:to] {
		pageRows = append(pageRows, rows[i])
	}
	return pageRows, matched, pages
}

// rowView is one schedule row as the templates render it.
type rowView struct {
	ScheduleRow
	State   string
	Trigger string
	Zone    string
	Service string
	Last    *RunView
	Now     time.Time
	// Operate shows the action buttons; CSRF goes in their forms.
	Operate bool
	CSRF    string
	// Return is the page an action goes back to.
	Return string
}

func newRowView(r ScheduleRow, last *RunView, now time.Time, sess session) rowView {
	v := rowView{ScheduleRow: r, State: stateOf(r), Last: last, Now: now, Operate: sess.CanOperate(), CSRF: sess.csrf, Return: "/ui/schedules"}
	if r.Schedule != nil {
		v.Trigger = describeTrigger(r.Schedule)
		v.Service = r.Schedule.InvokeService
	}
	if r.Location != nil {
		v.Zone = zoneName(r.Location)
	}
	return v
}

// zoneName is the name of loc as the page shows it: the process-local zone
// (time.Local reads "Local" when it came from /etc/localtime) by the name
// the system gives it.
func zoneName(loc *time.Location) string {
	if name := loc.String(); name != "Local" {
		return name
	}
	return localZoneName()
}

// localZoneName is the name of the zone /etc/localtime holds, read once.
var localZoneName = sync.OnceValue(func() string {
	return systemZoneName("/etc/localtime", "/etc/timezone", time.Local)
})

// systemZoneName names the zone of the file at localtime: the zoneinfo name
// its symbolic link points at (…/zoneinfo/Europe/Paris), else the first
// line of the file at timezone (Debian's), else loc's abbreviation now
// (CET), which is all the zone file itself says.
func systemZoneName(localtime, timezone string, loc *time.Location) string {
	if target, err := os.Readlink(localtime); err == nil {
		if _, name, ok := strings.Cut(target, "zoneinfo/"); ok && name != "" {
			return name
		}
	}
	if b, err := os.ReadFile(timezone); err == nil {
		if name, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n"); name != "" {
			return name
		}
	}
	abbr, _ := time.Now().In(loc).Zone()
	return abbr
}

// describeTrigger is the trigger in words: engine/cron's description of a
// cron expression, or the simple trigger's interval and count.
func describeTrigger(s *config.Schedule) string {
	if s.Type == config.TypeSimple {
		switch {
		case s.RepeatCount == 0:
			return "once"
		case s.RepeatInterval == 0:
			return fmt.Sprintf("%d times at once", s.RepeatCount+1)
		case s.RepeatCount < 0:
			return "every " + shortDur(s.RepeatInterval)
		}
		return fmt.Sprintf("every %s, %d times", shortDur(s.RepeatInterval), s.RepeatCount+1)
	}
	if s.Cron != nil {
		return s.Cron.Describe()
	}
	return s.CronSpec
}

// Source is the row's source as the page shows it: file:line, or REST.
func (v rowView) Source() string {
	if v.File == "" {
		return "REST"
	}
	return v.File + ":1"
}

var funcs = template.FuncMap{
	"rel": relTime,
	"abs": func(t time.Time, loc *time.Location) string {
		if t.IsZero() {
			return "—"
		}
		if loc == nil {
			loc = time.UTC
		}
		return t.In(loc).Format("2006-01-02 15:04:05 MST")
	},
	"utc": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"dur": func(d time.Duration) string {
		switch {
		case d == 0:
			return "—"
		case d < 10*time.Millisecond && d > -10*time.Millisecond:
			return d.Round(time.Microsecond).String()
		}
		return d.Round(time.Millisecond).String()
	},
	"short": func(h string) string {
		if len(h) > 12 {
			return h[:12]
		}
		return h
	},
	"add":  func(a, b int) int { return a + b },
	"list": func(s ...string) []string { return s },
	// permille is a position of the timeline as a CSS length.
	"permille":   func(p int) template.CSS { return template.CSS(fmt.Sprintf("%.1f%%", float64(p)/10)) },
	"shortDur":   shortDur,
	"shortID":    shortID,
	"shortStamp": shortStamp,
	"pct": func(a, b int64) int64 {
		if b <= 0 {
			return 0
		}
		return min(100, a*100/b)
	},
	"secs": secs,
}

// secs writes d in seconds to a tenth, without the minus sign of a value
// that rounds to zero ("0.0s", not "-0.0s").
func secs(d time.Duration) string {
	s := fmt.Sprintf("%.1fs", d.Seconds())
	if s == "-0.0s" {
		return "0.0s"
	}
	return s
}

// shortID is a run id cut to its first 8 characters and an ellipsis (a
// UUID's first group); the page gives the whole id in a title.
func shortID(id string) string {
	if len(id) <= 9 {
		return id
	}
	return id[:8] + "…"
}

// shortStamp writes an RFC 3339 time to the second, in UTC; a value that is
// no such time stays as it is.
func shortStamp(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// shortDur writes d without its zero parts: 24h, 1h30m, 90ms.
func shortDur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// relTime says when t is from now: "in 3m20s", "5s ago".
func relTime(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := t.Sub(now)
	ago := d < 0
	if ago {
		d = -d
	}
	var s string
	switch {
	case d < time.Second:
		return "now"
	case d < time.Hour:
		s = shortDur(d.Truncate(time.Second))
	case d < 48*time.Hour:
		s = shortDur(d.Truncate(time.Minute))
	default:
		s = fmt.Sprintf("%dd", int(d.Hours()/24))
	}
	if ago {
		return s + " ago"
	}
	return "in " + s
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
