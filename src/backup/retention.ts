import type { BackupRecord } from './history.js';

export interface RetentionPolicy {
  retentionDays: number;
  keepMin: number;
  now: Date;
}

/** What retention needs of a backup, dump or base backup. */
export type Retained = Pick<BackupRecord, 'id' | 'started_at' | 'verify_ok'>;

export interface RetentionPlan<T extends Retained = BackupRecord> {
  keep: Array<{ record: T; reason: string }>;
  remove: T[];
}

/**
 * Which successful backups go: older than the retention window, except the `keepMin` newest
 * and the newest verified one, which are never deleted whatever their age.
 */
export function planRetention<T extends Retained>(succeeded: T[], policy: RetentionPolicy): RetentionPlan<T> {
  const newestFirst = [...succeeded].sort((a, b) => b.started_at.getTime() - a.started_at.getTime() || b.id - a.id);
  const cutoff = policy.now.getTime() - policy.retentionDays * 86_400_000;
  const newestVerified = newestFirst.find((r) => r.verify_ok === true);
  const plan: RetentionPlan<T> = { keep: [], remove: [] };
  newestFirst.forEach((record, index) => {
    if (index < policy.keepMin) plan.keep.push({ record, reason: `one of the ${policy.keepMin} newest` });
    else if (record === newestVerified) plan.keep.push({ record, reason: 'newest verified backup' });
    else if (record.started_at.getTime() >= cutoff) plan.keep.push({ record, reason: `younger than ${policy.retentionDays} days` });
    else plan.remove.push(record);
  });
  return plan;
}
