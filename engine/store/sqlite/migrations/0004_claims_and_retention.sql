-- Nodes claim fires one by one (ClaimFires) and never hold a trigger: no
-- trigger stays acquired, and the indexes that served acquisition by due
-- time and by holding node go. The columns node_id and acquired_at and the
-- table schedules are no longer used; they stay, so that nodes of the
-- previous version keep working during a rolling upgrade.
UPDATE triggers SET state = 'waiting', node_id = NULL, acquired_at = NULL WHERE state = 'acquired' OR node_id IS NOT NULL;
DROP INDEX triggers_due;
DROP INDEX triggers_node;
-- PruneRuns' retention by count walks each schedule's finished runs, newest
-- first (its retention by age uses runs_ended).
CREATE INDEX runs_finished ON runs (schedule_id, scheduled_at DESC, id DESC) WHERE status <> 'running';
