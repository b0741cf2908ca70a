-- The delivery ledger: one row per message sent for a purpose, under a key that says what it is
-- (reminder:facture:<id>:relance-1, alert:<id>, send:<uuid>). The unique key is the claim: whatever
-- command sends or re-sends it, a key is delivered at most once. email_messages rows are its
-- attempts (delivery_id). reminder_log mirrors the ledger for reminder keys (delivery_id), written
-- in the same statements.

CREATE TABLE IF NOT EXISTS deliveries (
  id             bigserial PRIMARY KEY,
  key            text NOT NULL UNIQUE,
  purpose        text NOT NULL,
  document_type  text,
  document_id    text,
  status         text NOT NULL CHECK (status IN ('sending', 'sent', 'failed', 'unknown')),
  attempts       integer NOT NULL DEFAULT 0,
  refused        text[] NOT NULL DEFAULT '{}',
  error          text,
  claimed_host   text,
  claimed_pid    integer,
  claimed_at     timestamptz NOT NULL DEFAULT now(),
  finished_at    timestamptz,
  -- How the operator settled an unknown delivery: 'delivered' (found in the BCC mailbox) or 'resent'.
  settled        text,
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS deliveries_open_idx ON deliveries (status, claimed_at) WHERE status <> 'sent';
CREATE INDEX IF NOT EXISTS deliveries_document_idx ON deliveries (document_type, document_id);

ALTER TABLE email_messages ADD COLUMN IF NOT EXISTS delivery_id bigint REFERENCES deliveries(id);
CREATE INDEX IF NOT EXISTS email_messages_delivery_idx ON email_messages (delivery_id);
-- An attempt cut after its final dot is neither sent nor failed.
ALTER TABLE email_messages DROP CONSTRAINT IF EXISTS email_messages_status_check;
ALTER TABLE email_messages ADD CONSTRAINT email_messages_status_check CHECK (status IN ('pending', 'sent', 'failed', 'unknown'));

ALTER TABLE reminder_log ADD COLUMN IF NOT EXISTS delivery_id bigint REFERENCES deliveries(id);
ALTER TABLE reminder_log DROP CONSTRAINT IF EXISTS reminder_log_status_check;
ALTER TABLE reminder_log ADD CONSTRAINT reminder_log_status_check CHECK (status IN ('sending', 'sent', 'failed', 'unknown', 'done'));

-- Reminders logged before the ledger become its deliveries; a claim left `sending` by a crash is unknown.
INSERT INTO deliveries (key, purpose, document_type, document_id, status, attempts, error, claimed_at, finished_at)
SELECT 'reminder:' || document_type || ':' || document_id || ':' || level, 'reminder', document_type, document_id,
       CASE status WHEN 'sending' THEN 'unknown' ELSE status END, 1, error, claimed_at, finished_at
  FROM reminder_log WHERE status <> 'done'
ON CONFLICT (key) DO NOTHING;
UPDATE reminder_log l SET delivery_id = d.id, status = d.status
  FROM deliveries d WHERE d.key = 'reminder:' || l.document_type || ':' || l.document_id || ':' || l.level AND l.delivery_id IS NULL;
UPDATE email_messages m SET delivery_id = l.delivery_id FROM reminder_log l WHERE l.email_message_id = m.id AND m.delivery_id IS NULL;

-- Other messages from before the ledger: each first attempt and its retries become one delivery,
-- message:<first id>, delivered when any attempt was; a pending one is unknown.
CREATE TEMPORARY TABLE earlier_chains ON COMMIT DROP AS
WITH RECURSIVE chain AS (
  SELECT id AS root, id FROM email_messages WHERE retry_of IS NULL AND delivery_id IS NULL
  UNION ALL
  SELECT c.root, m.id FROM email_messages m JOIN chain c ON m.retry_of = c.id WHERE m.delivery_id IS NULL
)
SELECT root, id FROM chain;
INSERT INTO deliveries (key, purpose, document_type, document_id, status, attempts, error, claimed_at, finished_at, created_at)
SELECT 'message:' || c.root, CASE WHEN r.template = 'alerte' THEN 'alert' WHEN r.document_type IS NOT NULL THEN 'document' ELSE 'send' END,
       r.document_type, r.document_id,
       CASE WHEN bool_or(m.status = 'sent') THEN 'sent' WHEN bool_or(m.status = 'pending') THEN 'unknown' ELSE 'failed' END,
       count(*), (array_agg(m.error ORDER BY m.id DESC))[1], r.created_at, max(m.finished_at), r.created_at
  FROM earlier_chains c JOIN email_messages m ON m.id = c.id JOIN email_messages r ON r.id = c.root
 GROUP BY c.root, r.template, r.document_type, r.document_id, r.created_at
ON CONFLICT (key) DO NOTHING;
UPDATE email_messages m SET delivery_id = d.id FROM earlier_chains c JOIN deliveries d ON d.key = 'message:' || c.root WHERE m.id = c.id;
