-- Physical base backups (pg_basebackup) for point-in-time recovery. They live in a table of their
-- own rather than in backup_runs: everything that reads backup_runs (verify's pg_restore --list,
-- the shrink alarm, metrics, the adoption of interrupted dumps) means a pg_dump of one database,
-- while a base backup is the whole cluster. Ids come from backup_runs' sequence, so an id names
-- one backup of either kind in `aj backup list`.

CREATE TABLE IF NOT EXISTS base_backups (
  id                bigint PRIMARY KEY DEFAULT nextval('backup_runs_id_seq'),
  status            text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'deleted')),
  system_identifier text NOT NULL,
  database_name     text NOT NULL,
  storage_url       text NOT NULL,
  object_key        text,
  manifest_key      text,
  pg_manifest_key   text,
  size_bytes        bigint,
  sha256            text,
  encrypted_to      text,
  server_version    text,
  timeline          integer,
  start_lsn         pg_lsn,
  stop_lsn          pg_lsn,
  start_wal         text,
  aj_version        text,
  host              text NOT NULL,
  pid               integer NOT NULL,
  started_at        timestamptz NOT NULL DEFAULT now(),
  -- When the backup was complete: the earliest moment it can be recovered to.
  finished_at       timestamptz,
  duration_ms       integer,
  error             text,
  verified_at       timestamptz,
  verify_ok         boolean,
  verify_error      text,
  deleted_at        timestamptz
);
CREATE INDEX IF NOT EXISTS base_backups_started_idx ON base_backups (started_at DESC);
