import { existsSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Context } from '../../context.js';
import { ConfigError, OperationError, UsageError } from '../../errors.js';
import { formatTime } from '../../render.js';
import { readIdentity } from '../encryption.js';
import { baseBackupFromStorage } from './from-storage.js';
import { type BaseBackupRecord, findBaseBackup, oldestBaseBackup } from './history.js';
import { prepareTargetDir, serverBinDir, unpackBaseBackup, verifyUnpacked } from './extract.js';
import { envFileForRecovery, restoreCommand, writeRecoverySettings } from './recovery.js';
import { type RecoveryTarget, lsnValue } from './target.js';

export interface PhysicalRestoreOptions {
  /** A base backup id, or latest (with --to-time: the newest one complete before that time). */
  ref: string;
  targetDir: string;
  force: boolean;
  target: RecoveryTarget;
  /** The env file restore_command passes to `aj wal fetch` (default: the one aj was started with). */
  walEnvFile?: string;
  identityFile?: string;
  /** With latest-in-storage, when the storage holds several clusters: whose base backup. */
  cluster?: string;
  onProgress?: (bytes: number) => void;
}

export interface PhysicalRestoreResult {
  backupId: number;
  key: string;
  targetDir: string;
  target: { kind: RecoveryTarget['kind']; value: string | null };
  /** The earliest moment this base backup can be recovered to (its end). */
  earliest: Date;
  /** pg_verifybackup checked every file (false: not installed). */
  filesVerified: boolean;
  settings: Record<string, string>;
  /** What to run next, one command per line. */
  next: string[];
  /** What to do first, when the backup lacks part of the server's configuration. */
  notes: string[];
}

/**
 * `aj backup restore --physical`: a base backup unpacked into an empty directory through the checked
 * read, proven by pg_verifybackup, then set to recover up to the target from the WAL archive
 * (restore_command = aj wal fetch) and promote. Nothing is started: the admin starts it.
 */
export async function restorePhysical(ctx: Context, options: PhysicalRestoreOptions): Promise<PhysicalRestoreResult> {
  const record = await resolveBaseBackup(ctx, options.ref, options.target, options.cluster);
  const dir = resolve(options.targetDir);
  const envFile = envFileForRecovery(options.walEnvFile, ctx.globals.envFile);
  await prepareTargetDir(dir, options.force);
  const materialized = await materialize(ctx, record, dir, options, envFile).catch(async (error: unknown) => {
    // Half a cluster is worse than none: leave the directory empty, as it was given.
    await Promise.all(readdirSync(dir).map((entry) => rm(join(dir, entry), { recursive: true, force: true })));
    throw error;
  });
  const next = [
    ...(process.getuid?.() === 0 ? [`chown -R postgres:postgres ${dir}`] : []),
    `${process.getuid?.() === 0 ? 'runuser -u postgres -- ' : ''}${join(materialized.binDir, 'pg_ctl')} -D ${dir} start`,
  ];
  // Debian keeps the server's configuration in /etc/postgresql, outside the data directory and the backup.
  const notes = ['postgresql.conf', 'pg_hba.conf'].filter((file) => !existsSync(join(dir, file)))
    .map((file) => `the backup holds no ${file} (Debian keeps it in /etc/postgresql/<version>/<cluster>): copy the source server's into ${dir} before starting`);
  return {
    backupId: record.id, key: record.object_key!, targetDir: dir, target: describeTarget(options.target), earliest: record.finished_at!,
    filesVerified: materialized.filesVerified, settings: materialized.settings, next, notes,
  };
}

