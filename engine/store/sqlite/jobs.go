package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"sundial/engine/store"
	"sundial/engine/store/internal/sqlcommon"
)

var _ store.JobInstances = (*Store)(nil)

func scanJobInstance(row sqlcommon.Scanner) (store.JobInstance, error) {
	return sqlcommon.ScanJobInstance(row, func(n int64) bool { return n != 0 })
}

func notFound(err error, what string, id int64) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s %d: %w", what, id, store.ErrNotFound)
	}
	return err
}

// CreateJobInstance inserts a job instance; see store.JobInstances.
func (s *Store) CreateJobInstance(ctx context.Context, ji store.JobInstance) (store.JobInstance, error) {
	var out store.JobInstance
	err := s.write(ctx, func(tx *sql.Tx) error {
		doc, err := sqlcommon.JobDoc(ji)
		if err != nil {
			return err
		}
		var id int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO job_instances (job_id, state, node, doc, options, definition)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, ji.JobID, ji.State, ji.Node, doc, string(ji.Options), string(ji.Definition)).Scan(&id); err != nil {
			return err
		}
		out = ji
		out.ID = id
		return nil
	})
	if err != nil {
		return store.JobInstance{}, fmt.Errorf("create job instance of %s: %w", ji.JobID, err)
	}
	return out, nil
}

// SaveJobInstance replaces a job instance; see store.JobInstances.
func (s *Store) SaveJobInstance(ctx context.Context, ji store.JobInstance) error {
	doc, err := sqlcommon.JobDoc(ji)
	if err != nil {
		return err
	}
	err = s.updateOne(ctx, `UPDATE job_instances SET state = ?, node = ?, doc = ?, options = ?, definition = ? WHERE id = ?`,
		ji.State, ji.Node, doc, string(ji.Options), string(ji.Definition), ji.ID)
	if err != nil {
		return fmt.Errorf("save job instance %d: %w", ji.ID, err)
	}
	return nil
}

// ReadJobInstance reads a job instance; see store.JobInstances.
func (s *Store) ReadJobInstance(ctx context.Context, id int64) (store.JobInstance, error) {
	ji, err := scanJobInstance(s.reader.QueryRowContext(ctx, `SELECT `+sqlcommon.JobInstanceCols+` FROM job_instances WHERE id = ?`, id))
	if err != nil {
		return store.JobInstance{}, fmt.Errorf("read job instance %d: %w", id, notFound(err, "job instance", id))
	}
	return ji, nil
}

// ListJobInstances lists job instances; see store.JobInstances.
func (s *Store) ListJobInstances(ctx context.Context, p store.ListJobInstancesParams) ([]store.JobInstance, error) {
	out, err := queryAll(ctx, s.reader, scanJobInstance, `SELECT `+sqlcommon.JobInstanceCols+` FROM job_instances
		WHERE (? = '' OR job_id = ?) AND (? = '' OR state = ?) ORDER BY id DESC LIMIT ?`,
		p.JobID, p.JobID, p.State, p.State, sqlcommon.JobListLimit(p))
	if err != nil {
		return nil, fmt.Errorf("list job instances: %w", err)
	}
	return out, nil
}

// RequestJobCancel flags a job instance for cancellation; see
// store.JobInstances.
func (s *Store) RequestJobCancel(ctx context.Context, id int64) (store.JobInstance, error) {
	var out store.JobInstance
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = scanJobInstance(tx.QueryRowContext(ctx, `UPDATE job_instances SET cancel_requested = 1 WHERE id = ? RETURNING `+sqlcommon.JobInstanceCols, id))
		return notFound(err, "job instance", id)
	})
	if err != nil {
		return store.JobInstance{}, fmt.Errorf("cancel job instance %d: %w", id, err)
	}
	return out, nil
}

