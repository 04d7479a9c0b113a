-- Nodes claim fires one by one (ClaimFires) and never hold a trigger: the
-- acquisition columns and indexes go, and so does the table of schedules
-- created over an API that Sundial does not have.
UPDATE triggers SET state = 'waiting' WHERE state = 'acquired';
DROP INDEX triggers_due;
DROP INDEX triggers_node;
ALTER TABLE triggers DROP COLUMN node_id;
ALTER TABLE triggers DROP COLUMN acquired_at;
DROP TABLE schedules;
-- PruneRuns' retention by count walks each schedule's finished runs, newest
-- first (its retention by age uses runs_ended).
CREATE INDEX runs_finished ON runs (schedule_id, scheduled_at DESC, id DESC) WHERE status <> 'running';
