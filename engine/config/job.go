package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Job is one validated job-<id>.yaml|json file: a multi-step job whose
// tasks run in launch-order groups (engine/jobs runs it). It is immutable
// once loaded; a running job keeps the *Job it started with.
type Job struct {
	ID          string `json:"id"`
	File        string `json:"-"` // path relative to the conf directory
	Hash        string `json:"-"` // sha256 of the file's bytes and the property values it references
	DisplayName string `json:"displayName,omitempty"`
	// Schedule is the cron expression that starts the job ("" for none);
	// it is also in Desired.Schedules as the schedule ScheduleID.
	Schedule    string    `json:"schedule,omitempty"`
	TimeZone    string    `json:"timeZone,omitempty"`
	MaxParallel int       `json:"maxParallel,omitempty"`
	Tasks       []JobTask `json:"tasks"`
}

// JobTask is one task of a job.
type JobTask struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	// Level is the launch order as written; -1 when the job has none (each
	// task is then its own group, in document order).
	Level           int        `json:"level"`
	DependsOn       []string   `json:"dependsOn,omitempty"`
	ContinueOnError bool       `json:"continueOnError,omitempty"`
	Thresholds      Thresholds `json:"thresholds"`
	Side            string     `json:"side"`
	// InvokeService is the short service name (script, taskscanner, sync,
	// provisioner), InvokeContext its parameters.
	InvokeService string        `json:"invokeService"`
	InvokeContext InvokeContext `json:"invokeContext"`
	// Line is the line of the task's entry in the file.
	Line int `json:"-"`
}

// MarshalJSON writes the context as its JSON object.
func (c InvokeContext) MarshalJSON() ([]byte, error) {
	if c.json == "" {
		return []byte("null"), nil
	}
	return []byte(c.json), nil
}

// UnmarshalJSON reads a context written by MarshalJSON.
func (c *InvokeContext) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*c = InvokeContext{}
		return nil
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("invokeContext: %w", err)
	}
	*c = (*loadCache)(nil).encodeContext(v)
	return nil
}

// Thresholds are the most changes a synchronize or provisioning task may
// apply before it blocks; 0 turns a limit off. The percentages are of the
// objects already in the target.
type Thresholds struct {
	MaxInserted        int `json:"maxInserted"`
	MaxUpdated         int `json:"maxUpdated"`
	MaxDeleted         int `json:"maxDeleted"`
	MaxInsertedPercent int `json:"maxInsertedPercent"`
	MaxUpdatedPercent  int `json:"maxUpdatedPercent"`
	MaxDeletedPercent  int `json:"maxDeletedPercent"`
}

// Task types that block when a threshold is exceeded, and those that may
// turn an error into a warning.
const (
	TaskSynchronize                = "synchronize"
	TaskGenerateProvisioningOrders = "generateProvisioningOrders"
	TaskExport                     = "export"
	TaskFulfill                    = "fulfill"
)

// DefaultThresholds are Usercube's defaults for a task type: a connector's
// 100 changes and 5 % for synchronize, a resource type's 30 % (absolute
// limits off) for generateProvisioningOrders; none for other types.
func DefaultThresholds(taskType string) Thresholds {
	switch taskType {
	case TaskSynchronize:
		return Thresholds{100, 100, 100, 5, 5, 5}
	case TaskGenerateProvisioningOrders:
		return Thresholds{MaxInsertedPercent: 30, MaxUpdatedPercent: 30, MaxDeletedPercent: 30}
	}
	return Thresholds{}
}

// HasThresholds reports whether tasks of the type block on thresholds.
func HasThresholds(taskType string) bool {
	return taskType == TaskSynchronize || taskType == TaskGenerateProvisioningOrders
}

// JobScheduleID is the id of the schedule a job's own schedule key makes.
func JobScheduleID(jobID string) string { return "job-" + jobID }

type jobResult struct {
	job         *Job
	schedule    *Schedule // from the job's schedule key
	errs, warns []error
	used        substituted
}

