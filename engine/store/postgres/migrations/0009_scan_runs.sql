-- The task scanner's runs and their progress, so that a restart, or another
-- node, still lists them: times are Unix milliseconds, ended 0 while the run
-- goes on; node is the node that runs (or ran) it.
CREATE TABLE scan_runs (
	id        text COLLATE "C" PRIMARY KEY,
	name      text NOT NULL,
	node      text NOT NULL,
	state     text NOT NULL,
	processed bigint NOT NULL,
	total     bigint NOT NULL,
	successes bigint NOT NULL,
	failures  bigint NOT NULL,
	started   bigint NOT NULL,
	ended     bigint NOT NULL
);
CREATE INDEX scan_runs_started ON scan_runs (started, id);
