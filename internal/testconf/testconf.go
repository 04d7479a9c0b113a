// Package testconf writes conf directories for tests and benchmarks.
package testconf

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// IdleSchedules writes n cron script schedules firing daily at 03:00, as an
// IDM conf directory holds them (one schedule-idle-NNNNNN.json each, with
// its own script source), into a new temporary directory and returns it.
func IdleSchedules(tb testing.TB, n int) string {
	tb.Helper()
	dir := tb.TempDir()
	for i := range n {
		id := fmt.Sprintf("idle-%06d", i)
		data := fmt.Sprintf(`{
    "enabled" : true,
    "type" : "cron",
    "schedule" : "0 0 3 * * ?",
    "persisted" : false,
    "concurrentExecution" : false,
    "invokeService" : "script",
    "invokeContext" : {
        "script" : {
            "type" : "text/javascript",
            "source" : "logger.info('nightly job {}', '%s');"
        }
    },
    "invokeLogLevel" : "info"
}
`, id)
		if err := os.WriteFile(filepath.Join(dir, "schedule-"+id+".json"), []byte(data), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}
