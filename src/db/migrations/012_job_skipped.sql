-- A scheduled job that is switched off (BACKUP_ENABLED=false) ran, but did nothing: recorded as
-- `skipped`, so neither `aj status` nor the metrics take it for a success.

ALTER TABLE job_runs DROP CONSTRAINT IF EXISTS job_runs_status_check;
ALTER TABLE job_runs ADD CONSTRAINT job_runs_status_check CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted', 'skipped'));
