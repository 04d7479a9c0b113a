-- Managed objects: one JSON document per object (holding its _id and _rev
-- too), keyed by type and id; queries read a type's rows in id order, which
-- is byte order (COLLATE "C") as on SQLite.
CREATE TABLE managed_objects (
	type text  COLLATE "C" NOT NULL,
	id   text  COLLATE "C" NOT NULL,
	rev  bigint NOT NULL,
	doc  jsonb  NOT NULL,
	PRIMARY KEY (type, id)
);
