import type { Context } from '../context.js';
import type { Db } from '../db/pool.js';
import { UsageError } from '../errors.js';
import { formatBytes } from '../render.js';

export interface SizedBackup {
  id: number;
  status: string;
  database_name: string;
  started_at: Date;
  size_bytes: number;
  total_rows: number | null;
  acknowledged_at: Date | null;
}

export interface ShrunkBackup {
  id: number;
  startedAt: Date;
  size: number;
  rows: number | null;
  medianSize: number;
  medianRows: number | null;
  /** One line for status, alerts and the retention notice. */
  description: string;
}

// Fewer earlier backups than this and a median says little (a young install, a first dump).
const MIN_BASELINE = 3;
const BASELINE = 7;

/**
 * Backups that came out much smaller than usual and nobody has acknowledged, newest first.
 * A data wipe upstream looks like a healthy small backup; while one is outstanding, retention
 * deletes nothing. The baseline is the median of the seven previous backups of the same
 * database, restarting at the last acknowledged one (acknowledging says "this is the new normal").
 */
export function shrunkBackups(history: SizedBackup[], thresholdPercent: number): ShrunkBackup[] {
  if (thresholdPercent <= 0) return [];
  const byDatabase = new Map<string, SizedBackup[]>();
  for (const b of [...history].sort((x, y) => x.started_at.getTime() - y.started_at.getTime() || x.id - y.id)) {
    byDatabase.set(b.database_name, [...(byDatabase.get(b.database_name) ?? []), b]);
  }
  const found: ShrunkBackup[] = [];
  for (const backups of byDatabase.values()) {
    let baseline: SizedBackup[] = [];
    for (const b of backups) {
      const previous = baseline.slice(-BASELINE);
      if (b.acknowledged_at) baseline = [b];
      else {
        baseline.push(b);
        if (b.status !== 'succeeded' || previous.length < MIN_BASELINE) continue;
        const medianSize = median(previous.map((p) => p.size_bytes));
        const rows = previous.map((p) => p.total_rows).filter((n): n is number => n !== null);
        const medianRows = rows.length === previous.length ? median(rows) : null;
        const limit = thresholdPercent / 100;
        const smallSize = b.size_bytes < medianSize * limit;
        const fewRows = medianRows !== null && b.total_rows !== null && b.total_rows < medianRows * limit;
        if (!smallSize && !fewRows) continue;
        const what = smallSize
          ? `${formatBytes(b.size_bytes)} against a median of ${formatBytes(medianSize)}`
          : `${b.total_rows} rows against a median of ${medianRows}`;
        found.push({
          id: b.id, startedAt: b.started_at, size: b.size_bytes, rows: b.total_rows, medianSize, medianRows,
          description: `backup ${b.id} shrank below ${thresholdPercent}% of the usual: ${what} (check the data; \`aj backup ack ${b.id}\` if expected)`,
        });
      }
    }
  }
  return found.sort((x, y) => y.startedAt.getTime() - x.startedAt.getTime() || y.id - x.id);
}

export async function findShrunkBackups(db: Db, thresholdPercent: number): Promise<ShrunkBackup[]> {
  if (thresholdPercent <= 0) return [];
  const history = await db.query<SizedBackup>(
    `SELECT id, status, database_name, started_at, size_bytes, total_rows, acknowledged_at FROM (
       SELECT * FROM backup_runs WHERE status IN ('succeeded', 'deleted') AND size_bytes IS NOT NULL ORDER BY started_at DESC, id DESC LIMIT 400
     ) recent`,
  );
  return shrunkBackups(history, thresholdPercent);
}

/** `aj backup ack <id>`: the drop was expected; retention may resume and the baseline restarts here. */
export async function acknowledgeBackup(ctx: Context, id: number): Promise<ShrunkBackup> {
  const db = await ctx.db();
  const flagged = (await findShrunkBackups(db, ctx.config().backupShrinkAlert)).find((s) => s.id === id);
  if (!flagged) throw new UsageError(`backup ${id} is not flagged as shrunk`, 'nothing to acknowledge; see `aj status`');
  await db.query('UPDATE backup_runs SET acknowledged_at = now() WHERE id = $1', [id]);
  return flagged;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
