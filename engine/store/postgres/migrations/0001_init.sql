-- Sundial store, PostgreSQL: triggers, API schedules, run history, nodes.
-- Ids use the "C" collation so that ordering (and paging) is bytewise, as in
-- SQLite, whatever the database's default collation.

CREATE TABLE triggers (
    schedule_id     text COLLATE "C" NOT NULL PRIMARY KEY,
    definition      text        NOT NULL,
    config_hash     text        NOT NULL DEFAULT '',
    -- blocked: fired with concurrentExecution false; the run blocking it is
    -- the fire at prev_fire_at, whose FinishRuns returns it to waiting.
    state           text        NOT NULL CHECK (state IN ('waiting', 'acquired', 'blocked', 'complete')),
    paused          boolean     NOT NULL DEFAULT false,
    next_fire_at    timestamptz,
    prev_fire_at    timestamptz,
    times_triggered bigint      NOT NULL DEFAULT 0,
    node_id         text COLLATE "C",
    acquired_at     timestamptz,
    last_node_id    text COLLATE "C",
    revision        bigint      NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
-- AcquireDue's scan: only waiting, unpaused triggers, by due time.
CREATE INDEX triggers_due ON triggers (next_fire_at, schedule_id) WHERE state = 'waiting' AND NOT paused;
CREATE INDEX triggers_node ON triggers (node_id) WHERE node_id IS NOT NULL;

CREATE TABLE schedules (
    id         text COLLATE "C" NOT NULL PRIMARY KEY,
    config     text        NOT NULL,
    revision   bigint      NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- One row per fire. The id is the fire id "<scheduleId>@<scheduled time>",
-- so the primary key makes recording a fire twice impossible.
CREATE TABLE runs (
    id             text COLLATE "C" NOT NULL PRIMARY KEY,
    schedule_id    text COLLATE "C" NOT NULL,
    scheduled_at   timestamptz NOT NULL,
    started_at     timestamptz NOT NULL,
    ended_at       timestamptz,
    node_id        text COLLATE "C" NOT NULL,
    status         text        NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'skipped', 'abandoned')),
    error          text        NOT NULL DEFAULT '',
    recoverable    boolean     NOT NULL DEFAULT false,
    recovery       boolean     NOT NULL DEFAULT false,
    recovered_from text COLLATE "C" NOT NULL DEFAULT '',
    attempt        integer     NOT NULL DEFAULT 1
);
CREATE INDEX runs_schedule ON runs (schedule_id, scheduled_at DESC);
CREATE INDEX runs_scheduled ON runs (scheduled_at DESC);
CREATE INDEX runs_running ON runs (node_id) WHERE status = 'running';
CREATE INDEX runs_ended ON runs (ended_at) WHERE ended_at IS NOT NULL;

CREATE TABLE nodes (
    id            text COLLATE "C" NOT NULL PRIMARY KEY,
    state         text        NOT NULL CHECK (state IN ('active', 'dead')),
    started_at    timestamptz,
    first_seen_at timestamptz NOT NULL,
    checked_in_at timestamptz NOT NULL,
    reported_at   timestamptz NOT NULL,
    config_hash   text        NOT NULL DEFAULT '',
    info          text        NOT NULL DEFAULT 'null',
    recovered_at  timestamptz,
    recovered_by  text COLLATE "C" NOT NULL DEFAULT ''
);
