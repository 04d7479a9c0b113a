-- Schedules created over REST with persisted: true, the change log that
-- tells every node what was put, deleted, paused or resumed on another, and
-- the cluster's secrets. New tables only, so that nodes of the previous
-- version keep working during a rolling upgrade (their pauses are not
-- logged: the others see them at their next claim).
CREATE TABLE api_schedules (
    id         TEXT    NOT NULL PRIMARY KEY,
    body       TEXT    NOT NULL,
    rev        INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
-- AUTOINCREMENT: a seq is never reused, even once every entry is pruned.
-- Writes are serialized by SQLite's write lock, so seqs commit in order.
CREATE TABLE changes (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT    NOT NULL,
    schedule_id TEXT    NOT NULL,
    at          INTEGER NOT NULL
);
CREATE INDEX changes_at ON changes (at);
CREATE TABLE cluster_secrets (
    name  TEXT NOT NULL PRIMARY KEY,
    value BLOB NOT NULL
);
