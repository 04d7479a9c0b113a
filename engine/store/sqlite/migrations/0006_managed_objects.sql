-- Managed objects: one JSON document per object (holding its _id and _rev
-- too), keyed by type and id; queries read a type's rows in id order.
CREATE TABLE managed_objects (
	type TEXT    NOT NULL,
	id   TEXT    NOT NULL,
	rev  INTEGER NOT NULL,
	doc  TEXT    NOT NULL,
	PRIMARY KEY (type, id)
);