// loadJobs parses the job files, keeping the previous version of files
// that fail, and adds each job's own schedule to schedules.
func (l *loader) loadJobs(files []scheduleFile, env *scheduleEnv, used substituted, schedules map[string]*Schedule) map[string]*Job {
	jobs := make(map[string]*Job, len(files))
	seen := map[string]string{}
	for _, f := range files {
		display := l.display(f.rel)
		var r jobResult
		data, err := l.read(f.rel, nil)
		if err != nil {
			r.errs = []error{readFailure(display, err)}
		} else {
			r = parseJob(scheduleInput{id: f.id, rel: f.rel, display: display, data: data, isYAML: f.isYAML}, env)
		}
		if other, dup := seen[f.id]; dup {
			r.errs = append(r.errs, &FileError{File: display, Err: errorf(ErrDuplicateID, "duplicate job id %q: also defined by %s", f.id, other)})
			r.job = nil
		}
		seen[f.id] = f.rel
		if r.schedule != nil {
			if s := schedules[r.schedule.ID]; s != nil && s.File != f.rel {
				r.errs = append(r.errs, &FileError{File: display, Err: errorf(ErrDuplicateID, "the job's schedule %q is also defined by %s", r.schedule.ID, s.File)})
				r.job = nil
			}
		}
		l.addFile(f.rel, r.errs, r.warns)
		for k, v := range r.used {
			used[k] = v
		}
		switch {
		case r.job != nil:
			jobs[f.id] = r.job
			if r.schedule != nil {
				schedules[r.schedule.ID] = r.schedule
			}
		case len(r.errs) > 0 && l.opts.Previous != nil && l.opts.Previous.Jobs[f.id] != nil:
			prev := l.opts.Previous.Jobs[f.id]
			jobs[f.id] = prev
			if s := l.opts.Previous.Schedules[JobScheduleID(f.id)]; s != nil && s.File == prev.File {
				schedules[s.ID] = s
			}
			l.log.Info("job file has errors; keeping its last good version", "file", display, "job", f.id)
		}
	}
	return jobs
}

// parseJob reads one job file.
func parseJob(in scheduleInput, env *scheduleEnv) jobResult {
	c := &fileCtx{file: in.display, cache: env.cache}
	used := substituted{}
	root := c.decode(in.data, in.isYAML, env.props, used)
	if root == nil || (root.kind == kindObject && len(root.keys) == 0) {
		if len(c.errs) == 0 {
			c.errs = append(c.errs, &FileError{File: c.file, Line: 1, Col: 1, Err: errorf(ErrEmpty, "empty job file: delete it to remove the job")})
		}
		return jobResult{errs: c.errs, warns: c.warns, used: used}
	}
	c.root = root
	c.validateSchema("job", root)
	if len(c.errs) > 0 {
		sortErrors(c.errs)
		return jobResult{errs: c.errs, warns: c.warns, used: used}
	}
	j := &Job{ID: in.id, File: in.rel, DisplayName: str(root.get("displayName")),
		Schedule: str(root.get("schedule")), TimeZone: str(root.get("timeZone"))}
	if idNode := root.get("id"); str(idNode) != in.id {
		c.errAt(idNode, "/id", errorf(ErrInvalidID, "id %q does not match the file name, which names the job %q", str(idNode), in.id))
	}
	if n, ok := integer(root.get("maxParallel")); ok {
		j.MaxParallel = int(n)
	}
	tasksNode := root.get("tasks")
	byID := map[string]int{}
	withLevel := 0
	for i, tn := range tasksNode.items {
		t := parseJobTask(c, in, env, used, i, tn)
		if prev, dup := byID[t.ID]; dup {
			c.errAt(tn.get("id"), fmt.Sprintf("/tasks/%d/id", i), errorf(ErrDuplicateID, "task id %q is also task %d", t.ID, prev))
		}
		byID[t.ID] = i
		if t.Level >= 0 {
			withLevel++
		}
		j.Tasks = append(j.Tasks, t)
	}
	if withLevel != 0 && withLevel != len(j.Tasks) {
		for i, t := range j.Tasks {
			if t.Level < 0 {
				c.errAt(tasksNode.items[i], fmt.Sprintf("/tasks/%d", i), errorf(ErrInvalidValue, "task %q has no level while other tasks have one: give every task a level, or none", t.ID))
			}
		}
	}
	for i, t := range j.Tasks {
		for k, p := range t.DependsOn {
			pi, ok := byID[p]
			ptr := fmt.Sprintf("/tasks/%d/dependsOn/%d", i, k)
			at := tasksNode.items[i].get("dependsOn").items[k]
			switch {
			case !ok:
				msg := fmt.Sprintf("task %q depends on %q, which is not a task of the job", t.ID, p)
				if hint := suggest(p, slices.Collect(func(yield func(string) bool) {
					for _, o := range j.Tasks {
						if !yield(o.ID) {
							return
						}
					}
				})); hint != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", hint)
				}
				c.errAt(at, ptr, errorf(ErrInvalidValue, "%s", msg))
			case !runsBefore(j.Tasks, pi, i):
				c.errAt(at, ptr, errorf(ErrInvalidValue, "task %q depends on %q, which does not run before it: a parent needs a lower level (or, without levels, an earlier place)", t.ID, p))
			}
		}
	}
	var sched *Schedule
	if j.Schedule != "" && len(c.errs) == 0 {
		sched = jobSchedule(c, root, j, in, env)
	}
	sortErrors(c.errs)
	sortErrors(c.warns)
	if len(c.errs) > 0 {
		return jobResult{errs: c.errs, warns: c.warns, used: used}
	}
	j.Hash = scheduleHash(in.data, used, env.loc)
	return jobResult{job: j, schedule: sched, warns: c.warns, used: used}
}

