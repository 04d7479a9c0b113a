-- Schedules created over REST with persisted: true, the change log that
-- tells every node what was put, deleted, paused or resumed on another, and
-- the cluster's secrets. New tables only, so that nodes of the previous
-- version keep working during a rolling upgrade (their pauses are not
-- logged: the others see them at their next claim).
CREATE TABLE api_schedules (
    id         text COLLATE "C" NOT NULL PRIMARY KEY,
    body       text        NOT NULL,
    rev        bigint      NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
-- A seq is taken under a transaction-scoped advisory lock held to commit
-- (see the backend), so seqs become visible in order.
CREATE TABLE changes (
    seq         bigserial   PRIMARY KEY,
    kind        text        NOT NULL,
    schedule_id text COLLATE "C" NOT NULL,
    at          timestamptz NOT NULL
);
CREATE INDEX changes_at ON changes (at);
CREATE TABLE cluster_secrets (
    name  text  NOT NULL PRIMARY KEY,
    value bytea NOT NULL
);
