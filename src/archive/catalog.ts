import type { Db, Queryable } from '../db/pool.js';

/** One row of archived_documents: one version of one document, one object. */
export interface ArchivedDocument {
  id: number;
  docType: string;
  docId: string;
  version: number;
  storageUrl: string;
  objectKey: string;
  filename: string;
  originalFilename: string;
  size: number;
  md5: string;
  sha256: string;
  contentType: string;
  archivedAt: Date;
  lastVerifiedAt: Date | null;
  lastVerifyResult: string | null;
}

const COLUMNS = `id, doc_type AS "docType", doc_id AS "docId", version, storage_url AS "storageUrl", object_key AS "objectKey",
  filename, original_filename AS "originalFilename", size_bytes AS size, md5, sha256, content_type AS "contentType",
  archived_at AS "archivedAt", last_verified_at AS "lastVerifiedAt", last_verify_result AS "lastVerifyResult"`;

// Advisory lock namespace for "one writer per document" ("ajar"); job locks use another.
const DOCUMENT_LOCK_NAMESPACE = 0x616a6172;

/**
 * Serialises writers of these documents across processes until the transaction ends. One
 * statement for a whole batch; locks are taken in hash order (PostgreSQL evaluates a volatile
 * output column after ORDER BY), so two runs sharing documents cannot deadlock.
 */
export async function lockDocuments(client: Queryable, type: string, docIds: readonly string[]): Promise<void> {
  await client.query(
    `SELECT pg_advisory_xact_lock($1, h)
       FROM (SELECT DISTINCT hashtext($2 || '/' || d) AS h FROM unnest($3::text[]) AS d) AS documents
      ORDER BY h`,
    [DOCUMENT_LOCK_NAMESPACE, type, docIds],
  );
}

/** Every version of each document, oldest first. */
export async function versionsOfEach(client: Queryable, type: string, docIds: readonly string[]): Promise<Map<string, ArchivedDocument[]>> {
  const { rows } = await client.query(
    `SELECT ${COLUMNS} FROM archived_documents WHERE doc_type = $1 AND doc_id = ANY($2::text[]) ORDER BY doc_id, version`,
    [type, docIds],
  );
  const byDocument = new Map<string, ArchivedDocument[]>();
  for (const row of rows as ArchivedDocument[]) {
    const versions = byDocument.get(row.docId) ?? [];
    versions.push(row);
    byDocument.set(row.docId, versions);
  }
  return byDocument;
}

export type NewDocument = Omit<ArchivedDocument, 'id' | 'archivedAt' | 'lastVerifiedAt' | 'lastVerifyResult'>;

/** One INSERT for a batch: 1,000 documents are not 1,000 round trips. */
export async function insertDocuments(client: Queryable, docs: readonly NewDocument[]): Promise<void> {
  if (docs.length === 0) return;
  const column = <K extends keyof NewDocument>(name: K) => docs.map((d) => d[name]);
  await client.query(
    `INSERT INTO archived_documents (doc_type, doc_id, version, storage_url, object_key, filename, original_filename, size_bytes, md5, sha256, content_type)
     SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::text[], $10::text[], $11::text[])`,
    [
      column('docType'), column('docId'), column('version'), column('storageUrl'), column('objectKey'), column('filename'),
      column('originalFilename'), column('size'), column('md5'), column('sha256'), column('contentType'),
    ],
  );
}

export interface DocumentFilter {
  type?: string;
  docId?: string;
  /** Archived on or after this business date (YYYY-MM-DD in `timeZone`). */
  since?: string;
  timeZone: string;
  storageUrl?: string;
  limit?: number;
}

export async function findDocuments(db: Db, filter: DocumentFilter): Promise<ArchivedDocument[]> {
  const where: string[] = [];
  const values: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    values.push(value);
    where.push(sql.replace('?', `$${values.length}`));
  };
  if (filter.type) add('doc_type = ?', filter.type);
  if (filter.docId) add('doc_id = ?', filter.docId);
  if (filter.storageUrl) add('storage_url = ?', filter.storageUrl);
  if (filter.since) {
    values.push(filter.since, filter.timeZone);
    where.push(`archived_at >= ($${values.length - 1}::date)::timestamp AT TIME ZONE $${values.length}`);
  }
  const limit = filter.limit ? ` LIMIT ${Math.trunc(filter.limit)}` : '';
  return db.query<ArchivedDocument & Record<string, unknown>>(
    `SELECT ${COLUMNS} FROM archived_documents ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY archived_at DESC, id DESC${limit}`,
    values,
  );
}

/** The given version, or the newest one. */
export async function findVersion(db: Db, type: string, docId: string, version?: number): Promise<ArchivedDocument | undefined> {
  return db.one<ArchivedDocument & Record<string, unknown>>(
    `SELECT ${COLUMNS} FROM archived_documents WHERE doc_type = $1 AND doc_id = $2 AND ($3::int IS NULL OR version = $3) ORDER BY version DESC LIMIT 1`,
    [type, docId, version ?? null],
  );
}

/** Every key the archive knows in this storage, to tell orphans from documents. */
export async function knownKeys(db: Db, storageUrl: string): Promise<Set<string>> {
  const rows = await db.query<{ k: string }>('SELECT object_key AS k FROM archived_documents WHERE storage_url = $1', [storageUrl]);
  return new Set(rows.map((r) => r.k));
}

/** One statement for the whole run: 10,000 rows are not 10,000 round trips. */
export async function recordVerification(db: Db, results: Array<{ id: number; result: string }>): Promise<void> {
  if (results.length === 0) return;
  await db.query(
    `UPDATE archived_documents d SET last_verified_at = now(), last_verify_result = r.result
       FROM unnest($1::bigint[], $2::text[]) AS r(id, result) WHERE d.id = r.id`,
    [results.map((r) => r.id), results.map((r) => r.result)],
  );
}
