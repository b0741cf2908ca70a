import { scrubSecrets } from '../config/redact.js';
import type { Context } from '../context.js';
import { describeError } from '../errors.js';
import type { CountDifference } from './row-counts.js';

export interface RestoreOutcome {
  /** undefined when the backup was found in storage alone (no history row). */
  backupId?: number;
  objectKey: string;
  storageUrl: string;
  targetDatabase: string;
  overProduction: boolean;
  startedAt: Date;
  /** The restore's own result; a verification that found differences is still a restore that ran. */
  error?: unknown;
  verified?: boolean;
  tablesChecked?: number;
  differences?: CountDifference[];
}

/**
 * One restore_runs row per restore, written when it ends. A restore from storage alone may run while
 * aj's database is unreachable (the history is what was lost): then nothing is recorded, quietly.
 */
export async function recordRestore(ctx: Context, outcome: RestoreOutcome): Promise<void> {
  const db = await ctx.db().catch((error: unknown) => {
    ctx.io.debug(`restore not recorded: ${describeError(error)}`);
  });
  if (!db) return;
  const verifyOk = outcome.verified ? (outcome.differences ?? []).length === 0 : null;
  try {
    await db.query(
      `INSERT INTO restore_runs (backup_id, object_key, storage_url, target_database, over_production, status, verify_ok,
         tables_checked, differences, error, started_at, finished_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, now())`,
      [
        outcome.backupId ?? null, outcome.objectKey, outcome.storageUrl, outcome.targetDatabase, outcome.overProduction,
        outcome.error === undefined ? 'succeeded' : 'failed', verifyOk, outcome.verified ? (outcome.tablesChecked ?? 0) : null,
        outcome.verified ? JSON.stringify(outcome.differences ?? []) : null,
        outcome.error === undefined ? null : scrubSecrets(describeError(outcome.error), ctx.config()).slice(0, 1000), outcome.startedAt,
      ],
    );
  } catch (error) {
    ctx.io.warn(`restore not recorded in aj's history: ${describeError(error)}`);
  }
}
