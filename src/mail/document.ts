import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import type { BusinessSql } from '../business/sql.js';
import type { Db } from '../db/pool.js';
import { ConfigError, OperationError, UsageError } from '../errors.js';
import { type ObjectStore, SHA256_METADATA } from '../storage/store.js';
import { readVerified } from '../storage/verified.js';
import { assertHeaderSafe } from './address.js';
import type { AttachmentRecord } from './history.js';

/** `sha256` is kept in the message's record (history stores every field but the content). */
export type LoadedAttachment = AttachmentRecord & { sha256?: string; content: Buffer };

/** `--attach FILE`: must exist, be a regular file and stay under MAIL_MAX_ATTACHMENT_MB. */
export async function loadFileAttachment(path: string, maxMb: number): Promise<LoadedAttachment> {
  const full = resolve(path);
  const filename = basename(full);
  assertHeaderSafe('--attach', filename);
  const info = await stat(full).catch(() => undefined);
  if (!info?.isFile()) throw new UsageError(`--attach: ${path} does not exist or is not a file`, 'check the path');
  checkSize('--attach', filename, info.size, maxMb);
  const content = await readFile(full);
  return { filename, size: content.length, sha256: sha256Hex(content), source: { kind: 'file', path: full }, content };
}

export function checkSize(field: string, name: string, size: number, maxMb: number): void {
  if (size > maxMb * 1024 * 1024) {
    throw new UsageError(`${field}: ${name} is ${(size / 1024 / 1024).toFixed(1)} MiB, over the ${maxMb} MiB limit`, 'raise MAIL_MAX_ATTACHMENT_MB or send a link');
  }
}

export interface DocumentRef {
  type: 'devis' | 'facture';
  id: string;
}

export function parseDocumentRef(value: string): DocumentRef {
  const match = /^(devis|facture):([\w.-]+)$/.exec(value);
  if (!match) throw new UsageError(`--document: "${value}" is not <devis|facture>:<id>`, 'write it as devis:42 or facture:F-2026-001');
  return { type: match[1] as DocumentRef['type'], id: match[2]! };
}

export interface BusinessDocument {
  type: 'devis' | 'facture';
  /** The app's id, as text. */
  id: string;
  numero: string;
  montantTtc: string;
  clientName: string;
  clientEmail: string | null;
}

/** The devis or facture by numero or id, with its client's name and email, from the app's mapped tables. */
export async function findDocument(db: Db, b: BusinessSql, ref: DocumentRef): Promise<BusinessDocument> {
  const entity = ref.type;
  const row = await db.one<BusinessDocument>(
    `SELECT ${b.id(entity, 'd')}::text AS id, ${b.col(entity, 'numero', 'd')}::text AS numero, ${b.col(entity, 'montantTtc', 'd')}::numeric::text AS "montantTtc",
            ${b.col('client', 'email', 'c')}::text AS "clientEmail", ${b.clientName('c')} AS "clientName"
       FROM ${b.table(entity)} d JOIN ${b.table('client')} c ON ${b.id('client', 'c')} = ${b.col(entity, 'clientId', 'd')}
      WHERE ${b.notDeleted(entity, 'd')} AND (${b.col(entity, 'numero', 'd')}::text = $1 OR ${b.id(entity, 'd')}::text = $1)
      ORDER BY (${b.col(entity, 'numero', 'd')}::text = $1) DESC LIMIT 1`,
    [ref.id],
  );
  if (!row) throw new UsageError(`--document: no ${ref.type} ${ref.id} in ${b.tableName(entity)}`, `check the ${ref.type} number or id`);
  return { ...row, type: ref.type };
}

/**
 * The latest archived PDF of the document, read through the checked read: a damaged copy is a
 * VerificationError (exit 4) before anything is sent. Its SHA-256 goes into the attachment's
 * record, so that a retry re-reads exactly these bytes or refuses.
 */
export async function loadArchivedPdf(db: Db, store: ObjectStore, doc: BusinessDocument, maxMb: number): Promise<LoadedAttachment> {
  const row = await db.one<{ version: number; storage_url: string; object_key: string; filename: string; size_bytes: number; sha256: string; content_type: string }>(
    `SELECT version, storage_url, object_key, filename, size_bytes, sha256, content_type FROM archived_documents
      WHERE doc_type = $1 AND doc_id IN ($2, $3) ORDER BY version DESC, archived_at DESC LIMIT 1`,
    [doc.type, String(doc.id), doc.numero],
  );
  if (!row) {
    throw new OperationError(`no archived PDF for ${doc.type} ${doc.numero}`, `archive it first with \`aj archive put\`, then send again`);
  }
  const label = `the archived PDF of ${doc.type} ${doc.numero} (version ${row.version})`;
  if (row.storage_url !== store.url) {
    throw new ConfigError(`${label} is in ${row.storage_url}, but ARCHIVE_BUCKET points to ${store.url}`, 'set ARCHIVE_BUCKET to the location it was archived in');
  }
  checkSize('--document', row.filename, row.size_bytes, maxMb);
  const recorded = { size: row.size_bytes, sha256: row.sha256 };
  const content = await readVerified(store, row.object_key, recorded, { label, consequence: 'nothing was sent', hint: 'restore it from another copy (aj archive verify --deep) or archive a good copy' });
  return { filename: row.filename, size: content.length, sha256: row.sha256, contentType: row.content_type, source: { kind: 'archive', key: row.object_key }, content };
}

/**
 * Re-reads a recorded attachment for a retry: the same bytes (size and SHA-256 recorded at the first
 * attempt) or a refusal. An archived one goes through the checked read (damaged: exit 4). Records
 * written before SHA-256s were kept are checked against the archived object's own.
 */
export async function reloadAttachment(record: AttachmentRecord & { sha256?: string }, openArchive: () => Promise<ObjectStore>): Promise<LoadedAttachment> {
  const source = record.source;
  if (source.kind === 'archive') {
    const store = await openArchive();
    const sha256 = record.sha256 ?? (await store.head(source.key))?.metadata[SHA256_METADATA];
    if (!sha256) throw new OperationError(`attachment ${record.filename} cannot be checked: ${store.url}/${source.key} has no recorded SHA-256`, 'send the message again with aj mail send');
    const content = await readVerified(store, source.key, { size: record.size, sha256 }, {
      label: `attachment ${record.filename}`,
      consequence: 'nothing was sent',
      hint: 'restore it from another copy (aj archive verify --deep), then retry',
    });
    return { ...record, content };
  }
  const content = await readFile(source.path).catch(() => {
    throw new OperationError(`attachment ${source.path} is gone`, 'send the message again with aj mail send');
  });
  if (content.length !== record.size || (record.sha256 && sha256Hex(content) !== record.sha256)) {
    throw new OperationError(`attachment ${record.filename} changed since the first attempt`, 'send the message again with aj mail send');
  }
  return { ...record, content };
}

const sha256Hex = (content: Buffer) => createHash('sha256').update(content).digest('hex');
