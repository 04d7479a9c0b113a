package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"sundial/engine/store"
	"sundial/engine/store/internal/sqlcommon"
)

var _ store.JobInstances = (*Store)(nil)

func scanJobInstance(row sqlcommon.Scanner) (store.JobInstance, error) {
	return sqlcommon.ScanJobInstance(row, func(b bool) bool { return b })
}

func notFound(err error, what string, id int64) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s %d: %w", what, id, store.ErrNotFound)
	}
	return err
}

// CreateJobInstance inserts a job instance; see store.JobInstances.
func (s *Store) CreateJobInstance(ctx context.Context, ji store.JobInstance) (store.JobInstance, error) {
	doc, err := sqlcommon.JobDoc(ji)
	if err != nil {
		return store.JobInstance{}, err
	}
	var id int64
	err = s.pool.QueryRow(ctx, `INSERT INTO job_instances (job_id, state, node, doc, options, definition)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, ji.JobID, ji.State, ji.Node, doc, string(ji.Options), string(ji.Definition)).Scan(&id)
	if err != nil {
		return store.JobInstance{}, fmt.Errorf("create job instance of %s: %w", ji.JobID, err)
	}
	ji.ID = id
	return ji, nil
}

// SaveJobInstance replaces a job instance; see store.JobInstances.
func (s *Store) SaveJobInstance(ctx context.Context, ji store.JobInstance) error {
	doc, err := sqlcommon.JobDoc(ji)
	if err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `UPDATE job_instances SET state = $1, node = $2, doc = $3, options = $4, definition = $5 WHERE id = $6`,
		ji.State, ji.Node, doc, string(ji.Options), string(ji.Definition), ji.ID)
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("save job instance %d: %w", ji.ID, err)
	}
	return nil
}

// ReadJobInstance reads a job instance; see store.JobInstances.
func (s *Store) ReadJobInstance(ctx context.Context, id int64) (store.JobInstance, error) {
	ji, err := scanJobInstance(s.pool.QueryRow(ctx, `SELECT `+sqlcommon.JobInstanceCols+` FROM job_instances WHERE id = $1`, id))
	if err != nil {
		return store.JobInstance{}, fmt.Errorf("read job instance %d: %w", id, notFound(err, "job instance", id))
	}
	return ji, nil
}

// ListJobInstances lists job instances; see store.JobInstances.
func (s *Store) ListJobInstances(ctx context.Context, p store.ListJobInstancesParams) ([]store.JobInstance, error) {
	out, err := query(ctx, s.pool, scanJobInstance, `SELECT `+sqlcommon.JobInstanceCols+` FROM job_instances
		WHERE ($1 = '' OR job_id = $1) AND ($2 = '' OR state = $2) ORDER BY id DESC LIMIT $3`,
		p.JobID, p.State, sqlcommon.JobListLimit(p))
	if err != nil {
		return nil, fmt.Errorf("list job instances: %w", err)
	}
	return out, nil
}

// RequestJobCancel flags a job instance for cancellation; see
// store.JobInstances.
func (s *Store) RequestJobCancel(ctx context.Context, id int64) (store.JobInstance, error) {
	ji, err := scanJobInstance(s.pool.QueryRow(ctx, `UPDATE job_instances SET cancel_requested = true WHERE id = $1 RETURNING `+sqlcommon.JobInstanceCols, id))
	if err != nil {
		return store.JobInstance{}, fmt.Errorf("cancel job instance %d: %w", id, notFound(err, "job instance", id))
	}
	return ji, nil
}

// InterruptJobInstances marks a node's running job instances interrupted;
// see store.JobInstances.
func (s *Store) InterruptJobInstances(ctx context.Context, p store.InterruptJobInstancesParams) ([]store.JobInstance, error) {
	now := store.NowOr(p.Now)
	var out []store.JobInstance
	err := s.tx(ctx, func(tx pgx.Tx) error {
		running, err := query(ctx, tx, scanJobInstance, `SELECT `+sqlcommon.JobInstanceCols+` FROM job_instances WHERE node = $1 AND state = 'running' ORDER BY id FOR UPDATE`, p.Node)
		if err != nil {
			return err
		}
		out, err = sqlcommon.InterruptAll(running, now, sqlcommon.InterruptTx{
			Tasks: func(id int64) ([]store.TaskInstance, error) {
				return query(ctx, tx, sqlcommon.ScanTaskInstance, `SELECT `+sqlcommon.TaskInstanceCols+` FROM task_instances WHERE job_instance_id = $1 ORDER BY id`, id)
			},
			SetTask: func(id int64, state, doc string) error {
				_, err := tx.Exec(ctx, `UPDATE task_instances SET state = $1, doc = $2 WHERE id = $3`, state, doc, id)
				return err
			},
			SetJob: func(id int64, state, doc string) error {
				_, err := tx.Exec(ctx, `UPDATE job_instances SET state = $1, doc = $2 WHERE id = $3`, state, doc, id)
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
	if err := s.pool.QueryRow(ctx, `INSERT INTO task_instances (job_instance_id, state, doc) VALUES ($1, $2, $3) RETURNING id`,
		ti.JobInstanceID, ti.State, doc).Scan(&ti.ID); err != nil {
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
	tag, err := s.pool.Exec(ctx, `UPDATE task_instances SET state = $1, doc = $2 WHERE id = $3`, ti.State, doc, ti.ID)
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("save task instance %d: %w", ti.ID, err)
	}
	return nil
}

// ReadTaskInstance reads a task instance; see store.JobInstances.
func (s *Store) ReadTaskInstance(ctx context.Context, id int64) (store.TaskInstance, error) {
	ti, err := sqlcommon.ScanTaskInstance(s.pool.QueryRow(ctx, `SELECT `+sqlcommon.TaskInstanceCols+` FROM task_instances WHERE id = $1`, id))
	if err != nil {
		return store.TaskInstance{}, fmt.Errorf("read task instance %d: %w", id, notFound(err, "task instance", id))
	}
	return ti, nil
}

// ListTaskInstances lists a job instance's task instances; see
// store.JobInstances.
func (s *Store) ListTaskInstances(ctx context.Context, jobInstanceID int64) ([]store.TaskInstance, error) {
	out, err := query(ctx, s.pool, sqlcommon.ScanTaskInstance, `SELECT `+sqlcommon.TaskInstanceCols+` FROM task_instances WHERE job_instance_id = $1 ORDER BY id`, jobInstanceID)
	if err != nil {
		return nil, fmt.Errorf("list task instances of job instance %d: %w", jobInstanceID, err)
	}
	return out, nil
}
