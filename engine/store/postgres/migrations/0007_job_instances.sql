-- Multi-step job instances and their task instances: a JSON document each,
-- beside the columns that select them. cancel_requested is written only by
-- a cancel request, never by the runner saving its progress.
CREATE TABLE job_instances (
	id               bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	job_id           text    NOT NULL,
	state            text    NOT NULL,
	node             text    NOT NULL,
	cancel_requested boolean NOT NULL DEFAULT false,
	doc              text    NOT NULL,
	options          text    NOT NULL,
	definition       text    NOT NULL
);
CREATE INDEX job_instances_by_job ON job_instances (job_id, id);
CREATE INDEX job_instances_running ON job_instances (node) WHERE state = 'running';

CREATE TABLE task_instances (
	id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	job_instance_id bigint NOT NULL REFERENCES job_instances (id) ON DELETE CASCADE,
	state           text   NOT NULL,
	doc             text   NOT NULL
);
CREATE INDEX task_instances_by_job ON task_instances (job_instance_id, id);
