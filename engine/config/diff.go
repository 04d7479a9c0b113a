package config

import (
	"reflect"
	"sort"
	"strings"
)

// Plan is what applying a new snapshot changes: the review view of
// `sundial validate --against` and the summary the scheduler logs when it
// reconciles.
type Plan struct {
	Added     []string // schedule ids, sorted
	Removed   []string
	Changed   []Change // by id
	Unchanged []string
	// Scheduler lists the scheduler.json settings that changed, e.g.
	// "threadPool.threadCount".
	Scheduler []string
}

// Change is one changed schedule and the keys that differ, as dotted paths
// of the ForgeRock resource shape ("schedule", "invokeContext.scan.object").
type Change struct {
	ID   string
	Keys []string
}

// Empty reports whether the plan changes nothing.
func (p Plan) Empty() bool {
	return len(p.Added) == 0 && len(p.Removed) == 0 && len(p.Changed) == 0 && len(p.Scheduler) == 0
}

// Diff compares two snapshots by schedule id. A nil old means everything in
// new is added. Schedules whose hash differs only cosmetically (comments,
// layout) are unchanged.
func Diff(old, new *Desired) Plan {
	var p Plan
	var oldS, newS map[string]*Schedule
	if old != nil {
		oldS = old.Schedules
	}
	if new != nil {
		newS = new.Schedules
	}
	for id, n := range newS {
		o, ok := oldS[id]
		switch {
		case !ok:
			p.Added = append(p.Added, id)
		case o == n || o.Hash == n.Hash:
			p.Unchanged = append(p.Unchanged, id)
		default:
			if keys := ChangedKeys(o, n); len(keys) > 0 {
				p.Changed = append(p.Changed, Change{ID: id, Keys: keys})
			} else {
				p.Unchanged = append(p.Unchanged, id)
			}
		}
	}
	for id := range oldS {
		if _, ok := newS[id]; !ok {
			p.Removed = append(p.Removed, id)
		}
	}
	sort.Strings(p.Added)
	sort.Strings(p.Removed)
	sort.Strings(p.Unchanged)
	sort.Slice(p.Changed, func(i, j int) bool { return p.Changed[i].ID < p.Changed[j].ID })
	if old != nil && new != nil {
		p.Scheduler = schedulerChanges(old.Scheduler, new.Scheduler)
	}
	return p
}

// Equal reports whether two schedules mean the same: same settings, same
// effective zone.
func (s *Schedule) Equal(o *Schedule) bool {
	if s == o {
		return true
	}
	if s == nil || o == nil {
		return false
	}
	return len(ChangedKeys(s, o)) == 0
}

// ChangedKeys lists the keys of the resource shape that differ between two
// versions of a schedule, as sorted dotted paths; objects inside
// invokeContext are compared key by key. "timeZone" is listed when the
// effective zone differs even though the key did not.
func ChangedKeys(a, b *Schedule) []string {
	var keys []string
	diffValues("", a.Config(), b.Config(), &keys)
	if a.Location.String() != b.Location.String() && !contains(keys, "timeZone") {
		keys = append(keys, "timeZone")
	}
	sort.Strings(keys)
	return keys
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func diffValues(path string, a, b any, out *[]string) {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if !aok || !bok {
		if !reflect.DeepEqual(a, b) {
			*out = append(*out, path)
		}
		return
	}
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	for k, av := range am {
		bv, ok := bm[k]
		if !ok {
			*out = append(*out, join(k))
			continue
		}
		diffValues(join(k), av, bv, out)
	}
	for k := range bm {
		if _, ok := am[k]; !ok {
			*out = append(*out, join(k))
		}
	}
}

func schedulerChanges(a, b SchedulerConfig) []string {
	var out []string
	if a.ThreadCount != b.ThreadCount {
		out = append(out, "threadPool.threadCount")
	}
	if a.ExecutePersistentSchedules != b.ExecutePersistentSchedules {
		out = append(out, "scheduler.executePersistentSchedules")
	}
	if a.MisfireThreshold != b.MisfireThreshold {
		out = append(out, "advancedProperties."+PropMisfireThreshold)
	}
	if locName(a) != locName(b) {
		out = append(out, "advancedProperties."+PropTimeZone)
	}
	return out
}

func locName(c SchedulerConfig) string {
	if c.Location == nil {
		return ""
	}
	return c.Location.String()
}

// String renders a plan in a few lines, e.g. for a reconcile log line.
func (p Plan) String() string {
	var b strings.Builder
	for _, id := range p.Added {
		b.WriteString("+ " + id + "\n")
	}
	for _, id := range p.Removed {
		b.WriteString("- " + id + "\n")
	}
	for _, c := range p.Changed {
		b.WriteString("~ " + c.ID + " (" + strings.Join(c.Keys, ", ") + ")\n")
	}
	if len(p.Scheduler) > 0 {
		b.WriteString("~ scheduler (" + strings.Join(p.Scheduler, ", ") + ")\n")
	}
	return b.String()
}
