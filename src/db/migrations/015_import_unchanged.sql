-- Rows already identical in the database are "unchanged", not "skipped" (skipped = left alone
-- because of --on-conflict skip): `aj status` and the import history report them apart.
ALTER TABLE import_runs ADD COLUMN IF NOT EXISTS unchanged integer NOT NULL DEFAULT 0;
