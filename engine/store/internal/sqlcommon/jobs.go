package sqlcommon

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"sundial/engine/store"
)

// Column lists of the job tables, in the order ScanJobInstance and
// ScanTaskInstance read them.
const (
	JobInstanceCols  = `id, cancel_requested, doc, options, definition`
	TaskInstanceCols = `id, doc`
)

// JobDoc encodes a job instance's document column.
func JobDoc(ji store.JobInstance) (string, error) {
	b, err := json.Marshal(ji)
	if err != nil {
		return "", fmt.Errorf("%w: job instance: %w", store.ErrInvalid, err)
	}
	return string(b), nil
}

// TaskDoc encodes a task instance's document column, keeping only the
// last store.MaxTaskLogLines log lines.
func TaskDoc(ti store.TaskInstance) (string, error) {
	if n := len(ti.Log); n > store.MaxTaskLogLines {
		ti.Log = ti.Log[n-store.MaxTaskLogLines:]
	}
	b, err := json.Marshal(ti)
	if err != nil {
		return "", fmt.Errorf("%w: task instance: %w", store.ErrInvalid, err)
	}
	return string(b), nil
}

// ScanJobInstance reads the JobInstanceCols of a row; cancel is the
// dialect's boolean or integer flag, turned into a bool by isSet.
func ScanJobInstance[B any](row Scanner, isSet func(B) bool) (store.JobInstance, error) {
	var (
		id                    int64
		cancel                B
		doc, opts, definition string
	)
	if err := row.Scan(&id, &cancel, &doc, &opts, &definition); err != nil {
		return store.JobInstance{}, err
	}
	var ji store.JobInstance
	if err := json.Unmarshal([]byte(doc), &ji); err != nil {
		return store.JobInstance{}, fmt.Errorf("job instance %d: %w", id, err)
	}
	ji.ID, ji.CancelRequested = id, isSet(cancel)
	ji.Options, ji.Definition = []byte(opts), []byte(definition)
	return ji, nil
}

// ScanTaskInstance reads the TaskInstanceCols of a row.
func ScanTaskInstance(row Scanner) (store.TaskInstance, error) {
	var (
		id  int64
		doc string
	)
	if err := row.Scan(&id, &doc); err != nil {
		return store.TaskInstance{}, err
	}
	var ti store.TaskInstance
	if err := json.Unmarshal([]byte(doc), &ti); err != nil {
		return store.TaskInstance{}, fmt.Errorf("task instance %d: %w", id, err)
	}
	ti.ID = id
	return ti, nil
}

// JobListLimit is ListJobInstances' limit with its default.
func JobListLimit(p store.ListJobInstancesParams) int {
	if p.Limit <= 0 {
		return 1000
	}
	return p.Limit
}

// Interrupt turns a running job instance and its running task instances
// into interrupted ones at now, the message naming where it stopped; it
// returns the task instances it changed.
func Interrupt(ji *store.JobInstance, tasks []store.TaskInstance, now time.Time) []store.TaskInstance {
	var running []string
	var changed []store.TaskInstance
	for _, ti := range tasks {
		if ti.State != store.JobRunning {
			continue
		}
		running = append(running, ti.TaskID)
		ti.State, ti.Ended = store.JobInterrupted, now
		ti.Message = "interrupted: the node stopped while the task ran"
		changed = append(changed, ti)
	}
	ji.State, ji.Ended = store.JobInterrupted, now
	switch {
	case len(running) > 0:
		ji.StoppedAt = running[0]
		ji.Message = fmt.Sprintf("interrupted: node %s stopped during launch group %d of %d, while running %s", ji.Node, ji.CurrentGroup, ji.TotalGroups, strings.Join(running, ", "))
	default:
		ji.Message = fmt.Sprintf("interrupted: node %s stopped after launch group %d of %d, before the next task started", ji.Node, ji.CurrentGroup, ji.TotalGroups)
	}
	return changed
}

// InterruptTx is how InterruptAll reads and writes in a backend's
// transaction: the task instances of a job instance, and the updates of a
// row's state and document.
type InterruptTx struct {
	Tasks   func(jobInstanceID int64) ([]store.TaskInstance, error)
	SetTask func(id int64, state, doc string) error
	SetJob  func(id int64, state, doc string) error
}

// InterruptAll interrupts each running job instance (see Interrupt) in tx
// and returns them as changed.
func InterruptAll(running []store.JobInstance, now time.Time, tx InterruptTx) ([]store.JobInstance, error) {
	out := make([]store.JobInstance, 0, len(running))
	for _, ji := range running {
		tasks, err := tx.Tasks(ji.ID)
		if err != nil {
			return nil, err
		}
		for _, ti := range Interrupt(&ji, tasks, now) {
			doc, err := TaskDoc(ti)
			if err != nil {
				return nil, err
			}
			if err := tx.SetTask(ti.ID, ti.State, doc); err != nil {
				return nil, err
			}
		}
		doc, err := JobDoc(ji)
		if err != nil {
			return nil, err
		}
		if err := tx.SetJob(ji.ID, ji.State, doc); err != nil {
			return nil, err
		}
		out = append(out, ji)
	}
	return out, nil
}
