-- Mail: keep each message's content so `aj mail retry` can re-send exactly what failed,
-- and index the lookups that history and retry make.

ALTER TABLE email_messages ADD COLUMN IF NOT EXISTS text_body text;
ALTER TABLE email_messages ADD COLUMN IF NOT EXISTS html_body text;

CREATE INDEX IF NOT EXISTS email_messages_document_idx ON email_messages (document_type, document_id);
CREATE INDEX IF NOT EXISTS email_messages_retry_of_idx ON email_messages (retry_of) WHERE retry_of IS NOT NULL;
CREATE INDEX IF NOT EXISTS email_messages_unfinished_idx ON email_messages (status, created_at) WHERE status <> 'sent';
