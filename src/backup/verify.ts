import { acquireJobLock } from '../db/job-lock.js';
import type { Context } from '../context.js';
import { VerificationError, describeError } from '../errors.js';
import { ObjectNotFoundError } from '../storage/store.js';
import { readIdentity } from './encryption.js';
import { discard, forgivingSink, streamVerified } from './fetch.js';
import { type BackupRecord, recordVerification } from './history.js';
import { startPgTool } from './pg-process.js';
import { resolveBackup } from './restore.js';

export interface VerifyOutcome {
  id: number;
  key: string | null;
  ok: boolean;
  checked: string[];
  error?: string;
}

/**
 * `aj backup verify`: re-reads each dump from storage, proves size and SHA-256, decrypts it when
 * an identity is available, and has pg_restore read its table of contents.
 */
export async function verifyBackups(ctx: Context, options: { ref?: string; all: boolean; identityFile?: string; wait: boolean }): Promise<VerifyOutcome[]> {
  const db = await ctx.db();
  const lock = await acquireJobLock(db, 'backup-verify', { wait: options.wait, signal: ctx.signal });
  try {
    const store = await ctx.store('backup');
    const records = options.all
      ? await db.query<BackupRecord>(`SELECT * FROM backup_runs WHERE status = 'succeeded' AND storage_url = $1 ORDER BY started_at DESC`, [store.url])
      : [await resolveBackup(db, options.ref ?? 'latest', store.url)];
    const identityFile = options.identityFile ?? ctx.config().backupAgeIdentityFile;
    const identity = identityFile ? await readIdentity(identityFile) : undefined;
    const outcomes: VerifyOutcome[] = [];
    for (const record of records) {
      const outcome = await verifyOne(ctx, record, identity);
      await recordVerification(db, record.id, outcome.ok, outcome.error ?? null);
      outcomes.push(outcome);
    }
    return outcomes;
  } finally {
    await lock.release();
  }
}

async function verifyOne(ctx: Context, record: BackupRecord, identity: string | undefined): Promise<VerifyOutcome> {
  const store = await ctx.store('backup');
  const checked = ['size', 'sha256'];
  const readable = !record.encrypted_to || identity;
  try {
    if (!readable) {
      await streamVerified(store, record, discard(), { signal: ctx.signal });
      ctx.io.warn(`backup ${record.id} is encrypted and no identity was given: contents not checked by pg_restore`);
    } else {
      // pg_restore --list reads the archive's table of contents from stdin.
      const list = await startPgTool('pg_restore', ['--list'], { params: {} }, ctx.config(), { signal: ctx.signal, stdin: 'pipe' });
      list.stdout.resume();
      await Promise.all([
        streamVerified(store, record, forgivingSink(list.stdin!), { identity: record.encrypted_to ? identity : undefined, signal: ctx.signal }).catch((error) => {
          list.kill();
          throw error;
        }),
        list.exited.catch((error) => {
          throw new VerificationError(`backup ${record.id} is not a readable dump: ${describeError(error)}`, 'use another backup');
        }),
      ]);
      if (record.encrypted_to) checked.push('decryption');
      checked.push('pg_restore --list');
    }
    return { id: record.id, key: record.object_key, ok: true, checked };
  } catch (error) {
    // Damage and a missing object are findings of the verification; anything else is a failure to verify.
    if (!(error instanceof VerificationError) && !(error instanceof ObjectNotFoundError)) throw error;
    return { id: record.id, key: record.object_key, ok: false, checked, error: describeError(error) };
  }
}
