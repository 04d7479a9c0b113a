package daemon

import (
	"strconv"

	"sundial/engine/script"
	"sundial/engine/store"
	"sundial/engine/taskscanner"
)

// newTaskScanner makes the taskscanner service: it scans the managed
// objects of Options.DB (none with the memory store), of the types the
// current snapshot's managed.json declares, with the current script
// engine. It keeps openidm.taskscanner.maxcompletedruns completed runs, as
// the boot properties say at the start.
func (d *Daemon) newTaskScanner() *taskscanner.Scanner {
	var objs store.Objects
	if d.opts.DB != nil {
		objs, _ = store.ObjectsOf(d.opts.DB)
	}
	keep := 0
	if cur := d.current.Load(); cur != nil {
		keep, _ = strconv.Atoi(cur.Properties["openidm.taskscanner.maxcompletedruns"])
	}
	return taskscanner.New(taskscanner.Options{
		Objects: objs,
		Declared: func(typ string) bool {
			cur := d.current.Load()
			if cur == nil {
				return false
			}
			_, ok := cur.Managed.Type(typ)
			return ok
		},
		Scripts: func() *script.Engine {
			if s := d.scripts.Load(); s != nil {
				return s.Engine
			}
			return nil
		},
		Clock:            d.opts.Clock,
		Logger:           d.log,
		MaxCompletedRuns: keep,
	})
}
