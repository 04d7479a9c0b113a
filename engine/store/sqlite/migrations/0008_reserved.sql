-- Placeholder for version 8, which another change of this release fills;
-- when both meet, that change's 0008 replaces this file. It changes
-- nothing, so the recon tables (0009) do not depend on it.
SELECT 1;
