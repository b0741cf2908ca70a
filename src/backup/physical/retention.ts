import type { Context } from '../../context.js';
import type { Db } from '../../db/pool.js';
import type { ObjectStore } from '../../storage/store.js';
import { segmentPosition, walFileOfKey, walFolder } from '../../wal/layout.js';
import { planRetention } from '../retention.js';
import { type BaseBackupRecord, markBaseDeleted } from './history.js';

export interface PhysicalPruneResult {
  removed: BaseBackupRecord[];
  kept: Array<{ id: number; reason: string }>;
  /** WAL files deleted (or that would be, in a dry run): all older than the oldest base backup kept. */
  walDeleted: number;
}

/**
 * Base backups follow the same retention as dumps (BACKUP_RETENTION_DAYS, BACKUP_KEEP_MIN, the newest
 * verified kept); then the WAL no kept base backup can use goes too. Each cluster (system identifier)
 * in this storage is judged on its own.
 */
export async function prunePhysical(ctx: Context, db: Db, store: ObjectStore, options: { dryRun: boolean }): Promise<PhysicalPruneResult> {
  const config = ctx.config();
  const succeeded = await db.query<BaseBackupRecord>(`SELECT * FROM base_backups WHERE status = 'succeeded' AND storage_url = $1`, [store.url]);
  const result: PhysicalPruneResult = { removed: [], kept: [], walDeleted: 0 };
  const clusters = [...new Set(succeeded.map((r) => r.system_identifier))];
  for (const cluster of clusters) {
    const plan = planRetention(succeeded.filter((r) => r.system_identifier === cluster), { retentionDays: config.backupRetentionDays, keepMin: config.backupKeepMin, now: ctx.clock() });
    result.removed.push(...plan.remove);
    result.kept.push(...plan.keep.map((k) => ({ id: k.record.id, reason: k.reason })));
    if (!options.dryRun && plan.remove.length > 0) {
      for (const record of plan.remove) await removeFolder(store, folderOf(record));
      await markBaseDeleted(db, plan.remove.map((r) => r.id));
    }
    const oldestKept = plan.keep.map((k) => k.record).filter((r) => r.start_wal).sort((a, b) => segmentPosition(a.start_wal!).localeCompare(segmentPosition(b.start_wal!)))[0];
    if (!oldestKept) continue;
    const obsolete = await obsoleteWal(store, cluster, oldestKept.start_wal!);
    if (!options.dryRun && obsolete.length > 0) await store.deleteMany(obsolete);
    result.walDeleted += obsolete.length;
  }
  return result;
}

/** Everything stored under one base backup's folder: the tar, both manifests. */
export async function removeFolder(store: ObjectStore, folder: string): Promise<void> {
  const keys: string[] = [];
  for await (const object of store.list(folder)) keys.push(object.key);
  if (keys.length > 0) await store.deleteMany(keys);
}

const folderOf = (record: BaseBackupRecord) => record.object_key!.slice(0, record.object_key!.lastIndexOf('/') + 1);

/**
 * WAL keys before `startWal` (the oldest kept base backup's first segment): segments, .partial and
 * .backup files on its timeline or an older one, whose position is before it. Timeline history files
 * are always kept (recovery_target_timeline = 'latest' reads them all), and nothing on a newer
 * timeline or at a later position is touched.
 */
export async function obsoleteWal(store: ObjectStore, systemIdentifier: string, startWal: string): Promise<string[]> {
  const timeline = parseInt(startWal.slice(0, 8), 16);
  const position = segmentPosition(startWal);
  const obsolete: string[] = [];
  for await (const object of store.list(walFolder(systemIdentifier))) {
    const name = walFileOfKey(object.key);
    if (!name || name.endsWith('.history')) continue;
    if (parseInt(name.slice(0, 8), 16) <= timeline && segmentPosition(name) < position) obsolete.push(object.key);
  }
  return obsolete;
}