// runsBefore reports whether task a runs in an earlier group than task b.
func runsBefore(tasks []JobTask, a, b int) bool {
	if tasks[a].Level < 0 || tasks[b].Level < 0 {
		return a < b
	}
	return tasks[a].Level < tasks[b].Level
}

func parseJobTask(c *fileCtx, in scheduleInput, env *scheduleEnv, used substituted, i int, tn *node) JobTask {
	t := JobTask{ID: str(tn.get("id")), Type: str(tn.get("type")), Level: -1, Side: "server", Line: tn.line,
		ContinueOnError: boolean(tn.get("continueOnError"), false)}
	if n, ok := integer(tn.get("level")); ok {
		t.Level = int(n)
	}
	if s := str(tn.get("side")); s != "" {
		t.Side = s
	}
	if deps := tn.get("dependsOn"); deps != nil {
		for _, p := range deps.items {
			t.DependsOn = append(t.DependsOn, str(p))
		}
	}
	ptr := fmt.Sprintf("/tasks/%d", i)
	if t.ContinueOnError && t.Type != TaskExport && t.Type != TaskFulfill {
		c.errAt(tn.get("continueOnError"), ptr+"/continueOnError", errorf(ErrInvalidValue, "continueOnError is for export and fulfill tasks; task %q is a %s task", t.ID, t.Type))
	}
	t.Thresholds = DefaultThresholds(t.Type)
	if th := tn.get("thresholds"); th != nil {
		if !HasThresholds(t.Type) {
			c.errAt(th, ptr+"/thresholds", errorf(ErrInvalidValue, "thresholds are for synchronize and generateProvisioningOrders tasks; task %q is a %s task", t.ID, t.Type))
		}
		for key, field := range map[string]*int{
			"maxInserted": &t.Thresholds.MaxInserted, "maxUpdated": &t.Thresholds.MaxUpdated, "maxDeleted": &t.Thresholds.MaxDeleted,
			"maxInsertedPercent": &t.Thresholds.MaxInsertedPercent, "maxUpdatedPercent": &t.Thresholds.MaxUpdatedPercent, "maxDeletedPercent": &t.Thresholds.MaxDeletedPercent,
		} {
			if n, ok := integer(th.get(key)); ok {
				*field = int(n)
			}
		}
	}
	// The service and its context are checked as a schedule's are, by
	// reading them as a one-off schedule; problems are reported at the task.
	svcNode := tn.get("invokeService")
	t.InvokeService = strings.TrimPrefix(strings.TrimSpace(str(svcNode)), ServicePrefix)
	if HasThresholds(t.Type) && t.InvokeService != "sync" {
		c.errAt(svcNode, ptr+"/invokeService", errorf(ErrInvalidValue, "a %s task runs a reconciliation: invokeService must be sync, with invokeContext {mapping: <name>}", t.Type))
	}
	if t.InvokeService == "job" {
		c.errAt(svcNode, ptr+"/invokeService", errorf(ErrInvalidValue, "a task cannot start a job"))
		return t
	}
	doc := map[string]any{"type": TypeSimple, "invokeService": str(svcNode)}
	ctxNode := tn.get("invokeContext")
	if ctxNode != nil {
		doc["invokeContext"] = ctxNode.value()
	}
	if t.InvokeService == "sync" {
		m, _ := doc["invokeContext"].(map[string]any)
		if mapping, _ := m["mapping"].(string); mapping == "" {
			c.errAt(tn, ptr, errorf(ErrInvalidValue, "task %q: the sync service needs invokeContext.mapping, the mapping to reconcile", t.ID))
			return t
		}
		if _, ok := m["action"]; !ok {
			m["action"] = "reconcile" // what a job's sync task does; IDM's schedules spell it out
		}
	}
	data, err := json.Marshal(doc)
	if err != nil {
		c.errAt(ctxNode, ptr+"/invokeContext", errorf(ErrInvalidValue, "invokeContext: %v", err))
		return t
	}
	r := parseSchedule(scheduleInput{id: in.id + "." + t.ID, rel: in.rel, display: in.display, data: data}, &scheduleEnv{
		scriptsDir: env.scriptsDir, loc: env.loc, zones: env.zones, cache: env.cache, checkScript: env.checkScript})
	for _, e := range r.errs {
		var fe *FileError
		if !errors.As(e, &fe) || fe.File != in.display {
			c.errs = append(c.errs, e) // a script file's own error, at its place
			continue
		}
		at, sub := ctxNode, fe.Err
		if at == nil || fe.Pointer == "/invokeService" {
			at = svcNode
		}
		c.errAt(at, ptr+fe.Pointer, &detail{msg: fmt.Sprintf("task %q: %s", t.ID, fe.Err.Error()), sentinel: sub})
	}
	for _, w := range r.warns {
		c.warnAt(svcNode, ptr+"/invokeService", w)
	}
	if r.schedule != nil {
		t.InvokeContext = r.schedule.InvokeContext
	}
	return t
}

