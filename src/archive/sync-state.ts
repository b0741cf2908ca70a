import type { Db } from '../db/pool.js';

/** A source file as it was when its content was archived. */
export interface SyncedFile {
  path: string;
  size: number;
  fingerprint: string;
  type: string;
  docId: string;
  version: number;
  sha256: string;
}

/** Every file of the source already archived, by path: one query for the whole run. */
export async function loadSyncState(db: Db, source: string): Promise<Map<string, { size: number; fingerprint: string }>> {
  const rows = await db.query<{ path: string; size: number; fingerprint: string }>(
    'SELECT path, size_bytes AS size, fingerprint FROM archive_sync_files WHERE source = $1',
    [source],
  );
  return new Map(rows.map((r) => [r.path, { size: r.size, fingerprint: r.fingerprint }]));
}

/** One statement per round: these files need not be read again until they change. */
export async function recordSynced(db: Db, source: string, files: readonly SyncedFile[]): Promise<void> {
  if (files.length === 0) return;
  const column = <K extends keyof SyncedFile>(name: K) => files.map((f) => f[name]);
  await db.query(
    `INSERT INTO archive_sync_files (source, path, size_bytes, fingerprint, doc_type, doc_id, version, sha256)
     SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::int[], $8::text[])
     ON CONFLICT (source, path) DO UPDATE SET size_bytes = EXCLUDED.size_bytes, fingerprint = EXCLUDED.fingerprint, doc_type = EXCLUDED.doc_type,
       doc_id = EXCLUDED.doc_id, version = EXCLUDED.version, sha256 = EXCLUDED.sha256, synced_at = now()`,
    [source, column('path'), column('size'), column('fingerprint'), column('type'), column('docId'), column('version'), column('sha256')],
  );
}
