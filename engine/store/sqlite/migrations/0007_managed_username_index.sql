-- An expression index on the userName of managed objects, as the queries
-- of managed users look it up (userName eq "…"): the name folded as the
-- filter translation folds it, and "[" for an array (whose elements are
-- matched one by one); the last letter replaced is the Kelvin sign,
-- U+212A. QueryObjects uses it through userNameKey, which
-- must stay this very expression.
CREATE INDEX managed_objects_username ON managed_objects (type, (CASE json_type(doc, '$."userName"') WHEN 'array' THEN '[' ELSE lower(replace(replace(replace(replace((doc ->> '$."userName"'), 'ı', 'i'), 'İ', 'i'), 'ſ', 's'), 'K', 'k')) END));
