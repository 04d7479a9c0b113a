package daemon

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"sundial/engine/api"
	"sundial/engine/api/crest"

	"sundial/engine/managed"
	"sundial/engine/script"
	"sundial/engine/store"
	"sundial/engine/taskscanner"
)

// newTaskScanner makes the taskscanner service: it scans the managed
// objects of Options.DB (none with the memory store), of the types the
// current snapshot's managed.json declares, with the current script
// engine. It keeps the openidm.taskscanner.maxcompletedruns completed runs
// the current boot properties say, in the store with this node's id.
func (d *Daemon) newTaskScanner() *taskscanner.Scanner {
	var objs store.Objects
	var runs store.ScanRuns
	if d.opts.DB != nil {
		objs, _ = d.managedObjects()
		runs, _ = store.ScanRunsOf(d.opts.DB)
	}
	keep := func() int {
		cur := d.current.Load()
		if cur == nil {
			return 0
		}
		n, _ := strconv.Atoi(cur.Properties["openidm.taskscanner.maxcompletedruns"])
		return n
	}
	return taskscanner.New(taskscanner.Options{
		Objects:  objs,
		Declared: managedTypes{d}.Declared,
		Scripts: func() *script.Engine {
			if s := d.scripts.Load(); s != nil {
				return s.Engine
			}
			return nil
		},
		Clock:            d.opts.Clock,
		Logger:           d.log,
		MaxCompletedRuns: keep,
		Runs:             runs,
		Node:             d.nodeID,
	})
}

// scheduleResources serves the script service's openidm functions: the
// managed objects of Options.DB, of the types managed.json declares; nil
// with the memory store.
func (d *Daemon) scheduleResources() script.Resources {
	objs, _ := d.managedAPI()
	if objs == nil {
		return nil
	}
	return managed.Resources{Objects: objs, Declared: managedTypes{d}.Declared}
}

// taskScans serves /openidm/taskscanner from the daemon's scanner and the
// scheduler's schedules.
type taskScans struct{ d *Daemon }

var _ api.TaskScans = taskScans{}

// Execute starts a scan of a task-scan schedule by its id, with or without
// the "schedule/" of IDM's config names, as the REST invoker.
func (t taskScans) Execute(ctx context.Context, name string) (map[string]any, error) {
	id := strings.TrimPrefix(name, "schedule/")
	info, ok := t.d.sched.Schedule(id)
	if !ok || info.Schedule == nil {
		return nil, crest.BadRequest("Error obtaining named config: '%s'", name)
	}
	if info.Schedule.InvokeService != taskscanner.ServiceName {
		return nil, crest.BadRequest("Schedule '%s' is not a task scan (invokeService %s)", id, info.Schedule.InvokeService)
	}
	// A scan that waits for its end goes on when the client hangs up.
	ctx = context.WithoutCancel(ctx)
	st, err := t.d.scanner.Execute(ctx, taskscanner.ExecuteParams{
		Name:          "schedule/" + id,
		InvokeContext: info.Schedule.InvokeContext.Map(),
		LogLevel:      info.Schedule.InvokeLogLevel,
	})
	if err != nil {
		return nil, crest.BadRequest("%v", err)
	}
	return map[string]any{"_id": st.ID}, nil
}

// Cancel cancels a run.
func (t taskScans) Cancel(_ context.Context, id string) (map[string]any, error) {
	ok, err := t.d.scanner.Cancel(id)
	if errors.Is(err, taskscanner.ErrNotFound) {
		return nil, crest.NotFound("Task with id '%s' not found.", id)
	}
	if err != nil {
		return nil, err
	}
	status := "SUCCESS"
	if !ok {
		status = "FAILURE"
	}
	return map[string]any{"_id": id, "action": "cancel", "status": status}, nil
}

// Runs lists the runs kept.
func (t taskScans) Runs(context.Context) ([]map[string]any, error) {
	runs := t.d.scanner.Runs()
	out := make([]map[string]any, len(runs))
	for i, r := range runs {
		out[i] = r.Map()
	}
	return out, nil
}

// Run is one run.
func (t taskScans) Run(_ context.Context, id string) (map[string]any, error) {
	st, err := t.d.scanner.Run(id)
	if errors.Is(err, taskscanner.ErrNotFound) {
		return nil, crest.NotFound("Task with id '%s' not found.", id)
	}
	if err != nil {
		return nil, err
	}
	return st.Map(), nil
}

// mountTaskScanner serves /openidm/taskscanner on mux.
func (d *Daemon) mountTaskScanner(mux *http.ServeMux) {
	h := api.NewTaskScanner(api.TaskScannerOptions{Scans: taskScans{d}, Auth: d.auth, Logger: d.log})
	mux.Handle("/openidm/taskscanner", h)
	mux.Handle("/openidm/taskscanner/", h)
}
