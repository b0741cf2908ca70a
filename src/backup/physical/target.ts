import { UsageError } from '../../errors.js';

/** Where recovery stops: a moment, a WAL position, or the end of the archived WAL. */
export type RecoveryTarget = { kind: 'time'; at: Date } | { kind: 'lsn'; lsn: string } | { kind: 'latest' };

const ZONED = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?(?:\s+([A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)*))?$/;
const WITH_OFFSET = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$/i;

/**
 * A recovery time as an admin types it: "2026-06-01 17:05 Europe/Paris", an ISO time with an offset
 * ("2026-06-01T15:05:00Z", "2026-06-01 17:05+02:00"), or a local time read in `defaultZone` (AJ_TIMEZONE).
 */
export function parseTargetTime(text: string, defaultZone: string): Date {
  const value = text.trim();
  if (WITH_OFFSET.test(value)) {
    const at = new Date(value.replace(' ', 'T').replace(/\s+/g, '').replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
    if (!Number.isNaN(at.getTime())) return at;
  }
  const match = ZONED.exec(value);
  if (!match) throw new UsageError(`--to-time: "${text}" is not a time`, 'write it as "2026-06-01 17:05 Europe/Paris", "2026-06-01T15:05:00Z" or "2026-06-01 17:05" (in AJ_TIMEZONE)');
  const zone = match[8] ?? defaultZone;
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
  } catch {
    throw new UsageError(`--to-time: unknown time zone "${zone}"`, 'use an IANA name such as Europe/Paris or UTC');
  }
  const [year, month, day, hour, minute, second = '0', milli = '0'] = match.slice(1, 8).map((v) => v ?? undefined) as string[];
  const fields = [Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second), Number(milli.padEnd(3, '0'))] as const;
  const wall = Date.UTC(...fields);
  const check = new Date(wall);
  if (check.getUTCMonth() !== fields[1] || check.getUTCDate() !== fields[2] || fields[3] > 23 || fields[4] > 59 || fields[5] > 59) {
    throw new UsageError(`--to-time: "${text}" is not a valid date and time`, 'check the day, month and hour');
  }
  // The offset at the guessed instant, then at the corrected one: right on both sides of a DST change.
  const first = wall - offsetAt(wall, zone);
  return new Date(wall - offsetAt(first, zone));
}

/** How far `zone` is ahead of UTC at `instant`, in milliseconds. */
function offsetAt(instant: number, zone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).formatToParts(new Date(instant));
  const get = (type: string) => Number(parts.find((p) => p.type === type)!.value);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return asUtc - Math.floor(instant / 1000) * 1000;
}

export function parseLsn(text: string): string {
  if (!/^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/i.test(text.trim())) throw new UsageError(`--to-lsn: "${text}" is not a WAL position`, 'write it as PostgreSQL prints it, e.g. 0/3000148 (SELECT pg_current_wal_lsn())');
  return text.trim().toUpperCase();
}

/** LSNs as numbers, for comparing. */
export function lsnValue(lsn: string): bigint {
  const [high, low] = lsn.split('/');
  return (BigInt(`0x${high}`) << 32n) + BigInt(`0x${low}`);
}

/** UTC, as recovery_target_time takes it whatever the server's TimeZone. */
export function postgresTime(at: Date): string {
  return `${at.toISOString().replace('T', ' ').replace('Z', '')}+00`;
}
