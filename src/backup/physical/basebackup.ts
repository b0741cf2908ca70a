import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { scrubSecrets } from '../../config/redact.js';
import type { Context } from '../../context.js';
import { acquireJobLock } from '../../db/job-lock.js';
import { pgToolVersion } from '../../db/pg-tools.js';
import type { Db } from '../../db/pool.js';
import { OperationError, VerificationError, describeError } from '../../errors.js';
import type { ObjectStore } from '../../storage/store.js';
import { baseFolder } from '../../wal/layout.js';
import { version as ajVersion } from '../../version.js';
import { encryptTo } from '../encryption.js';
import { recipientFingerprint } from '../layout.js';
import { startPgTool } from '../pg-process.js';
import { type PruneResult, pruneBackups } from '../prune.js';
import { type BaseBackupRecord, closeInterruptedBase, finishBaseFailed, finishBaseSucceeded, startBaseRecord } from './history.js';
import { type PhysicalManifest, parseBackupLabel, stampOf, stopOfManifest } from './manifest.js';
import { removeFolder } from './retention.js';
import { TarWatch } from './tar-watch.js';

export interface PhysicalRunOptions {
  retention: boolean;
  wait: boolean;
  onProgress?: (bytes: number) => void;
}

export type PhysicalRunResult =
  | { disabled: true }
  | { disabled: false; record: BaseBackupRecord; manifest: PhysicalManifest; prune?: PruneResult };

/**
 * `aj backup run --physical`: pg_basebackup's tar of the whole cluster, streamed to storage
 * (gzip, then age when BACKUP_AGE_RECIPIENT is set) with its SHA-256, no copy on local disk.
 *
 * `-X fetch` puts the WAL written during the backup inside the tar: the backup restores to a
 * consistent cluster on its own, even if the WAL archive has a gap, and pg_verifybackup can check
 * that WAL too. The archive (aj wal push) is needed only to go further than the backup's end.
 */
