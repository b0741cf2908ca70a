import { stat } from 'node:fs/promises';
import { posix, resolve } from 'node:path';
import type { Context } from '../context.js';
import { acquireJobLock } from '../db/job-lock.js';
import { ConfigError, UsageError } from '../errors.js';
import { type Location, parseLocation } from '../storage/location.js';
import { openLocation } from '../storage/open.js';
import type { ObjectInfo, ObjectStore } from '../storage/store.js';
import { type ArchiveFile, archiveFiles } from './batch.js';
import { businessDate, checkDocType } from './layout.js';
import { DEFAULT_SOURCE_PATTERN, type SourcePattern, matchSourcePath, parseSourcePattern } from './sync-layout.js';
import { type SyncedFile, loadSyncState, recordSynced } from './sync-state.js';

export interface ArchiveSyncOptions {
  /** A directory, or s3://bucket/prefix. */
  from: string;
  pattern?: string;
  /** The type of every file, for a pattern without {type}. */
  type?: string;
  /** Files of a directory modified less than this many seconds ago wait for the next run (still being written). */
  settleSeconds: number;
  dryRun?: boolean;
  concurrency: number;
}

export type SyncStatus = 'archived' | 'already-archived' | 'failed' | 'outside-layout' | 'settling' | 'would-archive';

export interface SyncFileResult {
  /** Relative to the source. */
  path: string;
  status: SyncStatus;
  type?: string;
  docId?: string;
  version?: number;
  key?: string;
  detail?: string;
}

export interface ArchiveSyncReport {
  source: string;
  storage: string;
  dryRun: boolean;
  /** Files in the source. */
  listed: number;
  /** Files whose content was read (new or changed since the last run). */
  read: number;
  unchanged: number;
  archived: number;
  alreadyArchived: number;
  failed: number;
  outsideLayout: number;
  settling: number;
  /** Not PDFs by name, or hidden. */
  ignored: number;
  /** Every file but the unchanged and ignored ones. */
  files: SyncFileResult[];
}

interface Candidate extends ArchiveFile {
  info: ObjectInfo;
}

/**
 * Archives every new or changed PDF of a source (where the web app writes them) as a new document
 * or version, through archive put's machinery. A file already archived and unchanged since (size and
 * mtime, or ETag) is skipped from the listing alone: a run over years of PDFs reads none of them.
 */
export async function runArchiveSync(ctx: Context, opts: ArchiveSyncOptions): Promise<ArchiveSyncReport> {
  const fixedType = opts.type === undefined ? undefined : checkDocType(opts.type, ctx.config().archiveDocTypes);
  const pattern = parseSourcePattern(opts.pattern ?? DEFAULT_SOURCE_PATTERN, fixedType);
  const location = await sourceLocation(opts.from);
  const [db, archive] = await Promise.all([ctx.db(), ctx.store('archive')]);
  const { store: source, close } = await openLocation(location, ctx.config(), ctx.signal);
  if (close) ctx.onClose(close);
  refuseArchiveItself(location, source, archive);
  const lock = opts.dryRun ? undefined : await acquireJobLock(db, 'archive-sync', { signal: ctx.signal });
  try {
    const state = await loadSyncState(db, source.url);
    const { counts, files, candidates } = await listChanged(source, state, pattern, {
      settleSeconds: opts.settleSeconds,
      now: ctx.clock(),
      today: businessDate(ctx.clock(), ctx.config().timezone),
    });
    if (opts.dryRun) {
      for (const c of candidates) files.push({ path: c.path, status: 'would-archive', type: c.type, docId: c.docId, detail: state.has(c.path) ? 'changed since archived' : 'new' });
    }
    for (const round of opts.dryRun ? [] : rounds(candidates)) {
      counts.read += round.length;
      const { results } = await archiveFiles(ctx, round, { concurrency: opts.concurrency });
      const synced: SyncedFile[] = [];
      results.forEach((r, i) => {
        const file = round[i]!;
        if (r.status !== 'failed') synced.push({ path: file.path, size: file.info.size, fingerprint: fingerprintOf(file.info), type: file.type, docId: file.docId, version: r.version!, sha256: r.sha256! });
        files.push({ path: file.path, status: r.status === 'skipped' ? 'already-archived' : r.status, type: file.type, docId: file.docId, version: r.version, key: r.key, detail: r.detail });
      });
      await recordSynced(db, source.url, synced);
      ctx.signal.throwIfAborted();
    }
    const count = (status: SyncStatus) => files.filter((f) => f.status === status).length;
    return {
      source: source.url, storage: archive.url, dryRun: Boolean(opts.dryRun), ...counts,
      archived: count('archived'), alreadyArchived: count('already-archived'), failed: count('failed'),
      outsideLayout: count('outside-layout'), settling: count('settling'), files,
    };
  } finally {
    await lock?.release();
  }
}

