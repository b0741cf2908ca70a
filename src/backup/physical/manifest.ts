import { VerificationError } from '../../errors.js';

/** Stored beside each base backup: what it is, how to prove it, and from where recovery can start. */
export interface PhysicalManifest {
  format: 'aj-physical-manifest/1';
  id: number;
  systemIdentifier: string;
  /** The tar of the data directory (WAL from start to stop included: pg_basebackup -X fetch), gzip, then age. */
  key: string;
  size: number;
  sha256: string;
  compress: 'gzip:1';
  encryption: { type: 'age'; recipient: string; fingerprint: string } | null;
  timeline: number;
  startLsn: string;
  stopLsn: string;
  /** First WAL segment recovery needs: WAL before it is of no use to this backup. */
  startWal: string;
  /** PostgreSQL's own backup_manifest (also inside the tar), stored as its own object. */
  pgManifest: { key: string; size: number; sha256: string };
  serverVersion: string;
  pgBasebackupVersion: string;
  ajVersion: string;
  startedAt: string;
  /** When the backup was complete: restores can reach any moment from here on. */
  finishedAt: string;
}

export interface BackupLabel {
  startLsn: string;
  startWal: string;
  timeline: number;
}

/** `START WAL LOCATION: 0/2000028 (file 000000010000000000000002)` and `START TIMELINE: 1`. */
export function parseBackupLabel(text: string): BackupLabel {
  const start = /^START WAL LOCATION: ([0-9A-F]+\/[0-9A-F]+) \(file ([0-9A-F]{24})\)$/m.exec(text);
  const timeline = /^START TIMELINE: (\d+)$/m.exec(text);
  if (!start || !timeline) throw new VerificationError('the base backup has no readable backup_label', 'check the pg_basebackup version');
  return { startLsn: start[1]!, startWal: start[2]!, timeline: Number(timeline[1]) };
}

/** The end of the WAL range PostgreSQL's backup_manifest lists: the backup is consistent from there. */
export function stopOfManifest(text: string): { stopLsn: string; timeline: number } {
  let parsed: { 'WAL-Ranges'?: Array<{ Timeline: number; 'End-LSN': string }> };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    throw new VerificationError('the base backup\'s backup_manifest is not JSON', 'check the pg_basebackup version');
  }
  const last = parsed['WAL-Ranges']?.at(-1);
  if (!last) throw new VerificationError('the base backup\'s backup_manifest lists no WAL range', 'check the pg_basebackup version');
  return { stopLsn: last['End-LSN'], timeline: last.Timeline };
}

/** `base/<stamp>/` under the cluster's folder; milliseconds keep two runs apart. */
export function stampOf(startedAt: Date): string {
  return startedAt.toISOString().replace(/[-:]/g, '');
}
