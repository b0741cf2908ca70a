-- Restores: which backup went where, and whether it was over the production database (aj's own
-- schema then left as it was). The command's exit status and timing are in job_runs as well;
-- this row says what was restored.

CREATE TABLE IF NOT EXISTS restore_runs (
  id               bigserial PRIMARY KEY,
  backup_id        bigint REFERENCES backup_runs(id),
  object_key       text NOT NULL,
  storage_url      text NOT NULL,
  target_database  text NOT NULL,
  over_production  boolean NOT NULL,
  status           text NOT NULL CHECK (status IN ('succeeded', 'failed')),
  verify_ok        boolean,
  tables_checked   integer,
  differences      jsonb,
  error            text,
  started_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz
);
CREATE INDEX IF NOT EXISTS restore_runs_started_idx ON restore_runs (started_at DESC);
