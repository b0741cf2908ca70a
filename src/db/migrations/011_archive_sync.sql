-- archive sync: what each source file looked like (size and mtime, or ETag) when its content was
-- archived, so that the next run skips it from the listing alone, without reading it again.
-- One row per file of a source; the archive version that holds its content.

CREATE TABLE IF NOT EXISTS archive_sync_files (
  source       text NOT NULL,
  path         text NOT NULL,
  size_bytes   bigint NOT NULL,
  fingerprint  text NOT NULL,
  doc_type     text NOT NULL,
  doc_id       text NOT NULL,
  version      integer NOT NULL,
  sha256       text NOT NULL,
  synced_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source, path)
);
