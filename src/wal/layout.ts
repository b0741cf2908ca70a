import { UsageError } from '../errors.js';

/**
 * Where a PostgreSQL cluster's physical backups and write-ahead log live in BACKUP_STORAGE,
 * beside the per-database dump folders:
 *
 *   cluster-<system identifier>/wal/<timeline>/<file name>.gz[.age]   WAL segments, .history, .backup files
 *   cluster-<system identifier>/base/<UTC stamp>/...                 base backups (pg_basebackup)
 *
 * The system identifier (from pg_control) names one cluster for its whole life, whatever its host
 * name or port: two servers sharing a bucket never mix their WAL. The timeline folder is the first
 * eight hex digits of the file name, which holds for segments (000000010000000000000003),
 * history files (00000002.history) and backup labels (000000010000000000000002.00000028.backup).
 */
export const clusterFolder = (systemIdentifier: string) => `cluster-${systemIdentifier}/`;

export const walFolder = (systemIdentifier: string) => `${clusterFolder(systemIdentifier)}wal/`;

export const baseFolder = (systemIdentifier: string) => `${clusterFolder(systemIdentifier)}base/`;

/** A segment, a timeline history file, a backup history file, or a .partial segment. */
const WAL_FILE_NAME = /^([0-9A-F]{8})(?:[0-9A-F]{16}(?:\.partial|\.[0-9A-F]{8}\.backup)?|\.history)$/;

export function isWalFileName(name: string): boolean {
  return WAL_FILE_NAME.test(name);
}

/** The object key of one WAL file, gzip-compressed and, when encrypted, age-wrapped. */
export function walKey(systemIdentifier: string, fileName: string, encrypted: boolean): string {
  const match = WAL_FILE_NAME.exec(fileName);
  if (!match) throw new UsageError(`"${fileName}" is not a WAL file name`, 'PostgreSQL passes names like 000000010000000000000003 (%f) or paths like pg_wal/000000010000000000000003 (%p)');
  return `${walFolder(systemIdentifier)}${match[1]}/${fileName}.gz${encrypted ? '.age' : ''}`;
}

/** The WAL file name an object key holds, or undefined for any other object. */
export function walFileOfKey(key: string): string | undefined {
  const name = /\/wal\/[0-9A-F]{8}\/([^/]+)\.gz(?:\.age)?$/.exec(key)?.[1];
  return name && isWalFileName(name) ? name : undefined;
}

/** Segment names sort in WAL order within a timeline; this compares them ignoring the timeline. */
export function segmentPosition(segmentName: string): string {
  return segmentName.slice(8, 24);
}
