-- Business tables (shared with the web app) and the operations tables that aj fills.

CREATE TABLE IF NOT EXISTS clients (
  id              bigserial PRIMARY KEY,
  reference       text UNIQUE,
  type            text NOT NULL DEFAULT 'particulier' CHECK (type IN ('particulier', 'professionnel')),
  nom             text NOT NULL,
  prenom          text,
  raison_sociale  text,
  email           text,
  telephone       text,
  adresse         text,
  code_postal     text CHECK (code_postal IS NULL OR code_postal ~ '^[0-9]{5}$'),
  ville           text,
  siret           text CHECK (siret IS NULL OR siret ~ '^[0-9]{14}$'),
  reminders_paused boolean NOT NULL DEFAULT false,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  deleted_at      timestamptz
);
CREATE INDEX IF NOT EXISTS clients_email_idx ON clients (lower(email));

CREATE TABLE IF NOT EXISTS chantiers (
  id           bigserial PRIMARY KEY,
  reference    text UNIQUE,
  client_id    bigint NOT NULL REFERENCES clients(id),
  nom          text NOT NULL,
  adresse      text,
  code_postal  text CHECK (code_postal IS NULL OR code_postal ~ '^[0-9]{5}$'),
  ville        text,
  statut       text NOT NULL DEFAULT 'prevu' CHECK (statut IN ('prevu', 'en_cours', 'termine', 'annule')),
  date_debut   date,
  date_fin     date,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  deleted_at   timestamptz
);
CREATE INDEX IF NOT EXISTS chantiers_client_idx ON chantiers (client_id);

CREATE TABLE IF NOT EXISTS devis (
  id             bigserial PRIMARY KEY,
  numero         text NOT NULL UNIQUE,
  client_id      bigint NOT NULL REFERENCES clients(id),
  chantier_id    bigint REFERENCES chantiers(id),
  statut         text NOT NULL DEFAULT 'brouillon' CHECK (statut IN ('brouillon', 'envoye', 'signe', 'refuse', 'expire')),
  montant_ht     numeric(12,2) NOT NULL DEFAULT 0,
  montant_ttc    numeric(12,2) NOT NULL DEFAULT 0,
  date_emission  date NOT NULL DEFAULT current_date,
  date_envoi     date,
  date_validite  date,
  date_signature date,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  deleted_at     timestamptz
);
CREATE INDEX IF NOT EXISTS devis_statut_idx ON devis (statut) WHERE deleted_at IS NULL;

CREATE TABLE IF NOT EXISTS factures (
  id             bigserial PRIMARY KEY,
  numero         text NOT NULL UNIQUE,
  client_id      bigint NOT NULL REFERENCES clients(id),
  chantier_id    bigint REFERENCES chantiers(id),
  devis_id       bigint REFERENCES devis(id),
  statut         text NOT NULL DEFAULT 'brouillon' CHECK (statut IN ('brouillon', 'envoyee', 'payee', 'annulee')),
  montant_ht     numeric(12,2) NOT NULL DEFAULT 0,
  montant_ttc    numeric(12,2) NOT NULL DEFAULT 0,
  date_emission  date NOT NULL DEFAULT current_date,
  date_echeance  date,
  date_paiement  date,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  deleted_at     timestamptz
);
CREATE INDEX IF NOT EXISTS factures_statut_idx ON factures (statut, date_echeance) WHERE deleted_at IS NULL;

-- Operations: what aj did, so nothing is silently lost or done twice.

