-- Placeholder for version 7, which another change of this release fills;
-- when both meet, that change's 0007 replaces this file. It changes
-- nothing, so the recon tables (0008) do not depend on it.
SELECT 1;
