-- The scheduler's own part of a trigger's state (JSON, opaque to the store):
-- what a restarted node needs beyond next/previous fire and times triggered
-- to continue the trigger (e.g. a simple trigger's effective start).
ALTER TABLE triggers ADD COLUMN data TEXT NOT NULL DEFAULT 'null';
