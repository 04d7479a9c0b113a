-- The task scanner's runs and their progress, so that a restart, or another
-- node, still lists them: times are Unix milliseconds, ended 0 while the run
-- goes on; node is the node that runs (or ran) it.
CREATE TABLE scan_runs (
	id        TEXT PRIMARY KEY,
	name      TEXT NOT NULL,
	node      TEXT NOT NULL,
	state     TEXT NOT NULL,
	processed INTEGER NOT NULL,
	total     INTEGER NOT NULL,
	successes INTEGER NOT NULL,
	failures  INTEGER NOT NULL,
	started   INTEGER NOT NULL,
	ended     INTEGER NOT NULL
);
CREATE INDEX scan_runs_started ON scan_runs (started, id);
