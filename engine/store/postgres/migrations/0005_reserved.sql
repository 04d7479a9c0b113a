-- Placeholder for version 5, which another change of this release fills;
-- when both meet, that change's 0005 replaces this file. It changes
-- nothing, so managed_objects (0006) does not depend on it.
SELECT 1;
