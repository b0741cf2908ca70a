import type { Context } from '../context.js';
import type { Db } from '../db/pool.js';

export interface WalHealth {
  /** archive_mode is on (or always): only then is archiving judged. */
  archiving: boolean;
  lastArchivedWal: string | null;
  lastArchivedAt: Date | null;
  /** Minutes since the last archived WAL file, at the database's clock. */
  ageMinutes: number | null;
  failedCount: number;
  lastFailedWal: string | null;
  lastFailedAt: Date | null;
  /** A completed WAL file is waiting to be archived (the server wrote past the last archived one's segment). */
  waiting: boolean;
  /**
   * The recoverable window, when there is a base backup: from the end of the oldest one kept
   * (aj backup run --physical) to the last archived WAL file. Gaps in between are not looked for here.
   */
  recoverableFrom: Date | null;
  recoverableTo: Date | null;
  healthy: boolean;
  detail: string;
}

interface Row {
  archive_mode: string;
  in_recovery: boolean;
  current_lsn: string | null;
  segment_size: string;
  last_archived_wal: string | null;
  last_archived_time: Date | null;
  age_minutes: number | null;
  failed_count: string;
  last_failed_wal: string | null;
  last_failed_time: Date | null;
}

/** WAL archiving health for `aj status` and the metrics, with WAL_MAX_AGE_MINUTES and WAL_ARCHIVING from the configuration. */
export async function walHealth(ctx: Context): Promise<WalHealth> {
  const config = ctx.config();
  return walArchiveHealth(await ctx.db(), { maxAgeMinutes: config.walMaxAgeMinutes, required: config.walArchiving === 'required' });
}

/**
 * From pg_stat_archiver. Unhealthy when archive_mode is on and either the last attempt failed (a
 * failure newer than the last success), or the last archived file is older than maxAgeMinutes while
 * a completed file waits: an idle server that writes nothing archives nothing, and that is fine.
 * With archive_mode off, healthy (installs without point-in-time recovery never alert) unless required.
 */
export async function walArchiveHealth(db: Db, options: { maxAgeMinutes: number; required?: boolean }): Promise<WalHealth> {
  const row = (await db.one<Row>(
    `SELECT current_setting('archive_mode') AS archive_mode, pg_is_in_recovery() AS in_recovery,
            CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS current_lsn,
            (SELECT setting FROM pg_settings WHERE name = 'wal_segment_size') AS segment_size,
            last_archived_wal, last_archived_time, extract(epoch FROM now() - last_archived_time)::float8 / 60 AS age_minutes,
            failed_count::text, last_failed_wal, last_failed_time
       FROM pg_stat_archiver`,
  ))!;
  const archiving = row.archive_mode === 'on' || row.archive_mode === 'always';
  const failing = Boolean(row.last_failed_time && (!row.last_archived_time || row.last_failed_time > row.last_archived_time));
  const end = row.last_archived_wal ? segmentEnd(row.last_archived_wal, BigInt(row.segment_size)) : undefined;
  const waiting = end !== undefined && row.current_lsn !== null && lsn(row.current_lsn) >= end + BigInt(row.segment_size);
  const age = row.age_minutes === null ? null : Math.round(row.age_minutes * 10) / 10;
  const stale = waiting && age !== null && age > options.maxAgeMinutes;
  const oldestBase = (await db.one<{ present: boolean }>(`SELECT to_regclass('base_backups') IS NOT NULL AS present`))?.present
    ? (await db.one<{ at: Date | null }>(`SELECT min(finished_at) AS at FROM base_backups WHERE status = 'succeeded'`))?.at ?? null
    : null;
  const window = archiving && oldestBase && row.last_archived_time ? { recoverableFrom: oldestBase, recoverableTo: row.last_archived_time } : { recoverableFrom: null, recoverableTo: null };
  const base = {
    ...window,
    archiving, lastArchivedWal: row.last_archived_wal, lastArchivedAt: row.last_archived_time, ageMinutes: age,
    failedCount: Number(row.failed_count), lastFailedWal: row.last_failed_wal, lastFailedAt: row.last_failed_time, waiting,
  };
  if (!archiving) {
    return { ...base, healthy: !options.required, detail: `archive_mode is ${row.archive_mode}: WAL is not archived${options.required ? ' (WAL_ARCHIVING=required; aj doctor prints the setup)' : ''}` };
  }
  const last = row.last_archived_wal ? `last archived ${row.last_archived_wal} ${age} min ago` : 'nothing archived yet';
  if (failing) return { ...base, healthy: false, detail: `archiving fails: ${row.last_failed_wal} failed at ${row.last_failed_time!.toISOString()}; ${last} (PostgreSQL's log has aj's message)` };
  if (stale) return { ...base, healthy: false, detail: `${last} while WAL waits to be archived (limit ${options.maxAgeMinutes} min): is archive_command running?` };
  const recoverable = window.recoverableFrom ? `; recoverable from ${window.recoverableFrom.toISOString()} to ${window.recoverableTo!.toISOString()}` : '; no base backup yet (aj backup run --physical)';
  return { ...base, healthy: true, detail: `${last}${row.in_recovery ? ' (in recovery)' : ''} (limit ${options.maxAgeMinutes} min)${recoverable}` };
}

function lsn(text: string): bigint {
  const [high = '0', low = '0'] = text.split('/');
  return (BigInt(`0x${high}`) << 32n) + BigInt(`0x${low}`);
}

/** Where the segment a WAL file (or backup label) is in ends; undefined for a timeline history file. */
function segmentEnd(name: string, segmentSize: bigint): bigint | undefined {
  if (name.endsWith('.history')) return undefined;
  const log = BigInt(`0x${name.slice(8, 16)}`);
  const seg = BigInt(`0x${name.slice(16, 24)}`);
  return (log << 32n) + (seg + 1n) * segmentSize;
}
