-- Operations alerts: one row per alert sent, so a broken job alerts once per cooldown, not every run.

CREATE TABLE IF NOT EXISTS ops_alerts (
  id               bigserial PRIMARY KEY,
  alert_key        text NOT NULL,
  job_run_id       bigint REFERENCES job_runs(id),
  host             text NOT NULL,
  subject          text NOT NULL,
  email_message_id bigint REFERENCES email_messages(id),
  webhook_status   text,
  sent_at          timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS ops_alerts_key_idx ON ops_alerts (alert_key, sent_at DESC);
CREATE INDEX IF NOT EXISTS job_runs_status_idx ON job_runs (status) WHERE status = 'running';
