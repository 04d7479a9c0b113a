-- Synchronization: links (IDM's repo/link: one link per source and per
-- target of a link type and qualifier), reconciliation runs, and their plan
-- and audit entries.
CREATE TABLE sync_links (
	id             text COLLATE "C" NOT NULL PRIMARY KEY,
	link_type      text COLLATE "C" NOT NULL,
	link_qualifier text COLLATE "C" NOT NULL,
	first_id       text COLLATE "C" NOT NULL,
	second_id      text COLLATE "C" NOT NULL
);
CREATE UNIQUE INDEX sync_links_first ON sync_links (link_type, link_qualifier, first_id);
CREATE UNIQUE INDEX sync_links_second ON sync_links (link_type, link_qualifier, second_id);

CREATE TABLE recon_runs (
	id      text COLLATE "C" NOT NULL PRIMARY KEY,
	mapping text NOT NULL,
	state   text NOT NULL,
	started timestamptz NOT NULL,
	ended   timestamptz,
	summary jsonb NOT NULL
);
CREATE INDEX recon_runs_started ON recon_runs (started);

CREATE TABLE recon_entries (
	recon_id text COLLATE "C" NOT NULL,
	kind     text NOT NULL,
	seq      bigint NOT NULL,
	doc      jsonb NOT NULL,
	PRIMARY KEY (recon_id, kind, seq)
);
