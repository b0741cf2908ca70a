import { hostname } from 'node:os';
import { Readable } from 'node:stream';
import { scrubSecrets } from '../config/redact.js';
import type { Context } from '../context.js';
import { acquireJobLock } from '../db/job-lock.js';
import { pgToolVersion } from '../db/pg-tools.js';
import type { Db } from '../db/pool.js';
import { OperationError, describeError } from '../errors.js';
import { version as ajVersion } from '../version.js';
import type { ObjectStore, PutResult } from '../storage/store.js';
import { type Encrypted, type Encryptor, ageBinary, encryptTo, startEncryptor } from './encryption.js';
import { type BackupRecord, closeInterrupted, finishFailed, finishSucceeded, recordStreamed, startRecord } from './history.js';
import { backupKey, compressArgument, globalsKeyOf, manifestKeyOf, recipientFingerprint } from './layout.js';
import { type CleanupReport, cleanUpLeftovers } from './leftovers.js';
import { type PgProcess, startPgTool, runPgTool } from './pg-process.js';
import { type PruneResult, pruneBackups } from './prune.js';
import { countRows } from './row-counts.js';

export interface BackupRunOptions {
  retention: boolean;
  wait: boolean;
  onProgress?: (bytes: number) => void;
}

export type BackupRunResult =
  | { disabled: true }
  | { disabled: false; record: BackupRecord; interruptedClosed: number; cleanup?: CleanupReport; prune?: PruneResult; warnings: string[] };

export interface Manifest {
  format: 'aj-backup-manifest/1';
  database: string;
  key: string;
  size: number;
  sha256: string;
  compress: string;
  encryption: { type: 'age'; recipient: string; fingerprint: string } | null;
  serverVersion: string;
  pgDumpVersion: string;
  ajVersion: string;
  startedAt: string;
  finishedAt: string;
  rowCounts: Record<string, number>;
  totalRows: number;
  globalsKey: string | null;
}

/** `aj backup run`: one consistent, checksummed dump streamed to storage, then retention. */
export async function runBackup(ctx: Context, options: BackupRunOptions): Promise<BackupRunResult> {
  const config = ctx.config();
  if (!config.backupEnabled) return { disabled: true };
  const db = await ctx.db();
  const lock = await acquireJobLock(db, 'backup', { wait: options.wait, signal: ctx.signal });
  try {
    // Independent look-ups side by side: on a small database they were most of the run.
    const [interruptedClosed, store, server, pgDump] = await Promise.all([
      closeInterrupted(db),
      ctx.store('backup'),
      db.one<{ num: string; v: string; db: string }>(
        `SELECT current_setting('server_version_num') AS num, current_setting('server_version') AS v, current_database() AS db`,
      ).then((row) => row!),
      pgToolVersion('pg_dump', config),
    ]);
    const serverMajor = Math.floor(Number(server.num) / 10000);
    if (pgDump.major < serverMajor) {
      throw new OperationError(`${pgDump.path} is version ${pgDump.major} but the server is ${serverMajor}: pg_dump refuses newer servers`, `install postgresql-client-${serverMajor} or set PG_BIN_DIR`);
    }
    const compress = compressArgument(config.backupCompress, pgDump.major);
    const database = server.db;
    const recipient = config.backupAgeRecipient;
    const warnings: string[] = [];
    const cleanup = await cleanUpLeftovers(db, store, database, ctx.clock()).catch((error: unknown) => {
      if (ctx.signal.aborted) throw error;
      const message = `could not clean up what earlier runs left: ${describeError(error)}`;
      warnings.push(message);
      ctx.io.warn(message);
      return undefined;
    });
    const record = await startRecord(db, {
      database, storageUrl: store.url, host: hostname(), pid: process.pid, compress: config.backupCompress,
      encryptedTo: recipient ? recipientFingerprint(recipient) : undefined, ajVersion: ajVersion(),
    });
    const startedAt = Date.now();
    let finished: BackupRecord;
    try {
      const key = backupKey(database, record.started_at, Boolean(recipient));
      // Roles are read while the dump runs (a fraction of a second that was added after it).
      const globals = runPgTool('pg_dumpall', ['--globals-only', '--no-role-passwords', '--no-password'], db.target, config, ctx.signal);
      globals.catch(() => undefined);
      const dump = await dumpToStore(ctx, db, store, key, compress, {
        onProgress: options.onProgress,
        record: (streamed) => recordStreamed(db, record.id, { ...streamed, serverVersion: server.v, pgDumpVersion: pgDump.version }),
      });
      const globalsKey = await storeGlobals(ctx, store, key, globals, warnings);
      const manifest: Manifest = {
        format: 'aj-backup-manifest/1', database, key, size: dump.size, sha256: dump.sha256, compress: config.backupCompress,
        encryption: recipient ? { type: 'age', recipient, fingerprint: recipientFingerprint(recipient) } : null,
        serverVersion: server.v, pgDumpVersion: pgDump.version, ajVersion: ajVersion(),
        startedAt: record.started_at.toISOString(), finishedAt: new Date().toISOString(),
        rowCounts: dump.rowCounts, totalRows: Object.values(dump.rowCounts).reduce((a, b) => a + b, 0), globalsKey,
      };
      const manifestKey = manifestKeyOf(key);
      try {
        const body = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
        await store.put(manifestKey, Readable.from([body]), { size: body.length, contentType: 'application/json', signal: ctx.signal, ifNoneMatch: true });
      } catch (error) {
        // Without its manifest the dump cannot be proven: remove it rather than leave a lookalike.
        await store.deleteMany([key, ...(globalsKey ? [globalsKey] : [])]).catch(() => undefined);
        throw error;
      }
      finished = await finishSucceeded(db, record.id, {
        objectKey: key, manifestKey, globalsKey, size: dump.size, sha256: dump.sha256, rowCounts: dump.rowCounts,
        serverVersion: server.v, pgDumpVersion: pgDump.version, durationMs: Date.now() - startedAt,
      });
    } catch (error) {
      // Interrupted runs say so, rather than the AbortError of whichever stream noticed first.
      const cause = ctx.signal.aborted ? ctx.signal.reason : error;
      await finishFailed(db, record.id, scrubSecrets(describeError(cause), config), Date.now() - startedAt).catch(() => undefined);
      throw cause;
    }
    const prune = options.retention ? await pruneBackups(ctx, db, store, { dryRun: false }) : undefined;
    return { disabled: false, record: finished, interruptedClosed, cleanup, prune, warnings };
  } finally {
    await lock.release();
  }
}