/** Unpack, prove, write the recovery settings: everything but starting the server. */
export async function materialize(ctx: Context, record: BaseBackupRecord, dir: string, options: Pick<PhysicalRestoreOptions, 'target' | 'identityFile' | 'onProgress'>, envFile: string) {
  const config = ctx.config();
  const store = await ctx.store('backup');
  const identity = record.encrypted_to ? await readIdentity(identityPath(options.identityFile, config.backupAgeIdentityFile)) : undefined;
  const binDir = serverBinDir(config, record.server_version);
  await unpackBaseBackup(store, record, dir, { identity, signal: ctx.signal, onProgress: options.onProgress });
  const filesVerified = await verifyUnpacked(binDir, dir, ctx.signal);
  if (!filesVerified) ctx.io.warn(`pg_verifybackup is not in ${binDir}: the files were proven by the backup's SHA-256 only`);
  const label = `aj backup restore ${record.id} --physical, ${new Date().toISOString()}`;
  const settings = await writeRecoverySettings(dir, options.target, restoreCommand(envFile), label);
  return { binDir, filesVerified, settings };
}

/**
 * The base backup to start from. `latest` with a time is the newest complete before that time; a
 * time before any base backup's end cannot be reached, and the message names the earliest that can.
 */
export async function resolveBaseBackup(ctx: Context, ref: string, target: RecoveryTarget, cluster?: string): Promise<BaseBackupRecord> {
  const store = await ctx.store('backup');
  if (ref === 'latest-in-storage') return checkTarget(await baseBackupFromStorage(store, target, cluster), target);
  if (ref !== 'latest' && !/^\d+$/.test(ref)) throw new UsageError(`"${ref}" is not a base backup id`, 'pass a number from `aj backup list` (kind physical), latest, or latest-in-storage');
  const db = await ctx.db();
  const record = await findBaseBackup(db, ref, store.url, target.kind === 'time' && ref === 'latest' ? target.at : undefined);
  if (!record) {
    const oldest = await oldestBaseBackup(db, store.url);
    if (!oldest) throw new OperationError(`there is no base backup in ${store.url}`, 'take one with `aj backup run --physical`');
    if (ref === 'latest' && target.kind === 'time') throw tooEarly(target.at, oldest);
    throw new OperationError(`base backup ${ref} does not exist`, 'see `aj backup list` (kind physical)');
  }
  if (record.status !== 'succeeded') throw new OperationError(`base backup ${record.id} is ${record.status}, not restorable`, 'pick a succeeded one from `aj backup list`');
  if (record.storage_url !== store.url) throw new ConfigError(`base backup ${record.id} is stored in ${record.storage_url}, not in ${store.url}`, 'set BACKUP_BUCKET to where it was stored');
  return checkTarget(record, target);
}

function checkTarget(record: BaseBackupRecord, target: RecoveryTarget): BaseBackupRecord {
  if (target.kind === 'time' && target.at.getTime() < record.finished_at!.getTime()) throw tooEarly(target.at, record);
  if (target.kind === 'lsn' && lsnValue(target.lsn) < lsnValue(record.stop_lsn!)) {
    throw new UsageError(`--to-lsn ${target.lsn} is before the end of base backup ${record.id} (${record.stop_lsn})`, `give ${record.stop_lsn} or later, or an older base backup`);
  }
  return record;
}

function tooEarly(at: Date, earliest: BaseBackupRecord): UsageError {
  return new UsageError(
    `--to-time ${at.toISOString()} is before the end of base backup ${earliest.id}: the earliest time it can restore to is ${earliest.finished_at!.toISOString()} (${formatTime(earliest.finished_at)})`,
    'give a later time, or restore an older base backup by id if there is one (aj backup list)',
  );
}

function describeTarget(target: RecoveryTarget): PhysicalRestoreResult['target'] {
  if (target.kind === 'time') return { kind: 'time', value: target.at.toISOString() };
  if (target.kind === 'lsn') return { kind: 'lsn', value: target.lsn };
  return { kind: 'latest', value: null };
}

function identityPath(given: string | undefined, configured: string | undefined): string {
  const path = given ?? configured;
  if (!path) throw new ConfigError('this base backup is encrypted and no age identity was given', 'pass --identity FILE or set BACKUP_AGE_IDENTITY_FILE');
  return path;
}
