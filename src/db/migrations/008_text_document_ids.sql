-- The web app's ids are text (Prisma cuids): reminder_log names documents as email_messages and
-- archived_documents already do. Earlier integer ids become their text; the unique constraint
-- (document_type, document_id, level) is rebuilt on the new type.

ALTER TABLE reminder_log ALTER COLUMN document_id TYPE text USING document_id::text;
