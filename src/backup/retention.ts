import type { BackupRecord } from './history.js';

export interface RetentionPolicy {
  retentionDays: number;
  keepMin: number;
  now: Date;
}

export interface RetentionPlan {
  keep: Array<{ record: BackupRecord; reason: string }>;
  remove: BackupRecord[];
}

/**
 * Which successful backups go: older than the retention window, except the `keepMin` newest
 * and the newest verified one, which are never deleted whatever their age.
 */
export function planRetention(succeeded: BackupRecord[], policy: RetentionPolicy): RetentionPlan {
  const newestFirst = [...succeeded].sort((a, b) => b.started_at.getTime() - a.started_at.getTime() || b.id - a.id);
  const cutoff = policy.now.getTime() - policy.retentionDays * 86_400_000;
  const newestVerified = newestFirst.find((r) => r.verify_ok === true);
  const plan: RetentionPlan = { keep: [], remove: [] };
  newestFirst.forEach((record, index) => {
    if (index < policy.keepMin) plan.keep.push({ record, reason: `one of the ${policy.keepMin} newest` });
    else if (record === newestVerified) plan.keep.push({ record, reason: 'newest verified backup' });
    else if (record.started_at.getTime() >= cutoff) plan.keep.push({ record, reason: `younger than ${policy.retentionDays} days` });
    else plan.remove.push(record);
  });
  return plan;
}