// jobSchedule reads a job's schedule and timeZone keys as the schedule
// JobScheduleID(id), which starts the job: cron, persisted (so that a
// cluster starts it once per fire), misfire policy doNothing
// (a fire missed while the node was down is not caught up), never two runs
// at once. Problems are reported at the job file's keys.
func jobSchedule(c *fileCtx, root *node, j *Job, in scheduleInput, env *scheduleEnv) *Schedule {
	doc := map[string]any{"type": TypeCron, "schedule": j.Schedule, "misfirePolicy": MisfireDoNothing,
		"concurrentExecution": false, "persisted": true, "invokeService": "job", "invokeContext": map[string]any{"job": j.ID}}
	if j.TimeZone != "" {
		doc["timeZone"] = j.TimeZone
	}
	if j.DisplayName != "" {
		doc["description"] = j.DisplayName
	}
	data, err := json.Marshal(doc)
	if err != nil {
		c.errAt(root.get("schedule"), "/schedule", errorf(ErrInvalidValue, "schedule: %v", err))
		return nil
	}
	r := parseSchedule(scheduleInput{id: JobScheduleID(j.ID), rel: in.rel, display: in.display, data: data}, env)
	for _, e := range r.errs {
		var fe *FileError
		key := "schedule"
		sub := error(ErrInvalidValue)
		msg := e.Error()
		if errors.As(e, &fe) {
			sub, msg = fe.Err, fe.Err.Error()
			if fe.Pointer == "/timeZone" {
				key = "timeZone"
			}
		}
		c.errAt(root.get(key), "/"+key, &detail{msg: msg, sentinel: sub})
	}
	if r.schedule != nil {
		// The schedule's hash is the job file's: the job's own edits
		// reschedule it as a schedule file's would.
		r.schedule.Hash = scheduleHash(in.data, nil, r.schedule.Location)
	}
	return r.schedule
}
