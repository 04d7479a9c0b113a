package config

import (
	"testing"
	"time"
)

// BenchmarkParseOne splits the cost of one task-scan schedule by stage.
func BenchmarkParseOne(b *testing.B) {
	data := []byte(`{"enabled": true, "type": "cron", "schedule": "0 5 2 ? * MON-FRI", "timeZone": "Europe/Paris", "persisted": true,
  "invokeService": "taskscanner", "invokeContext": {"waitForCompletion": false, "numberOfThreads": 5,
    "scan": {"_queryFilter": "((/sunset/date lt \"${Time.now + 1d}\") AND !(/sunset/task-completed pr))", "object": "managed/user7",
      "taskState": {"started": "/sunset/task-started", "completed": "/sunset/task-completed"}, "recovery": {"timeout": "10m"}},
    "task": {"script": {"type": "text/javascript", "source": "openidm.patch(objectID, null, []); true;"}}}}`)
	env := &scheduleEnv{props: &properties{env: noEnv}, loc: time.UTC, zones: &zoneCache{}}
	b.Run("all", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			parseSchedule(scheduleInput{id: "x", data: data}, env)
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c := &fileCtx{}
			c.decode(data, false, env.props, substituted{})
		}
	})
	c := &fileCtx{}
	root := c.decode(data, false, env.props, substituted{})
	b.Run("schema", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c.validateSchema("schedule", root)
		}
	})
	b.Run("value", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			root.value()
		}
	})
	b.Run("build", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			bb := &builder{fileCtx: c, root: root, env: env}
			bb.build("x", "x")
		}
	})
}