// InterruptJobInstances marks a node's running job instances interrupted;
// see store.JobInstances.
func (s *Store) InterruptJobInstances(ctx context.Context, p store.InterruptJobInstancesParams) ([]store.JobInstance, error) {
	now := store.NowOr(p.Now)
	var out []store.JobInstance
	err := s.write(ctx, func(tx *sql.Tx) error {
		running, err := queryAll(ctx, tx, scanJobInstance, `SELECT `+sqlcommon.JobInstanceCols+` FROM job_instances WHERE node = ? AND state = 'running' ORDER BY id`, p.Node)
		if err != nil {
			return err
		}
		out, err = sqlcommon.InterruptAll(running, now, sqlcommon.InterruptTx{
			Tasks: func(id int64) ([]store.TaskInstance, error) {
				return queryAll(ctx, tx, sqlcommon.ScanTaskInstance, `SELECT `+sqlcommon.TaskInstanceCols+` FROM task_instances WHERE job_instance_id = ? ORDER BY id`, id)
			},
			SetTask: func(id int64, state, doc string) error {
				_, err := tx.ExecContext(ctx, `UPDATE task_instances SET state = ?, doc = ? WHERE id = ?`, state, doc, id)
				return err
			},
			SetJob: func(id int64, state, doc string) error {
				_, err := tx.ExecContext(ctx, `UPDATE job_instances SET state = ?, doc = ? WHERE id = ?`, state, doc, id)
				return err
			},
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("interrupt job instances of node %s: %w", p.Node, err)
	}
	return out, nil
}

// CreateTaskInstance inserts a task instance; see store.JobInstances.
func (s *Store) CreateTaskInstance(ctx context.Context, ti store.TaskInstance) (store.TaskInstance, error) {
	doc, err := sqlcommon.TaskDoc(ti)
	if err != nil {
		return store.TaskInstance{}, err
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO task_instances (job_instance_id, state, doc) VALUES (?, ?, ?) RETURNING id`,
			ti.JobInstanceID, ti.State, doc).Scan(&ti.ID)
	})
	if err != nil {
		return store.TaskInstance{}, fmt.Errorf("create task instance %s of job instance %d: %w", ti.TaskID, ti.JobInstanceID, err)
	}
	return ti, nil
}

// SaveTaskInstance replaces a task instance; see store.JobInstances.
func (s *Store) SaveTaskInstance(ctx context.Context, ti store.TaskInstance) error {
	doc, err := sqlcommon.TaskDoc(ti)
	if err != nil {
		return err
	}
	err = s.updateOne(ctx, `UPDATE task_instances SET state = ?, doc = ? WHERE id = ?`, ti.State, doc, ti.ID)
	if err != nil {
		return fmt.Errorf("save task instance %d: %w", ti.ID, err)
	}
	return nil
}

// ReadTaskInstance reads a task instance; see store.JobInstances.
func (s *Store) ReadTaskInstance(ctx context.Context, id int64) (store.TaskInstance, error) {
	ti, err := sqlcommon.ScanTaskInstance(s.reader.QueryRowContext(ctx, `SELECT `+sqlcommon.TaskInstanceCols+` FROM task_instances WHERE id = ?`, id))
	if err != nil {
		return store.TaskInstance{}, fmt.Errorf("read task instance %d: %w", id, notFound(err, "task instance", id))
	}
	return ti, nil
}

// ListTaskInstances lists a job instance's task instances; see
// store.JobInstances.
func (s *Store) ListTaskInstances(ctx context.Context, jobInstanceID int64) ([]store.TaskInstance, error) {
	out, err := queryAll(ctx, s.reader, sqlcommon.ScanTaskInstance, `SELECT `+sqlcommon.TaskInstanceCols+` FROM task_instances WHERE job_instance_id = ? ORDER BY id`, jobInstanceID)
	if err != nil {
		return nil, fmt.Errorf("list task instances of job instance %d: %w", jobInstanceID, err)
	}
	return out, nil
}

// updateOne runs an UPDATE of one row in its own write: store.ErrNotFound
// when it matched none.
func (s *Store) updateOne(ctx context.Context, query string, args ...any) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		return nil
	})
}
