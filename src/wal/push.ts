import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, unlink } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { writeFileAtomic } from '../atomic-file.js';
import type { Context } from '../context.js';
import { UsageError, describeError } from '../errors.js';
import { type Archived, type Archiving, archiveWalFile } from './archive-one.js';
import { readSystemIdentifier, resolveDataDir } from './cluster.js';
import { WalConflictError } from './errors.js';
import { isWalFileName } from './layout.js';

export interface PushOptions {
  /** %p: the WAL file's path, relative to the data directory (the current directory). */
  path: string;
  dataDir?: string;
}

export interface PushResult {
  /** The file PostgreSQL asked for; `marked` when an earlier push had already uploaded it ahead. */
  requested: Archived | { name: string; outcome: 'marked' };
  /** Other .ready files uploaded ahead, and those that failed (PostgreSQL will ask for them again). */
  ahead: Array<Archived | { name: string; error: string }>;
}

/** Where a push records files it uploaded ahead of PostgreSQL's request (pg_basebackup skips pg_wal's contents). */
export const markerDir = (dataDir: string) => join(dataDir, 'pg_wal', 'aj_archive_status');

/**
 * archive_command: archives the WAL file PostgreSQL names and, when others are waiting (.ready), up
 * to WAL_PUSH_PARALLEL of the oldest alongside, so that a burst of writes does not queue segments one
 * round trip each. PostgreSQL alone renames .ready to .done: a file uploaded ahead gets a marker
 * here, and its own archive_command call later returns at once.
 */
export async function pushWal(ctx: Context, options: PushOptions): Promise<PushResult> {
  const dataDir = resolveDataDir(options.dataDir, ctx.env);
  const path = resolve(options.path);
  const name = basename(path);
  if (!isWalFileName(name)) throw new UsageError(`"${options.path}" is not a WAL file`, 'archive_command passes %p, a path like pg_wal/000000010000000000000003');
  const content = await readFile(path);
  if (await takeMarker(dataDir, name, content)) return { requested: { name, outcome: 'marked' }, ahead: [] };

  const config = ctx.config();
  const archiving: Archiving = {
    store: await ctx.store('backup'),
    systemIdentifier: await readSystemIdentifier(dataDir),
    compressLevel: config.walCompressLevel,
    recipient: config.backupAgeRecipient,
  };
  const waiting = config.walPushParallel > 0 ? await readyFiles(dataDir, name, config.walPushParallel) : [];
  const [requested, ...ahead] = await Promise.allSettled([
    archiveWalFile(archiving, name, content),
    ...waiting.map(async (other) => {
      const archived = await archiveWalFile(archiving, other, await readFile(join(dataDir, 'pg_wal', other)));
      await writeMarker(dataDir, archived);
      return archived;
    }),
  ]);
  if (requested!.status === 'rejected') {
    if (requested!.reason instanceof WalConflictError) await alertConflict(ctx, name, requested!.reason);
    throw requested!.reason;
  }
  return {
    requested: requested!.value,
    ahead: ahead.map((r, i) => (r.status === 'fulfilled' ? r.value : { name: waiting[i]!, error: describeError(r.reason) })),
  };
}

/**
 * The oldest WAL files PostgreSQL has marked ready besides `name`, without a marker yet: timeline
 * history files first (a promoted standby needs them), then segments in WAL order.
 */
async function readyFiles(dataDir: string, name: string, limit: number): Promise<string[]> {
  const status = await readdir(join(dataDir, 'pg_wal', 'archive_status')).catch(() => [] as string[]);
  const marked = new Set(await readdir(markerDir(dataDir)).catch(() => [] as string[]));
  const order = (file: string) => `${file.endsWith('.history') ? 0 : 1}${file.slice(8, 24)}${file.slice(0, 8)}${file.slice(24)}`;
  return status
    .filter((f) => f.endsWith('.ready'))
    .map((f) => f.slice(0, -'.ready'.length))
    .filter((f) => f !== name && isWalFileName(f) && !marked.has(f))
    .sort((a, b) => (order(a) < order(b) ? -1 : 1))
    .slice(0, limit);
}

async function writeMarker(dataDir: string, archived: Archived): Promise<void> {
  await mkdir(markerDir(dataDir), { recursive: true, mode: 0o700 });
  await writeFileAtomic(join(markerDir(dataDir), archived.name), `${archived.sha256} ${archived.bytes} ${archived.key}\n`, 0o600);
}

/**
 * A marker left by a push that uploaded this file ahead: valid only for the very same content
 * (same SHA-256), then removed. A stale one (the file was rewritten since) is dropped and the file archived.
 */
async function takeMarker(dataDir: string, name: string, content: Buffer): Promise<boolean> {
  const marker = join(markerDir(dataDir), name);
  const text = await readFile(marker, 'utf8').catch(() => undefined);
  if (text === undefined) return false;
  await unlink(marker).catch(() => undefined);
  return text.split(' ')[0] === createHash('sha256').update(content).digest('hex');
}

async function alertConflict(ctx: Context, name: string, error: WalConflictError): Promise<void> {
  const { hostname } = await import('node:os');
  const { alertOffline } = await import('../ops/offline-alert.js');
  await alertOffline(ctx, {
    key: 'wal-push:conflict',
    job: 'wal-push',
    subject: `aj wal push refused to overwrite ${name} on ${hostname()}: WAL archiving is stopped`,
    lines: [
      describeError(error),
      'PostgreSQL keeps the WAL file and retries; pg_wal grows until this is resolved.',
      '',
      'Investigate: which servers run archive_command into this storage (aj doctor on each)',
    ],
  });
}