CREATE TABLE IF NOT EXISTS backup_runs (
  id              bigserial PRIMARY KEY,
  status          text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'deleted')),
  database_name   text NOT NULL,
  storage_url     text NOT NULL,
  object_key      text,
  manifest_key    text,
  globals_key     text,
  size_bytes      bigint,
  sha256          text,
  compress        text,
  encrypted_to    text,
  row_counts      jsonb,
  total_rows      bigint,
  server_version  text,
  pg_dump_version text,
  aj_version      text,
  host            text NOT NULL,
  pid             integer NOT NULL,
  started_at      timestamptz NOT NULL DEFAULT now(),
  finished_at     timestamptz,
  duration_ms     integer,
  error           text,
  verified_at     timestamptz,
  verify_ok       boolean,
  verify_error    text,
  deleted_at      timestamptz,
  acknowledged_at timestamptz
);
CREATE INDEX IF NOT EXISTS backup_runs_started_idx ON backup_runs (started_at DESC);

CREATE TABLE IF NOT EXISTS archived_documents (
  id                 bigserial PRIMARY KEY,
  doc_type           text NOT NULL,
  doc_id             text NOT NULL,
  version            integer NOT NULL,
  storage_url        text NOT NULL,
  object_key         text NOT NULL UNIQUE,
  filename           text NOT NULL,
  original_filename  text NOT NULL,
  size_bytes         bigint NOT NULL,
  md5                text NOT NULL,
  sha256             text NOT NULL,
  content_type       text NOT NULL,
  archived_at        timestamptz NOT NULL DEFAULT now(),
  last_verified_at   timestamptz,
  last_verify_result text,
  UNIQUE (doc_type, doc_id, version)
);

CREATE TABLE IF NOT EXISTS email_messages (
  id               bigserial PRIMARY KEY,
  status           text NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
  from_address     text NOT NULL,
  to_addresses     text[] NOT NULL,
  cc_addresses     text[] NOT NULL DEFAULT '{}',
  bcc_addresses    text[] NOT NULL DEFAULT '{}',
  reply_to         text,
  subject          text NOT NULL,
  template         text,
  document_type    text,
  document_id      text,
  attachments      jsonb NOT NULL DEFAULT '[]',
  message_id       text,
  accepted         text[],
  rejected         text[],
  response         text,
  error            text,
  retry_of         bigint REFERENCES email_messages(id),
  transport        text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz
);
CREATE INDEX IF NOT EXISTS email_messages_created_idx ON email_messages (created_at DESC);

CREATE TABLE IF NOT EXISTS reminder_log (
  id               bigserial PRIMARY KEY,
  document_type    text NOT NULL CHECK (document_type IN ('facture', 'devis')),
  document_id      bigint NOT NULL,
  level            text NOT NULL,
  status           text NOT NULL CHECK (status IN ('sending', 'sent', 'failed', 'done')),
  email_message_id bigint REFERENCES email_messages(id),
  error            text,
  claimed_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz,
  UNIQUE (document_type, document_id, level)
);

CREATE TABLE IF NOT EXISTS import_runs (
  id           bigserial PRIMARY KEY,
  entity       text NOT NULL,
  file_name    text NOT NULL,
  file_sha256  text NOT NULL,
  on_conflict  text NOT NULL,
  dry_run      boolean NOT NULL DEFAULT false,
  status       text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'invalid')),
  rows_read    integer NOT NULL DEFAULT 0,
  inserted     integer NOT NULL DEFAULT 0,
  updated      integer NOT NULL DEFAULT 0,
  skipped      integer NOT NULL DEFAULT 0,
  invalid      integer NOT NULL DEFAULT 0,
  run_by       text NOT NULL,
  started_at   timestamptz NOT NULL DEFAULT now(),
  finished_at  timestamptz,
  error        text
);
CREATE INDEX IF NOT EXISTS import_runs_sha_idx ON import_runs (file_sha256);

CREATE TABLE IF NOT EXISTS job_runs (
  id           bigserial PRIMARY KEY,
  job          text NOT NULL,
  host         text NOT NULL,
  pid          integer NOT NULL,
  status       text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
  exit_code    integer,
  summary      text,
  error        text,
  started_at   timestamptz NOT NULL DEFAULT now(),
  finished_at  timestamptz
);
CREATE INDEX IF NOT EXISTS job_runs_job_idx ON job_runs (job, started_at DESC);
