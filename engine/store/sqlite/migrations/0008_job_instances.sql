-- Multi-step job instances and their task instances: a JSON document each,
-- beside the columns that select them. cancel_requested is written only by
-- a cancel request, never by the runner saving its progress.
CREATE TABLE job_instances (
	id               INTEGER PRIMARY KEY AUTOINCREMENT,
	job_id           TEXT    NOT NULL,
	state            TEXT    NOT NULL,
	node             TEXT    NOT NULL,
	cancel_requested INTEGER NOT NULL DEFAULT 0,
	doc              TEXT    NOT NULL,
	options          TEXT    NOT NULL,
	definition       TEXT    NOT NULL
);
CREATE INDEX job_instances_by_job ON job_instances (job_id, id);
CREATE INDEX job_instances_running ON job_instances (node) WHERE state = 'running';

CREATE TABLE task_instances (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	job_instance_id INTEGER NOT NULL REFERENCES job_instances (id) ON DELETE CASCADE,
	state           TEXT    NOT NULL,
	doc             TEXT    NOT NULL
);
CREATE INDEX task_instances_by_job ON task_instances (job_instance_id, id);
