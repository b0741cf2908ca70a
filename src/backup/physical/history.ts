import type { Db } from '../../db/pool.js';
import type { ListFilter, RunFields } from '../history.js';

/** One row of base_backups (014_base_backups.sql). */
export interface BaseBackupRecord extends RunFields {
  system_identifier: string;
  pg_manifest_key: string | null;
  timeline: number | null;
  start_lsn: string | null;
  stop_lsn: string | null;
  start_wal: string | null;
}

export async function startBaseRecord(db: Db, fields: { systemIdentifier: string; database: string; storageUrl: string; host: string; pid: number; encryptedTo?: string; ajVersion: string; serverVersion: string }): Promise<BaseBackupRecord> {
  return (await db.one<BaseBackupRecord>(
    `INSERT INTO base_backups (status, system_identifier, database_name, storage_url, host, pid, encrypted_to, aj_version, server_version)
     VALUES ('running', $1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
    [fields.systemIdentifier, fields.database, fields.storageUrl, fields.host, fields.pid, fields.encryptedTo ?? null, fields.ajVersion, fields.serverVersion],
  ))!;
}

export async function finishBaseSucceeded(db: Db, id: number, fields: {
  objectKey: string; manifestKey: string; pgManifestKey: string; size: number; sha256: string; timeline: number;
  startLsn: string; stopLsn: string; startWal: string; finishedAt: Date; durationMs: number;
}): Promise<BaseBackupRecord> {
  return (await db.one<BaseBackupRecord>(
    `UPDATE base_backups SET status = 'succeeded', object_key = $2, manifest_key = $3, pg_manifest_key = $4, size_bytes = $5, sha256 = $6,
       timeline = $7, start_lsn = $8, stop_lsn = $9, start_wal = $10, finished_at = $11, duration_ms = $12
     WHERE id = $1 RETURNING *`,
    [id, fields.objectKey, fields.manifestKey, fields.pgManifestKey, fields.size, fields.sha256, fields.timeline, fields.startLsn, fields.stopLsn, fields.startWal, fields.finishedAt, fields.durationMs],
  ))!;
}

export async function finishBaseFailed(db: Db, id: number, error: string, durationMs: number): Promise<void> {
  await db.query(`UPDATE base_backups SET status = 'failed', error = $2, duration_ms = $3, finished_at = now() WHERE id = $1`, [id, error, durationMs]);
}

/** Rows left `running` by a process that died; called under the backup lock, so none is alive. */
export async function closeInterruptedBase(db: Db): Promise<number> {
  return (await db.query(`UPDATE base_backups SET status = 'failed', error = 'interrupted', finished_at = now() WHERE status = 'running' RETURNING id`)).length;
}

/** A base backup by id, or `latest`: the newest succeeded one in this storage (finished before `before`, when given). */
export async function findBaseBackup(db: Db, ref: string, storageUrl: string, before?: Date): Promise<BaseBackupRecord | undefined> {
  if (ref === 'latest') {
    return db.one<BaseBackupRecord>(
      `SELECT * FROM base_backups WHERE status = 'succeeded' AND storage_url = $1 AND ($2::timestamptz IS NULL OR finished_at <= $2)
       ORDER BY finished_at DESC, id DESC LIMIT 1`,
      [storageUrl, before ?? null],
    );
  }
  return db.one<BaseBackupRecord>('SELECT * FROM base_backups WHERE id = $1', [Number(ref)]);
}

/** The oldest succeeded base backup in this storage: the earliest moment any restore can reach. */
export async function oldestBaseBackup(db: Db, storageUrl: string): Promise<BaseBackupRecord | undefined> {
  return db.one<BaseBackupRecord>(`SELECT * FROM base_backups WHERE status = 'succeeded' AND storage_url = $1 ORDER BY finished_at, id LIMIT 1`, [storageUrl]);
}

export async function recordBaseVerification(db: Db, id: number, ok: boolean, error: string | null): Promise<void> {
  await db.query('UPDATE base_backups SET verified_at = now(), verify_ok = $2, verify_error = $3 WHERE id = $1', [id, ok, error]);
}

export async function markBaseDeleted(db: Db, ids: number[]): Promise<void> {
  await db.query(`UPDATE base_backups SET status = 'deleted', deleted_at = now() WHERE id = ANY($1::bigint[])`, [ids]);
}

export async function listBaseBackups(db: Db, filter: ListFilter = {}): Promise<BaseBackupRecord[]> {
  return db.query<BaseBackupRecord>(
    `SELECT * FROM base_backups WHERE ($1::text IS NULL OR status = $1) AND ($2::timestamptz IS NULL OR started_at >= $2)
     ORDER BY started_at DESC, id DESC LIMIT $3`,
    [filter.status ?? null, filter.since ?? null, filter.limit ?? 50],
  );
}
