import { createHash } from 'node:crypto';
import { ConfigError } from '../errors.js';

/**
 * `<db>/<yyyy>/<mm>/<dd>/<db>-<UTC timestamp>.dump[.age]`, sortable and readable in a bucket browser.
 * The stamp keeps milliseconds: two runs in the same second must never share a key.
 */
export function backupKey(database: string, startedAt: Date, encrypted: boolean): string {
  const iso = startedAt.toISOString();
  const [yyyy, mm, dd] = iso.slice(0, 10).split('-');
  const stamp = iso.replace(/[-:]/g, '');
  const safe = safeName(database);
  return `${safe}/${yyyy}/${mm}/${dd}/${safe}-${stamp}.dump${encrypted ? '.age' : ''}`;
}

/**
 * Where one database's backups live: several databases may share a bucket and prefix, and each
 * looks only at its own folder (the slash keeps `shop` away from `shop_test`).
 */
export const databaseFolder = (database: string) => `${safeName(database)}/`;

const safeName = (database: string) => database.replace(/[^A-Za-z0-9_.-]/g, '_');

export const isDumpKey = (key: string) => /\.dump(\.age)?$/.test(key);

export const manifestKeyOf = (dumpKey: string) => `${dumpKey.replace(/\.dump(\.age)?$/, '')}.manifest.json`;
export const globalsKeyOf = (dumpKey: string) => `${dumpKey.replace(/\.dump(\.age)?$/, '')}.globals.sql`;

/** A short, stable fingerprint of an age recipient, for the manifest and history. */
export function recipientFingerprint(recipient: string): string {
  return `sha256:${createHash('sha256').update(recipient).digest('hex').slice(0, 16)}`;
}

/**
 * BACKUP_COMPRESS as pg_dump takes it: PostgreSQL 15's pg_dump only knows gzip levels 0-9;
 * `gzip:N`, `lz4` and `zstd` need pg_dump 16 or newer.
 */
export function compressArgument(setting: string, pgDumpMajor: number): string {
  if (pgDumpMajor >= 16) return setting;
  if (/^\d$/.test(setting)) return setting;
  if (setting === 'none') return '0';
  const gzip = /^gzip(?::(\d))?$/.exec(setting);
  if (gzip) return gzip[1] ?? '6';
  throw new ConfigError(`BACKUP_COMPRESS=${setting} needs pg_dump 16 or newer (this one is ${pgDumpMajor})`, 'use gzip:N or install a newer PostgreSQL client');
}
