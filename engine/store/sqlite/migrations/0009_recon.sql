-- Synchronization: links (IDM's repo/link: one link per source and per
-- target of a link type and qualifier), reconciliation runs, and their plan
-- and audit entries.
CREATE TABLE sync_links (
	id             TEXT NOT NULL PRIMARY KEY,
	link_type      TEXT NOT NULL,
	link_qualifier TEXT NOT NULL,
	first_id       TEXT NOT NULL,
	second_id      TEXT NOT NULL
);
CREATE UNIQUE INDEX sync_links_first ON sync_links (link_type, link_qualifier, first_id);
CREATE UNIQUE INDEX sync_links_second ON sync_links (link_type, link_qualifier, second_id);

CREATE TABLE recon_runs (
	id      TEXT    NOT NULL PRIMARY KEY,
	mapping TEXT    NOT NULL,
	state   TEXT    NOT NULL,
	started INTEGER NOT NULL, -- µs since the epoch
	ended   INTEGER,          -- µs since the epoch; NULL while active
	summary TEXT    NOT NULL
);
CREATE INDEX recon_runs_started ON recon_runs (started);

CREATE TABLE recon_entries (
	recon_id TEXT    NOT NULL,
	kind     TEXT    NOT NULL,
	seq      INTEGER NOT NULL,
	doc      TEXT    NOT NULL,
	PRIMARY KEY (recon_id, kind, seq)
);