/**
 * pg_dump runs on a snapshot exported by a REPEATABLE READ transaction, and the row counts
 * are taken in that same snapshot: the manifest describes exactly what the dump holds.
 */
async function dumpToStore(ctx: Context, db: Db, store: ObjectStore, key: string, compress: string, hooks: {
  onProgress?: (bytes: number) => void;
  /** Size, SHA-256 and row counts of the whole dump, recorded before the upload completes. */
  record: (streamed: { size: number; sha256: string; rowCounts: Record<string, number> }) => Promise<void>;
}) {
  const config = ctx.config();
  const snapshotSession = await db.client();
  try {
    await snapshotSession.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const { rows } = await snapshotSession.query<{ id: string }>('SELECT pg_export_snapshot() AS id');
    // The count runs beside pg_dump and its server process: parallel workers would add two more
    // processes competing with pg_dump's compression for the same cores. JIT made the count of 8M
    // rows (an index-only scan) 2.3x slower on PostgreSQL 15: 4.6-5.0 s against 2.0-2.3 s without.
    await snapshotSession.query('SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL jit = off');
    const recipient = config.backupAgeRecipient;
    const args = ['--format=custom', `--compress=${compress}`, `--snapshot=${rows[0]!.id}`, '--no-password'];
    const running: { dump?: PgProcess; encryptor?: Encryptor; encrypted?: Encrypted } = {};
    // pg_dump, and age with the binary: pg_dump writes into age's stdin itself (as `pg_dump | age`),
    // and the last of them into `output` when given (the storage's file, as `pg_dump > file`).
    const start = async (output?: number) => {
      running.encryptor = recipient ? await startEncryptor(recipient, { output }) : undefined;
      try {
        running.dump = await startPgTool('pg_dump', args, db.target, config, { signal: ctx.signal, stdout: running.encryptor?.input ?? output, outputBuffer: 1 << 20 });
      } finally {
        running.encryptor?.input.destroy();
      }
      running.encrypted = running.encryptor ?? (recipient ? await encryptTo(recipient, running.dump.stdout) : undefined);
    };
    let counting: Promise<Record<string, number>> | undefined;
    const count = () => {
      counting = countRows(snapshotSession);
      counting.catch(() => undefined);
      return counting;
    };
    try {
      const options = {
        // The object completes only once pg_dump (and the encryptor) exited 0: a failing dump aborts it.
        beforeEnd: async () => {
          await running.dump!.exited;
          await running.encrypted?.exited;
        },
        onDigest: async (digest: { bytes: number; sha256: string }) => hooks.record({ size: digest.bytes, sha256: digest.sha256, rowCounts: await counting! }),
        signal: ctx.signal, onProgress: hooks.onProgress, contentType: 'application/octet-stream', ifNoneMatch: true,
      };
      let put: PutResult;
      if (store.putWritten && (!recipient || ageBinary())) {
        // File storage: the tools write the file and Node only reads it back once to hash it. Through
        // a pipe, pg_dump's 4-8 KiB writes cost Node several seconds of CPU per GB (measured on 454 MiB).
        put = await store.putWritten(key, async (fd) => {
          await start(fd);
          count();
        }, options);
      } else {
        await start();
        count();
        put = await store.put(key, running.encrypted?.stream ?? running.dump!.stdout, options);
      }
      return { size: put.size, sha256: put.sha256, rowCounts: await counting! };
    } catch (error) {
      running.dump?.kill();
      running.encryptor?.kill();
      await running.dump?.exited.catch(() => undefined);
      throw error;
    }
  } finally {
    await snapshotSession.query('ROLLBACK').catch(() => undefined);
    snapshotSession.release();
  }
}

/** Roles are not in a pg_dump; keep them (without passwords) beside it. A failure only warns. */
async function storeGlobals(ctx: Context, store: ObjectStore, dumpKey: string, globals: Promise<string>, warnings: string[]): Promise<string | null> {
  try {
    const sql = await globals;
    const key = globalsKeyOf(dumpKey);
    const body = Buffer.from(sql);
    await store.put(key, Readable.from([body]), { size: body.length, contentType: 'application/sql', signal: ctx.signal, ifNoneMatch: true });
    return key;
  } catch (error) {
    const message = `roles were not saved: ${describeError(error)}`;
    warnings.push(message);
    ctx.io.warn(message);
    return null;
  }
}
