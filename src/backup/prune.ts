import type { Context } from '../context.js';
import { acquireJobLock } from '../db/job-lock.js';
import type { Db } from '../db/pool.js';
import { retentionEffect } from '../storage/protection.js';
import type { ObjectStore } from '../storage/store.js';
import { type BackupRecord, markDeleted } from './history.js';
import { type PhysicalPruneResult, prunePhysical } from './physical/retention.js';
import { type RetentionPlan, planRetention } from './retention.js';

export interface PruneResult {
  dryRun: boolean;
  removed: BackupRecord[];
  kept: Array<{ id: number; reason: string }>;
  /** Set when retention paused because a backup shrank unexpectedly (see `aj backup ack`). */
  paused?: string;
  /** What deleting does on this bucket, when it keeps versions (versioning, Object Lock). */
  note?: string;
  /** Base backups and WAL (only when this storage holds base backups). */
  physical?: PhysicalPruneResult;
}

/** Applies retention: objects are deleted first, then their history rows marked `deleted` (never removed). */
export async function pruneBackups(ctx: Context, db: Db, store: ObjectStore, options: { dryRun: boolean }): Promise<PruneResult> {
  const config = ctx.config();
  // Only this database's backups: a history restored from another database's dump holds its rows too.
  const succeeded = await db.query<BackupRecord>(`SELECT * FROM backup_runs WHERE status = 'succeeded' AND storage_url = $1 AND database_name = current_database()`, [store.url]);
  const plan: RetentionPlan = planRetention(succeeded, { retentionDays: config.backupRetentionDays, keepMin: config.backupKeepMin, now: ctx.clock() });
  // A wiped database upstream makes small "healthy" backups: never rotate the good ones away meanwhile.
  const { findShrunkBackups } = await import('../ops/backup-size.js');
  const [shrunk] = await findShrunkBackups(db, config.backupShrinkAlert);
  if (shrunk) {
    return { dryRun: options.dryRun, removed: [], kept: succeeded.map((r) => ({ id: r.id, reason: `retention paused: backup ${shrunk.id} shrank` })), paused: shrunk.description };
  }
  if (!options.dryRun && plan.remove.length > 0) {
    const keys = plan.remove.flatMap((r) => [r.object_key, r.manifest_key, r.globals_key]).filter((k): k is string => Boolean(k));
    await store.deleteMany(keys);
    await markDeleted(db, plan.remove.map((r) => r.id));
  }
  const physical = await prunePhysical(ctx, db, store, options);
  const deletes = plan.remove.length + physical.removed.length + physical.walDeleted;
  const protection = deletes > 0 ? await store.protection?.().catch(() => undefined) : undefined;
  const note = protection && protection.versioning !== 'off' ? retentionEffect(protection) : undefined;
  return {
    dryRun: options.dryRun, removed: plan.remove, kept: plan.keep.map((k) => ({ id: k.record.id, reason: k.reason })), ...(note ? { note } : {}),
    ...(physical.removed.length + physical.kept.length > 0 ? { physical } : {}),
  };
}

/** `aj backup prune`: under the backup lock, shows the plan, confirms a real deletion, applies it. */
export async function runPrune(ctx: Context, options: { dryRun: boolean; yes: boolean }): Promise<PruneResult> {
  const db = await ctx.db();
  const lock = await acquireJobLock(db, 'backup', { signal: ctx.signal });
  try {
    const store = await ctx.store('backup');
    const plan = await pruneBackups(ctx, db, store, { dryRun: true });
    const physical = plan.physical ?? { removed: [], walDeleted: 0 };
    const count = plan.removed.length + physical.removed.length;
    if (options.dryRun || count + physical.walDeleted === 0) return plan;
    const details = [...plan.removed, ...physical.removed].map((r) => `  backup ${r.id}  ${r.started_at.toISOString()}  ${r.object_key}`);
    if (physical.walDeleted > 0) details.push(`  ${physical.walDeleted} WAL file(s) older than the oldest base backup kept`);
    await ctx.io.confirm(`Delete these ${count} backup(s) from ${store.url}`, { yes: options.yes, details });
    return await pruneBackups(ctx, db, store, { dryRun: false });
  } finally {
    await lock.release();
  }
}