/**
 * The files of the source that are new or changed since they were archived (from the listing
 * alone), and those reported without being read: outside the layout, still being written.
 */
async function listChanged(
  source: ObjectStore,
  state: Map<string, { size: number; fingerprint: string }>,
  pattern: SourcePattern,
  at: { settleSeconds: number; now: Date; today: string },
): Promise<{ counts: { listed: number; read: number; unchanged: number; ignored: number }; files: SyncFileResult[]; candidates: Candidate[] }> {
  const counts = { listed: 0, read: 0, unchanged: 0, ignored: 0 };
  const files: SyncFileResult[] = [];
  const candidates: Candidate[] = [];
  for await (const info of source.list()) {
    counts.listed += 1;
    const name = posix.basename(info.key);
    if (name.startsWith('.') || !name.toLowerCase().endsWith('.pdf')) {
      counts.ignored += 1;
      continue;
    }
    const known = state.get(info.key);
    if (known && known.size === info.size && known.fingerprint === fingerprintOf(info)) {
      counts.unchanged += 1;
      continue;
    }
    const match = matchSourcePath(pattern, info.key);
    if ('problem' in match) {
      files.push({ path: info.key, status: 'outside-layout', detail: match.problem });
      continue;
    }
    // Objects appear in a bucket whole; a file in a directory may still be being written.
    const age = info.lastModified ? (at.now.getTime() - info.lastModified.getTime()) / 1000 : Infinity;
    if (source.kind === 'file' && age < at.settleSeconds) {
      files.push({ path: info.key, status: 'settling', type: match.type, docId: match.docId, detail: `modified ${Math.max(0, Math.round(age))} s ago; archived by a later run` });
      continue;
    }
    const { type, docId } = match;
    candidates.push({ info, path: info.key, source: { store: source, key: info.key }, type, docId, date: match.date ?? at.today, size: info.size, contentType: 'application/pdf' });
  }
  return { counts, files, candidates };
}

/** A flag value: s3://bucket/prefix, file:///path, or a directory (relative to the working directory). */
async function sourceLocation(from: string): Promise<Location> {
  let location: Location;
  try {
    location = /^(s3|file):\/\//.test(from) ? parseLocation(from, '--from') : { kind: 'file', path: resolve(from) };
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message, error.hint);
    throw error;
  }
  if (location.kind === 'file' && !(await stat(location.path).catch(() => undefined))?.isDirectory()) {
    throw new UsageError(`--from ${from}: no such directory`, 'pass the directory where the app writes its PDFs, or s3://bucket/prefix');
  }
  return location;
}

function refuseArchiveItself(location: Location, source: ObjectStore, archive: ObjectStore): void {
  const inside = (a: string, b: string) => a === b || a.startsWith(`${b}/`);
  const archivePath = archive.kind === 'file' ? archive.url.slice('file://'.length) : undefined;
  const overlap = location.kind === 'file' && archivePath !== undefined
    ? inside(archivePath, location.path) || inside(location.path, archivePath)
    : inside(source.url, archive.url) || inside(archive.url, source.url);
  if (overlap) throw new UsageError(`--from ${source.url} overlaps the archive ${archive.url}`, 'sync from where the app writes its PDFs, not from the archive');
}

/** What tells a changed file from an unchanged one without reading it. */
function fingerprintOf(info: ObjectInfo): string {
  return info.etag ? `etag:${info.etag}` : `mtime:${info.lastModified?.getTime() ?? 'none'}`;
}

/**
 * A document's next version is decided once per batch, so two new files of one document (a devis
 * and its signed copy) go in successive rounds, oldest first: the newest becomes the latest version.
 */
function rounds(candidates: Candidate[]): Candidate[][] {
  const byDocument = new Map<string, Candidate[]>();
  for (const c of candidates) {
    const id = `${c.type}/${c.docId}`;
    byDocument.set(id, [...(byDocument.get(id) ?? []), c]);
  }
  const out: Candidate[][] = [];
  for (const files of byDocument.values()) {
    files.sort((a, b) => (a.info.lastModified?.getTime() ?? 0) - (b.info.lastModified?.getTime() ?? 0) || (a.path < b.path ? -1 : 1));
    files.forEach((file, i) => (out[i] ??= []).push(file));
  }
  return out;
}
