import { readFile, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import type { BusinessSql } from '../business/sql.js';
import type { Db } from '../db/pool.js';
import { OperationError, UsageError } from '../errors.js';
import type { ObjectStore } from '../storage/store.js';
import { assertHeaderSafe } from './address.js';
import type { AttachmentRecord } from './history.js';

export type LoadedAttachment = AttachmentRecord & { content: Buffer };

/** `--attach FILE`: must exist, be a regular file and stay under MAIL_MAX_ATTACHMENT_MB. */
export async function loadFileAttachment(path: string, maxMb: number): Promise<LoadedAttachment> {
  const full = resolve(path);
  const filename = basename(full);
  assertHeaderSafe('--attach', filename);
  const info = await stat(full).catch(() => undefined);
  if (!info?.isFile()) throw new UsageError(`--attach: ${path} does not exist or is not a file`, 'check the path');
  checkSize('--attach', filename, info.size, maxMb);
  return { filename, size: info.size, source: { kind: 'file', path: full }, content: await readFile(full) };
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

/** The latest archived PDF of the document, read from the archive store. */
export async function loadArchivedPdf(db: Db, store: ObjectStore, doc: BusinessDocument, maxMb: number): Promise<LoadedAttachment> {
  const row = await db.one<{ object_key: string; filename: string; size_bytes: number; content_type: string }>(
    `SELECT object_key, filename, size_bytes, content_type FROM archived_documents
      WHERE doc_type = $1 AND doc_id IN ($2, $3) ORDER BY version DESC, archived_at DESC LIMIT 1`,
    [doc.type, String(doc.id), doc.numero],
  );
  if (!row) {
    throw new OperationError(`no archived PDF for ${doc.type} ${doc.numero}`, `archive it first with \`aj archive put\`, then send again`);
  }
  checkSize('--document', row.filename, row.size_bytes, maxMb);
  const content = await readAll(await store.get(row.object_key));
  return { filename: row.filename, size: content.length, contentType: row.content_type, source: { kind: 'archive', key: row.object_key }, content };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Re-reads a recorded attachment for a retry; refuses one whose content changed size since. */
export async function reloadAttachment(record: AttachmentRecord, openArchive: () => Promise<ObjectStore>): Promise<LoadedAttachment> {
  const content =
    record.source.kind === 'file'
      ? await readFile(record.source.path).catch(() => {
          throw new OperationError(`attachment ${record.source.kind === 'file' ? record.source.path : ''} is gone`, 'send the message again with aj mail send');
        })
      : await readAll(await (await openArchive()).get(record.source.key));
  if (content.length !== record.size) {
    throw new OperationError(`attachment ${record.filename} changed since the first attempt (${record.size} -> ${content.length} bytes)`, 'send the message again with aj mail send');
  }
  return { ...record, content };
}
