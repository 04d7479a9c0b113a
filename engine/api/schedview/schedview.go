// Package schedview builds the REST resources of the scheduler in IDM 7's
// shapes: a schedule as a job (/openidm/scheduler/job/<id>) with its
// trigger, and the trigger alone (/openidm/scheduler/trigger/<id>). It
// holds no state: every call builds the maps anew from a scheduler view.
package schedview

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"sundial/engine/api/crest"
	"sundial/engine/config"
	"sundial/engine/scheduler"
	"sundial/engine/trigger"
)

// Group is the Quartz group of every job and trigger, as in IDM.
const Group = "scheduler-service-group"

// TriggerID returns the _id of the trigger of schedule id:
// scheduler-service-group.trigger-<id>.
func TriggerID(id string) string { return Group + "." + triggerName(id) }

func triggerName(id string) string { return "trigger-" + id }

// dateLayout is the form of previousRunDate and nextRunDate: Joda's ISO
// form in UTC with milliseconds.
const dateLayout = "2006-01-02T15:04:05.000Z"

// JobParams is what a job resource is built from.
type JobParams struct {
	Info scheduler.ScheduleInfo
	// NodeID is the node that holds the trigger; "" shows null.
	NodeID string
	// Rev is the stored revision of a schedule created over REST; "" makes
	// it a hash of the resource's content.
	Rev string
	// TriggerRev is the stored trigger's revision; "" makes the trigger's
	// _rev a hash of its content.
	TriggerRev string
	// TriggerStart is when the trigger was created, shown as its startTime
	// when the schedule has none; zero shows the schedule's next fire.
	TriggerStart time.Time
	// Contexts decodes the invokeContext, shared with the other jobs of
	// one answer built with the same cache; nil decodes it for this job
	// alone.
	Contexts *config.ContextCache
}

// Job returns the job resource of one schedule: _id, the normalised
// schedule keys, triggers ([] when disabled), previousRunDate and
// nextRunDate (null when there is no trigger or no such fire).
func Job(p JobParams) crest.Resource {
	cfg := jobConfig(p)
	// The config's keys and the three below, in a map sized for them all.
	fields := make(map[string]any, len(cfg)+3)
	maps.Copy(fields, cfg)
	triggers := []any{}
	var prevRun, nextRun any
	if tr, ok := triggerOf(p, cfg); ok {
		m := tr.Fields
		m["_id"], m["_rev"] = tr.ID, tr.Rev
		triggers = append(triggers, m)
		prevRun, nextRun = runDate(p.Info.PreviousFireTime), runDate(p.Info.NextFireTime)
	}
	fields["triggers"] = triggers
	fields["previousRunDate"] = prevRun
	fields["nextRunDate"] = nextRun
	rev := p.Rev
	if rev == "" {
		rev = stateRev("job", p, fields)
	}
	return crest.Resource{ID: p.Info.ID, Rev: rev, Fields: fields}
}

// Trigger returns the trigger resource of one schedule; false when the
// schedule has none (disabled).
func Trigger(p JobParams) (crest.Resource, bool) {
	return triggerOf(p, jobConfig(p))
}

