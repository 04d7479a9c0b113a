package config

import (
	"time"
)

// Keys of scheduler.json's advancedProperties that Sundial reads.
const (
	PropMisfireThreshold = "org.quartz.jobStore.misfireThreshold"
	PropTimeZone         = "sundial.timeZone"
)

// DefaultSchedulerConfig is the scheduler configuration without a
// scheduler.json: IDM's defaults, in the server's zone.
func DefaultSchedulerConfig() SchedulerConfig {
	return SchedulerConfig{
		ThreadCount:                10,
		ExecutePersistentSchedules: true,
		MisfireThreshold:           10 * time.Second,
		Location:                   time.Local,
	}
}

// parseSchedulerFile reads scheduler.json (or .yaml).
func parseSchedulerFile(c *fileCtx, data []byte, isYAML bool, props *properties, used substituted, zones *zoneCache) SchedulerConfig {
	sc := DefaultSchedulerConfig()
	root := c.decode(data, isYAML, props, used)
	if root == nil {
		// An empty file would silently reset every setting to its default
		// (a thread count, a zone): it is an error, and the last good
		// settings stay. Without a scheduler file the defaults apply.
		if len(c.errs) == 0 {
			c.errs = append(c.errs, &FileError{File: c.file, Line: 1, Col: 1, Err: errorf(ErrEmpty, "empty scheduler file: delete it to use the defaults")})
		}
		return sc
	}
	c.validateSchema("scheduler", root)
	if n, ok := integer(root.get("threadPool").get("threadCount")); ok && n >= 1 {
		if n > 10000 {
			c.errAt(root.get("threadPool").get("threadCount"), "/threadPool/threadCount", errorf(ErrInvalidValue, "threadPool.threadCount: %d workers is more than the limit of 10000", n))
		} else {
			sc.ThreadCount = int(n)
		}
	}
	sc.ExecutePersistentSchedules = boolean(root.get("scheduler").get("executePersistentSchedules"), true)
	if n := root.get("scheduler").keyNode("instanceId"); n != nil {
		c.warnAt(n, "/scheduler/instanceId", errorf(ErrIgnored, "scheduler.instanceId is ignored: the node id is the boot property openidm.node.id"))
	}
	adv := root.get("advancedProperties")
	if ms, ok := integer(adv.get(PropMisfireThreshold)); ok && ms >= 0 {
		if ms > int64(24*time.Hour/time.Millisecond) {
			c.errAt(adv.get(PropMisfireThreshold), "/advancedProperties/"+PropMisfireThreshold, errorf(ErrInvalidValue, "advancedProperties.%s: %d ms is more than a day", PropMisfireThreshold, ms))
		} else {
			sc.MisfireThreshold = time.Duration(ms) * time.Millisecond
		}
	}
	if n := adv.get(PropTimeZone); n != nil && n.kind == kindString && n.s != "" {
		loc, err := zones.load(n.s)
		if err != nil {
			c.errAt(n, "/advancedProperties/"+PropTimeZone, prefixed("advancedProperties."+PropTimeZone, err))
		} else {
			sc.Location = loc
		}
	}
	sortErrors(c.errs)
	sortErrors(c.warns)
	return sc
}