export async function runPhysicalBackup(ctx: Context, options: PhysicalRunOptions): Promise<PhysicalRunResult> {
  const config = ctx.config();
  if (!config.backupEnabled) return { disabled: true };
  const db = await ctx.db();
  const lock = await acquireJobLock(db, 'backup', { wait: options.wait, signal: ctx.signal });
  try {
    await closeInterruptedBase(db);
    const store = await ctx.store('backup');
    const server = await serverIdentity(db);
    const tool = await pgToolVersion('pg_basebackup', config);
    if (tool.major < server.major) {
      throw new OperationError(`${tool.path} is version ${tool.major} but the server is ${server.major}: pg_basebackup refuses newer servers`, `install postgresql-client-${server.major} or set PG_BIN_DIR`);
    }
    const recipient = config.backupAgeRecipient;
    const record = await startBaseRecord(db, {
      systemIdentifier: server.systemIdentifier, database: server.database, storageUrl: store.url, host: hostname(), pid: process.pid,
      encryptedTo: recipient ? recipientFingerprint(recipient) : undefined, ajVersion: ajVersion(), serverVersion: server.version,
    });
    const startedAt = Date.now();
    const folder = `${baseFolder(server.systemIdentifier)}${stampOf(record.started_at)}/`;
    try {
      const key = `${folder}base.tar.gz${recipient ? '.age' : ''}`;
      const streamed = await streamBaseBackup(ctx, db, store, key, record.id, options.onProgress);
      const label = parseBackupLabel(streamed.label);
      const stop = stopOfManifest(streamed.pgManifest.toString('utf8'));
      const pgManifestKey = `${folder}backup_manifest`;
      await putSmall(ctx, store, pgManifestKey, streamed.pgManifest, 'application/json');
      const manifest: PhysicalManifest = {
        format: 'aj-physical-manifest/1', id: record.id, systemIdentifier: server.systemIdentifier, key, size: streamed.size, sha256: streamed.sha256, compress: 'gzip:1',
        encryption: recipient ? { type: 'age', recipient, fingerprint: recipientFingerprint(recipient) } : null,
        timeline: stop.timeline, startLsn: label.startLsn, stopLsn: stop.stopLsn, startWal: label.startWal,
        pgManifest: { key: pgManifestKey, size: streamed.pgManifest.length, sha256: createHash('sha256').update(streamed.pgManifest).digest('hex') },
        serverVersion: server.version, pgBasebackupVersion: tool.version, ajVersion: ajVersion(),
        startedAt: record.started_at.toISOString(), finishedAt: streamed.finishedAt.toISOString(),
      };
      const manifestKey = `${folder}manifest.json`;
      await putSmall(ctx, store, manifestKey, Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`), 'application/json');
      const finished = await finishBaseSucceeded(db, record.id, {
        objectKey: key, manifestKey, pgManifestKey, size: streamed.size, sha256: streamed.sha256, timeline: stop.timeline,
        startLsn: label.startLsn, stopLsn: stop.stopLsn, startWal: label.startWal, finishedAt: streamed.finishedAt, durationMs: Date.now() - startedAt,
      });
      const prune = options.retention ? await pruneBackups(ctx, db, store, { dryRun: false }) : undefined;
      return { disabled: false, record: finished, manifest, prune };
    } catch (error) {
      const cause = ctx.signal.aborted ? ctx.signal.reason : error;
      // A base backup without its manifests cannot be proven: remove what this run stored rather than leave a lookalike.
      await removeFolder(store, folder).catch(() => undefined);
      await finishBaseFailed(db, record.id, scrubSecrets(describeError(cause), config), Date.now() - startedAt).catch(() => undefined);
      throw cause;
    }
  } finally {
    await lock.release();
  }
}

/** The cluster behind DATABASE_URL: its system identifier names its folder in storage for its whole life. */
export async function serverIdentity(db: Db): Promise<{ systemIdentifier: string; version: string; major: number; database: string }> {
  const row = await db.one<{ id: string; num: string; v: string; db: string }>(
    `SELECT system_identifier::text AS id, current_setting('server_version_num') AS num, current_setting('server_version') AS v, current_database() AS db
       FROM pg_control_system()`,
  ).catch((error: unknown) => {
    throw new OperationError(`cannot read the cluster's system identifier: ${describeError(error)}`, 'physical backups need a superuser or a role granted EXECUTE on pg_control_system() and REPLICATION');
  });
  return { systemIdentifier: row!.id, version: row!.v, major: Math.floor(Number(row!.num) / 10000), database: row!.db };
}

async function streamBaseBackup(ctx: Context, db: Db, store: ObjectStore, key: string, id: number, onProgress?: (bytes: number) => void) {
  const config = ctx.config();
  const args = ['--pgdata=-', '--format=tar', '--wal-method=fetch', '--checkpoint=fast', '--manifest-checksums=SHA256', `--label=aj base backup ${id}`, '--no-password'];
  const basebackup = await startPgTool('pg_basebackup', args, db.target, config, { signal: ctx.signal });
  try {
    const watch = new TarWatch(new Set(['backup_label', 'backup_manifest']));
    const gzip = createGzip({ level: 1 });
    basebackup.stdout.once('error', (error) => gzip.destroy(error));
    const tar = basebackup.stdout.pipe(watch).pipe(gzip);
    watch.once('error', (error) => gzip.destroy(error));
    const encrypted = config.backupAgeRecipient ? await encryptTo(config.backupAgeRecipient, tar) : undefined;
    let finishedAt: Date | undefined;
    // The upload completes only once pg_basebackup (and the encryptor) exited 0.
    const beforeEnd = async () => {
      await basebackup.exited;
      finishedAt = new Date();
      await encrypted?.exited;
      if (!watch.members.has('backup_label') || !watch.members.has('backup_manifest')) {
        throw new VerificationError('pg_basebackup wrote no backup_label or backup_manifest into its tar', 'use pg_basebackup 15 or newer, without --no-manifest');
      }
    };
    const put = await store.put(key, encrypted?.stream ?? tar, { beforeEnd, signal: ctx.signal, onProgress, contentType: 'application/octet-stream', ifNoneMatch: true });
    return { size: put.size, sha256: put.sha256, label: watch.members.get('backup_label')!.toString('utf8'), pgManifest: watch.members.get('backup_manifest')!, finishedAt: finishedAt! };
  } catch (error) {
    basebackup.kill();
    await basebackup.exited.catch(() => undefined);
    throw replicationRefused(error) ?? error;
  }
}

/** pg_basebackup needs a replication connection, which a server refuses until told otherwise. */
function replicationRefused(error: unknown): OperationError | undefined {
  const message = error instanceof Error ? error.message : String(error);
  if (!/pg_hba\.conf entry for replication|must be superuser or replication role|permission denied to start WAL sender/.test(message)) return undefined;
  return new OperationError(message, "give aj's database user the REPLICATION attribute (ALTER ROLE ... REPLICATION) and a `host replication <user> <address> scram-sha-256` line in pg_hba.conf", { cause: error });
}

async function putSmall(ctx: Context, store: ObjectStore, key: string, body: Buffer, contentType: string): Promise<void> {
  await store.put(key, Readable.from([body]), { size: body.length, contentType, signal: ctx.signal, ifNoneMatch: true });
}
