import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { Config } from '../../config/schema.js';
import { OperationError, UsageError, VerificationError } from '../../errors.js';
import { processAlive } from '../../ops/job-runs.js';
import type { ObjectStore } from '../../storage/store.js';
import { openVerified } from '../../storage/verified.js';
import { decryptWith, decryptionError } from '../encryption.js';
import { forgivingSink } from '../fetch.js';
import type { BaseBackupRecord } from './history.js';

/**
 * The directory a base backup is unpacked into must be empty. A cluster (PG_VERSION) or anything
 * else there is replaced only with `force`; a running server's directory never.
 */
export async function prepareTargetDir(dir: string, force: boolean): Promise<void> {
  if (!existsSync(dir)) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return;
  }
  const entries = readdirSync(dir);
  if (entries.length === 0) return;
  const pid = existsSync(join(dir, 'postmaster.pid')) ? Number(readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]) : undefined;
  if (pid && processAlive(pid)) throw new UsageError(`${dir} belongs to a running PostgreSQL server (pid ${pid})`, 'stop it first, or restore into another directory');
  if (!force) {
    const what = entries.includes('PG_VERSION') ? 'holds a PostgreSQL cluster' : `is not empty (${entries.length} entries)`;
    throw new UsageError(`--target-dir ${dir} ${what}`, 'give an empty or new directory, or add --force to replace what is there');
  }
  await Promise.all(entries.map((entry) => rm(join(dir, entry), { recursive: true, force: true })));
}

/**
 * Streams the stored tar through the checked read (size and SHA-256 as recorded), age and gunzip
 * into `tar --extract`. The checked read is fed to the end whatever the unpacking does, so damage
 * is named as damage (exit 4) rather than as the gzip or tar error it causes first.
 */
export async function unpackBaseBackup(store: ObjectStore, record: BaseBackupRecord, dir: string, options: { identity?: string; signal?: AbortSignal; onProgress?: (bytes: number) => void }): Promise<void> {
  const verified = await openVerified(store, record.object_key!, { size: Number(record.size_bytes), sha256: record.sha256! }, {
    signal: options.signal, onProgress: options.onProgress, label: `base backup ${record.id}`, hint: 'use another base backup (aj backup list) and check the storage',
  });
  const { execa } = await import('execa');
  const tar = execa('tar', ['--extract', '--no-same-owner', '--file=-', `--directory=${dir}`], { stdin: 'pipe', stdout: 'ignore', stderr: 'pipe', cancelSignal: options.signal, reject: false });
  const entry = new PassThrough({ highWaterMark: 1 << 20 });
  const feeding = pipeline(verified, forgivingSink(entry), { signal: options.signal }).then(() => undefined, (error: unknown) => error);
  // Which stage failed first names the problem: the others only see it passed along by the pipeline.
  let first: { stage: 'decrypt' | 'gunzip' | 'tar'; error: Error } | undefined;
  const unpacking = (async () => {
    const plain = options.identity
      ? await decryptWith(options.identity, entry).catch((error: Error) => {
        entry.destroy();
        first ??= { stage: 'decrypt', error };
        throw error;
      })
      : entry;
    const gunzip = createGunzip();
    if (options.identity) plain.once('error', (error) => (first ??= { stage: 'decrypt', error }));
    gunzip.once('error', (error) => (first ??= { stage: 'gunzip', error }));
    tar.stdin!.once('error', (error) => (first ??= { stage: 'tar', error }));
    await pipeline(plain, gunzip, tar.stdin!);
  })().then(() => undefined, (error: Error) => {
    // Nothing reads the checked stream any more: let it run to its end (the checksum) unhindered.
    entry.destroy();
    return error;
  });
  const fed = await feeding;
  if (fed) {
    // The object is damaged or unreadable: stop the unpacking, which waits for bytes that will not come.
    entry.destroy();
    tar.kill();
  }
  const unpackError = await unpacking;
  // An unpacking that failed before or while feeding tar leaves it waiting for the rest of its input.
  if (unpackError && first?.stage !== 'tar') tar.kill();
  const done = await tar;
  if (fed) throw fed;
  if (first?.stage === 'decrypt') throw decryptionError(first.error);
  if (first?.stage === 'gunzip') throw new VerificationError(`base backup ${record.id} does not unpack: ${first.error.message}`, 'use another base backup and check the storage');
  if (done.exitCode !== 0 || first?.stage === 'tar') {
    throw new OperationError(`tar could not unpack base backup ${record.id} into ${dir}: ${String(done.stderr).trim().split('\n').at(-1) || first?.error.message}`, 'check free space and permissions of --target-dir');
  }
  if (unpackError) throw unpackError;
  // PostgreSQL refuses a data directory others can read.
  await chmod(dir, 0o700);
}

/** The server binaries of the backup's major version: PG_BIN_DIR, else Debian's /usr/lib/postgresql/<major>/bin. */
export function serverBinDir(config: Pick<Config, 'pgBinDir'>, serverVersion: string | null): string {
  if (config.pgBinDir) return config.pgBinDir;
  const major = /^(\d+)/.exec(serverVersion ?? '')?.[1] ?? '';
  const debian = `/usr/lib/postgresql/${major}/bin`;
  if (major && existsSync(debian)) return debian;
  throw new OperationError(`no PostgreSQL ${major} server binaries in ${debian}`, `install postgresql-${major} or set PG_BIN_DIR`);
}

/**
 * pg_verifybackup checks every file against PostgreSQL's own backup_manifest, and the WAL inside
 * the backup (-X fetch) with pg_waldump. Run before recovery settings are written: they change
 * postgresql.auto.conf, which the manifest lists. Returns false when the tool is not installed.
 */
export async function verifyUnpacked(binDir: string, dir: string, signal?: AbortSignal): Promise<boolean> {
  const tool = join(binDir, 'pg_verifybackup');
  if (!existsSync(tool)) return false;
  const { execa } = await import('execa');
  const result = await execa(tool, ['--quiet', dir], { reject: false, cancelSignal: signal, stdin: 'ignore' });
  if (result.exitCode !== 0) {
    const detail = String(result.stderr).trim().split('\n').filter(Boolean).slice(0, 3).map((l) => l.replace(/^pg_verifybackup: (error: )?/, '')).join('; ');
    throw new VerificationError(`pg_verifybackup found problems in the restored files: ${detail}`, 'do not use this restore; try another base backup');
  }
  return true;
}
