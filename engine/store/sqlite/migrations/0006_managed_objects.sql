-- Managed objects: one JSON document per object (holding its _id and _rev
-- too) in SQLite's binary JSONB, keyed by type and id; queries read a
-- type's rows in id order.
CREATE TABLE managed_objects (
	type TEXT    NOT NULL,
	id   TEXT    NOT NULL,
	rev  INTEGER NOT NULL,
	doc  BLOB    NOT NULL,
	PRIMARY KEY (type, id)
);