// triggerOf is Trigger over the schedule's config, which it shares (the
// caller must not change it afterwards).
func triggerOf(p JobParams, cfg map[string]any) (crest.Resource, bool) {
	info := p.Info
	s := info.Schedule
	if !s.Enabled || info.Status == scheduler.StatusNone {
		return crest.Resource{}, false
	}
	name := triggerName(info.ID)
	ser := map[string]any{
		"calendarName":       nil,
		"description":        nil,
		"endTime":            epochMillis(s.EndTime),
		"fireInstanceId":     nil,
		"group":              Group,
		"jobGroup":           Group,
		"jobName":            info.ID,
		"name":               name,
		"misfireInstruction": misfireInstruction(s),
		"nextFireTime":       epochMillis(info.NextFireTime),
		"previousFireTime":   epochMillis(info.PreviousFireTime),
		"priority":           5,
		"timesTriggered":     info.TimesTriggered,
		"volatility":         false,
		"jobDataMap": map[string]any{
			"scheduler.invokeService":  cfg["invokeService"],
			"scheduler.config-name":    "scheduler-" + info.ID,
			"scheduler.invokeContext":  cfg["invokeContext"],
			"schedule.config":          cfg,
			"scheduler.invokeLogLevel": cfg["invokeLogLevel"],
		},
	}
	start := s.StartTime
	if start.IsZero() {
		start = p.TriggerStart
	}
	if start.IsZero() {
		start = info.NextFireTime
	}
	ser["startTime"] = epochMillis(start)
	if s.Type == config.TypeCron {
		ser["type"] = "CronTriggerImpl"
		ser["cronEx"] = map[string]any{"cronExpression": s.CronSpec, "timeZone": zoneName(s.Location)}
	} else {
		ser["type"] = "SimpleTriggerImpl"
		ser["repeatInterval"] = s.RepeatInterval.Milliseconds()
		ser["repeatCount"] = s.RepeatCount
	}
	var node any
	if p.NodeID != "" {
		node = p.NodeID
	}
	fields := map[string]any{
		"calendar":      nil,
		"group":         Group,
		"jobKey":        Group + "." + info.ID,
		"name":          name,
		"nodeId":        node,
		"previousState": nil,
		"state":         string(triggerState(info)),
		"serialized":    ser,
	}
	id := TriggerID(info.ID)
	rev := p.TriggerRev
	if rev == "" {
		rev = stateRev("trigger", p, fields)
	}
	return crest.Resource{ID: id, Rev: rev, Fields: fields}, true
}

// jobConfig is the schedule's normalised config as IDM 7 shows it in a
// job: timeZone only when the schedule has one.
func jobConfig(p JobParams) map[string]any {
	s := p.Info.Schedule
	var cfg map[string]any
	if p.Contexts != nil {
		cfg = s.SharedConfig(p.Contexts)
	} else {
		cfg = s.Config()
	}
	if cfg["timeZone"] == nil {
		delete(cfg, "timeZone")
	}
	return cfg
}

func triggerState(info scheduler.ScheduleInfo) scheduler.Status {
	if info.Paused && info.Status == scheduler.StatusNormal {
		return scheduler.StatusPaused
	}
	return info.Status
}

// misfireInstruction returns the Quartz number of the trigger's misfire
// instruction: CronTrigger's 1 and 2, SimpleTrigger's 1 to 5.
func misfireInstruction(s *config.Schedule) int {
	kind, policy := trigger.Simple, trigger.FireAndProceed
	if s.Type == config.TypeCron {
		kind = trigger.Cron
	}
	if s.MisfirePolicy == config.MisfireDoNothing {
		policy = trigger.DoNothing
	}
	in := trigger.InstructionFor(kind, policy, s.RepeatCount)
	if kind == trigger.Cron {
		return int(in - trigger.CronFireOnceNow + 1)
	}
	return int(in - trigger.SimpleFireNow + 1)
}

func zoneName(loc *time.Location) any {
	if loc == nil {
		return nil
	}
	return config.ZoneID(loc)
}

func epochMillis(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

func runDate(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(dateLayout)
}

// stateRev is a revision that changes exactly when the resource's content
// does, from what the content is made of: the schedule's definition (its
// Hash) and zone, and the trigger's state, node and start. Hashing those
// few values instead of the content keeps a query of thousands of jobs
// from encoding each one twice. A schedule without a Hash falls back to
// contentRev.
func stateRev(kind string, p JobParams, fields map[string]any) string {
	s, info := p.Info.Schedule, p.Info
	if s.Hash == "" {
		return contentRev(kind+"\x00"+info.ID, fields)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\x00%t\x00%d\x00%d\x00%d\x00%s\x00%d",
		kind, info.ID, s.Hash, zoneName(s.Location), info.Status, info.Paused,
		unixNanos(info.NextFireTime), unixNanos(info.PreviousFireTime), info.TimesTriggered,
		p.NodeID, unixNanos(p.TriggerStart))
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func unixNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// contentRev is a revision that changes exactly when the resource's
// content does: 16 hex digits of a hash of its JSON (map keys sorted).
func contentRev(id string, fields map[string]any) string {
	h := sha256.New()
	h.Write([]byte(id))
	h.Write([]byte{0})
	if data, err := json.Marshal(fields); err == nil {
		h.Write(data)
	} else {
		// Fields hold decoded JSON only, so this is not expected; fmt
		// prints maps in key order, which keeps the hash stable anyway.
		fmt.Fprint(h, fields)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}
