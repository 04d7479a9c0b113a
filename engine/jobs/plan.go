package jobs

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"sundial/engine/config"
)

// Group is one launch group of a job's plan: tasks (indexes into
// Job.Tasks, in document order) that run in parallel.
type Group struct {
	Order int   // 0-based launch order, as job-steps prints it
	Tasks []int // indexes into Job.Tasks
}

// Plan returns a job's launch groups, in launch order.
func Plan(j *config.Job) []Group {
	idx := make([]int, len(j.Tasks))
	for i := range idx {
		idx[i] = i
	}
	// Without levels every task is its own level, in document order.
	level := func(i int) int {
		if j.Tasks[i].Level < 0 {
			return i
		}
		return j.Tasks[i].Level
	}
	slices.SortStableFunc(idx, func(a, b int) int { return level(a) - level(b) })
	var groups []Group
	for start := 0; start < len(idx); {
		end := start
		for end < len(idx) && level(idx[end]) == level(idx[start]) {
			end++
		}
		for chunk := start; chunk < end; {
			n := end - chunk
			if j.MaxParallel > 0 {
				n = min(n, j.MaxParallel)
			}
			groups = append(groups, Group{Order: len(groups), Tasks: idx[chunk : chunk+n]})
			chunk += n
		}
		start = end
	}
	return groups
}

// Step is one task's launch order, as Get-JobSteps prints it.
type Step struct {
	Task  string `json:"task"`
	Order int    `json:"order"`
}

// Steps returns every task's launch order, in launch order.
func Steps(j *config.Job) []Step {
	var out []Step
	for _, g := range Plan(j) {
		for _, i := range g.Tasks {
			out = append(out, Step{Task: j.Tasks[i].ID, Order: g.Order})
		}
	}
	return out
}

// StartOptions are a launch's options, as invoke-job takes them.
type StartOptions struct {
	// Begin and End bound the launch groups that run, inclusive: a launch
	// order (a number) or a task id (that task's launch order). "" leaves
	// the bound open.
	Begin string `json:"begin,omitempty"`
	End   string `json:"end,omitempty"`
	// At most one of these selects tasks inside the window: only Task; the
	// first task of type Type; every task whose id contains Contains.
	Task     string `json:"task,omitempty"`
	Type     string `json:"type,omitempty"`
	Contains string `json:"contains,omitempty"`
	// Force runs synchronize and provisioning tasks without their
	// thresholds (plan and apply at once).
	Force bool `json:"force,omitempty"`
}

// ErrInvalidOptions: the launch options do not fit the job.
var ErrInvalidOptions = errors.New("invalid job options")

// launchPlan is the plan restricted to the selected tasks, empty groups
// dropped.
func launchPlan(j *config.Job, o StartOptions) ([]Group, error) {
	groups := Plan(j)
	orderOf := func(step, which string) (int, error) {
		if n, err := strconv.Atoi(step); err == nil {
			if n < 0 || n >= len(groups) {
				return 0, fmt.Errorf("%w: %s step %d: the job has launch orders 0 to %d", ErrInvalidOptions, which, n, len(groups)-1)
			}
			return n, nil
		}
		for _, g := range groups {
			for _, i := range g.Tasks {
				if j.Tasks[i].ID == step {
					return g.Order, nil
				}
			}
		}
		return 0, fmt.Errorf("%w: %s step %q is neither a launch order nor a task of job %s", ErrInvalidOptions, which, step, j.ID)
	}
	first, last := 0, len(groups)-1
	var err error
	if o.Begin != "" {
		if first, err = orderOf(o.Begin, "begin"); err != nil {
			return nil, err
		}
	}
	if o.End != "" {
		if last, err = orderOf(o.End, "end"); err != nil {
			return nil, err
		}
	}
	if first > last {
		return nil, fmt.Errorf("%w: the begin step (launch order %d) is after the end step (%d)", ErrInvalidOptions, first, last)
	}
	selectors := 0
	for _, s := range []string{o.Task, o.Type, o.Contains} {
		if s != "" {
			selectors++
		}
	}
	if selectors > 1 {
		return nil, fmt.Errorf("%w: choose one of a task, a task type and an id text", ErrInvalidOptions)
	}
	keep := func(t config.JobTask) bool {
		switch {
		case o.Task != "":
			return t.ID == o.Task
		case o.Contains != "":
			return strings.Contains(t.ID, o.Contains)
		}
		return true
	}
	typeFound := false
	var out []Group
	for _, g := range groups[first : last+1] {
		var tasks []int
		for _, i := range g.Tasks {
			t := j.Tasks[i]
			switch {
			case o.Type != "":
				if t.Type != o.Type || typeFound {
					continue
				}
				typeFound = true
			case !keep(t):
				continue
			}
			tasks = append(tasks, i)
		}
		if len(tasks) > 0 {
			out = append(out, Group{Order: g.Order, Tasks: tasks})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no task of job %s is selected (between launch orders %d and %d%s)", ErrInvalidOptions, j.ID, first, last, selectorText(o))
	}
	return out, nil
}

func selectorText(o StartOptions) string {
	switch {
	case o.Task != "":
		return fmt.Sprintf(", task %q", o.Task)
	case o.Type != "":
		return fmt.Sprintf(", type %q", o.Type)
	case o.Contains != "":
		return fmt.Sprintf(", id containing %q", o.Contains)
	}
	return ""
}
