-- Sundial store, SQLite: triggers, API schedules, run history, nodes.
-- Times are INTEGER microseconds since the Unix epoch, UTC; NULL = none.

CREATE TABLE triggers (
    schedule_id     TEXT    NOT NULL PRIMARY KEY,
    definition      TEXT    NOT NULL,
    config_hash     TEXT    NOT NULL DEFAULT '',
    -- blocked: fired with concurrentExecution false; the run blocking it is
    -- the fire at prev_fire_at, whose FinishRuns returns it to waiting.
    state           TEXT    NOT NULL CHECK (state IN ('waiting', 'acquired', 'blocked', 'complete')),
    paused          INTEGER NOT NULL DEFAULT 0,
    next_fire_at    INTEGER,
    prev_fire_at    INTEGER,
    times_triggered INTEGER NOT NULL DEFAULT 0,
    node_id         TEXT,
    acquired_at     INTEGER,
    last_node_id    TEXT,
    revision        INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
-- AcquireDue's scan: only waiting, unpaused triggers, by due time.
CREATE INDEX triggers_due ON triggers (next_fire_at, schedule_id) WHERE state = 'waiting' AND paused = 0;
CREATE INDEX triggers_node ON triggers (node_id) WHERE node_id IS NOT NULL;

CREATE TABLE schedules (
    id         TEXT    NOT NULL PRIMARY KEY,
    config     TEXT    NOT NULL,
    revision   INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- One row per fire. The id is the fire id "<scheduleId>@<scheduled time>",
-- so the primary key makes recording a fire twice impossible.
CREATE TABLE runs (
    id             TEXT    NOT NULL PRIMARY KEY,
    schedule_id    TEXT    NOT NULL,
    scheduled_at   INTEGER NOT NULL,
    started_at     INTEGER NOT NULL,
    ended_at       INTEGER,
    node_id        TEXT    NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'skipped', 'abandoned')),
    error          TEXT    NOT NULL DEFAULT '',
    recoverable    INTEGER NOT NULL DEFAULT 0,
    recovery       INTEGER NOT NULL DEFAULT 0,
    recovered_from TEXT    NOT NULL DEFAULT '',
    attempt        INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX runs_schedule ON runs (schedule_id, scheduled_at DESC);
CREATE INDEX runs_scheduled ON runs (scheduled_at DESC);
CREATE INDEX runs_running ON runs (node_id) WHERE status = 'running';
CREATE INDEX runs_ended ON runs (ended_at) WHERE ended_at IS NOT NULL;

CREATE TABLE nodes (
    id            TEXT    NOT NULL PRIMARY KEY,
    state         TEXT    NOT NULL CHECK (state IN ('active', 'dead')),
    started_at    INTEGER,
    first_seen_at INTEGER NOT NULL,
    checked_in_at INTEGER NOT NULL,
    reported_at   INTEGER NOT NULL,
    config_hash   TEXT    NOT NULL DEFAULT '',
    info          TEXT    NOT NULL DEFAULT 'null',
    recovered_at  INTEGER,
    recovered_by  TEXT    NOT NULL DEFAULT ''
);
