import type { Db } from '../db/pool.js';

/** What every backup history row holds, dump or base backup: who ran it, when, and its verification. */
export interface RunFields {
  id: number;
  status: 'running' | 'succeeded' | 'failed' | 'deleted';
  database_name: string;
  storage_url: string;
  object_key: string | null;
  manifest_key: string | null;
  size_bytes: number | null;
  sha256: string | null;
  encrypted_to: string | null;
  server_version: string | null;
  aj_version: string | null;
  host: string;
  pid: number;
  started_at: Date;
  finished_at: Date | null;
  duration_ms: number | null;
  error: string | null;
  verified_at: Date | null;
  verify_ok: boolean | null;
  verify_error: string | null;
  deleted_at: Date | null;
}

/** One row of backup_runs, as aj reads it back. */
export interface BackupRecord extends RunFields {
  globals_key: string | null;
  compress: string | null;
  row_counts: Record<string, number> | null;
  total_rows: number | null;
  pg_dump_version: string | null;
}

export async function startRecord(db: Db, fields: { database: string; storageUrl: string; host: string; pid: number; compress: string; encryptedTo?: string; ajVersion: string }): Promise<BackupRecord> {
  return (await db.one<BackupRecord>(
    `INSERT INTO backup_runs (status, database_name, storage_url, host, pid, compress, encrypted_to, aj_version)
     VALUES ('running', $1, $2, $3, $4, $5, $6, $7) RETURNING *`,
    [fields.database, fields.storageUrl, fields.host, fields.pid, fields.compress, fields.encryptedTo ?? null, fields.ajVersion],
  ))!;
}

export async function finishSucceeded(db: Db, id: number, fields: {
  objectKey: string; manifestKey: string; globalsKey: string | null; size: number; sha256: string;
  rowCounts: Record<string, number>; serverVersion: string; pgDumpVersion: string; durationMs: number;
}): Promise<BackupRecord> {
  const total = Object.values(fields.rowCounts).reduce((a, b) => a + b, 0);
  return (await db.one<BackupRecord>(
    `UPDATE backup_runs SET status = 'succeeded', object_key = $2, manifest_key = $3, globals_key = $4, size_bytes = $5,
       sha256 = $6, row_counts = $7, total_rows = $8, server_version = $9, pg_dump_version = $10, duration_ms = $11,
       finished_at = now()
     WHERE id = $1 RETURNING *`,
    [id, fields.objectKey, fields.manifestKey, fields.globalsKey, fields.size, fields.sha256, JSON.stringify(fields.rowCounts), total, fields.serverVersion, fields.pgDumpVersion, fields.durationMs],
  ))!;
}

/**
 * What a run streamed, recorded before its upload completes: if the process dies between completing
 * the upload and writing the manifest, the next run can prove the dump against this and adopt it.
 */
export async function recordStreamed(db: Db, id: number, fields: { size: number; sha256: string; rowCounts: Record<string, number>; serverVersion: string; pgDumpVersion: string }): Promise<void> {
  await db.query(
    `UPDATE backup_runs SET size_bytes = $2, sha256 = $3, row_counts = $4, server_version = $5, pg_dump_version = $6 WHERE id = $1`,
    [id, fields.size, fields.sha256, JSON.stringify(fields.rowCounts), fields.serverVersion, fields.pgDumpVersion],
  );
}

export async function finishFailed(db: Db, id: number, error: string, durationMs: number): Promise<void> {
  await db.query(`UPDATE backup_runs SET status = 'failed', error = $2, duration_ms = $3, finished_at = now() WHERE id = $1`, [id, error, durationMs]);
}

/** Runs left `running` by a process that died: called while holding the backup lock, so none is alive. */
export async function closeInterrupted(db: Db): Promise<number> {
  const rows = await db.query(`UPDATE backup_runs SET status = 'failed', error = 'interrupted', finished_at = now() WHERE status = 'running' RETURNING id`);
  return rows.length;
}

/** A backup by id, or `latest`: the newest succeeded one in the given storage. */
export async function findBackup(db: Db, ref: string, storageUrl: string): Promise<BackupRecord | undefined> {
  if (ref === 'latest') {
    return db.one<BackupRecord>(`SELECT * FROM backup_runs WHERE status = 'succeeded' AND storage_url = $1 ORDER BY started_at DESC, id DESC LIMIT 1`, [storageUrl]);
  }
  return db.one<BackupRecord>('SELECT * FROM backup_runs WHERE id = $1', [Number(ref)]);
}

export interface ListFilter {
  status?: string;
  limit?: number;
  since?: Date;
}

export async function listBackups(db: Db, filter: ListFilter = {}): Promise<BackupRecord[]> {
  return db.query<BackupRecord>(
    `SELECT * FROM backup_runs WHERE ($1::text IS NULL OR status = $1) AND ($2::timestamptz IS NULL OR started_at >= $2)
     ORDER BY started_at DESC, id DESC LIMIT $3`,
    [filter.status ?? null, filter.since ?? null, filter.limit ?? 50],
  );
}

export async function recordVerification(db: Db, id: number, ok: boolean, error: string | null): Promise<void> {
  await db.query('UPDATE backup_runs SET verified_at = now(), verify_ok = $2, verify_error = $3 WHERE id = $1', [id, ok, error]);
}

export async function markDeleted(db: Db, ids: number[]): Promise<void> {
  await db.query(`UPDATE backup_runs SET status = 'deleted', deleted_at = now() WHERE id = ANY($1::bigint[])`, [ids]);
}
