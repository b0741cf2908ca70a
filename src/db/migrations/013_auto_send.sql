-- aj mail auto-send: each (document, status) it has seen, so that a document is mailed once when it
-- enters envoye, signe or envoyee (the message itself goes through the delivery ledger under
-- status:<type>:<id>:<status>). The first run records the documents already in those statuses as
-- baseline: known, never mailed. first_seen is when aj first saw the document there, and
-- pdf_missing says the last run found no archived PDF for it: waiting longer than
-- AUTO_SEND_PDF_WAIT_HOURS makes `aj status` unhealthy.

CREATE TABLE IF NOT EXISTS auto_send_documents (
  document_type  text NOT NULL,
  document_id    text NOT NULL,
  status         text NOT NULL,
  numero         text,
  baseline       boolean NOT NULL,
  pdf_missing    boolean NOT NULL DEFAULT false,
  first_seen     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (document_type, document_id, status)
);
CREATE INDEX IF NOT EXISTS auto_send_documents_waiting_idx ON auto_send_documents (first_seen) WHERE pdf_missing;

-- One row once the first run has taken its baseline.
CREATE TABLE IF NOT EXISTS auto_send_baseline (
  taken          boolean PRIMARY KEY DEFAULT true CHECK (taken),
  taken_at       timestamptz NOT NULL DEFAULT now(),
  since          date,
  documents      integer NOT NULL
);
