-- The process that last checked in under a node id, so that a second live
-- process with the same id is refused instead of taking the first one's runs.
ALTER TABLE nodes ADD COLUMN instance TEXT NOT NULL DEFAULT '';
