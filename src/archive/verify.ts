import type { Context } from '../context.js';
import { acquireJobLock } from '../db/job-lock.js';
import { describeError } from '../errors.js';
import { ObjectNotFoundError, type ObjectInfo, type ObjectStore } from '../storage/store.js';
import { DamagedObjectError, verifyStored } from '../storage/verified.js';
import { type ArchivedDocument, findDocuments, knownKeys, recordVerification } from './catalog.js';
import { checkDate, checkDocType, monthPrefix } from './layout.js';
import { forEachLimit } from '../parallel.js';

export interface ArchiveVerifyOptions {
  type?: string;
  since?: string;
  deep?: boolean;
  orphans?: boolean;
  concurrency: number;
  wait?: boolean;
}

export type Problem = 'missing' | 'size_mismatch' | 'checksum_mismatch' | 'orphan' | 'error';

export interface Finding {
  problem: Problem;
  key: string;
  type?: string;
  docId?: string;
  version?: number;
  detail: string;
}

export interface ArchiveVerifyReport {
  storage: string;
  mode: 'quick' | 'deep';
  checked: number;
  intact: number;
  /** Rows archived in another storage location, not checked here. */
  elsewhere: number;
  findings: Finding[];
}

/**
 * Checks every archived document still exists unchanged. Quick mode compares size and ETag
 * (the MD5 for single-part uploads) from bucket listings of the months concerned: one request
 * per 1,000 objects instead of one HEAD each. Deep mode downloads and rehashes every object.
 */
export async function runArchiveVerify(opts: ArchiveVerifyOptions, ctx: Context): Promise<ArchiveVerifyReport> {
  const type = opts.type === undefined ? undefined : checkDocType(opts.type);
  const since = opts.since === undefined ? undefined : checkDate(opts.since, '--since');
  const db = await ctx.db();
  const store = await ctx.store('archive');
  const lock = await acquireJobLock(db, 'archive-verify', { wait: opts.wait, signal: ctx.signal });
  try {
    const all = await findDocuments(db, { type, since, timeZone: ctx.config().timezone });
    const rows = all.filter((r) => r.storageUrl === store.url);
    const listing = opts.orphans ? await listAll(store, type ? `${type}/` : '') : undefined;
    const progress = ctx.io.progress(opts.deep ? 'verifying (deep)' : 'verifying');
    const findings: Finding[] = [];
    let done = 0;
    const tick = () => progress.update(`${(done += 1)}/${rows.length}`);
    try {
      if (opts.deep) await deepCheck(rows, store, opts.concurrency, findings, tick, ctx.signal);
      else await quickCheck(rows, store, listing, opts.concurrency, findings, tick, ctx.signal);
    } finally {
      progress.done();
    }
    ctx.signal.throwIfAborted();
    // Rows that could not be checked (storage errors) keep their previous verification.
    const resultByKey = new Map(findings.map((f) => [f.key, f.problem]));
    const checked = rows.filter((r) => resultByKey.get(r.objectKey) !== 'error');
    await recordVerification(db, checked.map((r) => ({ id: r.id, result: resultByKey.get(r.objectKey) ?? 'ok' })));
    if (listing) findings.push(...orphansIn(listing, await knownKeys(db, store.url)));
    return {
      storage: store.url,
      mode: opts.deep ? 'deep' : 'quick',
      checked: rows.length,
      intact: rows.length - new Set(findings.filter((f) => f.problem !== 'orphan').map((f) => f.key)).size,
      elsewhere: all.length - rows.length,
      findings,
    };
  } finally {
    await lock.release();
  }
}

async function listAll(store: ObjectStore, prefix: string): Promise<Map<string, ObjectInfo>> {
  const objects = new Map<string, ObjectInfo>();
  for await (const info of store.list(prefix)) objects.set(info.key, info);
  return objects;
}

const finding = (row: ArchivedDocument, problem: Problem, detail: string): Finding => ({
  problem,
  key: row.objectKey,
  type: row.docType,
  docId: row.docId,
  version: row.version,
  detail,
});

/** Size and ETag against the row; an object absent from the listing is confirmed with a HEAD. */
async function quickCheck(
  rows: ArchivedDocument[],
  store: ObjectStore,
  listing: Map<string, ObjectInfo> | undefined,
  concurrency: number,
  findings: Finding[],
  tick: () => void,
  signal: AbortSignal,
): Promise<void> {
  const byPrefix = new Map<string, ArchivedDocument[]>();
  for (const row of rows) {
    const prefix = monthPrefix(row.objectKey);
    byPrefix.set(prefix, [...(byPrefix.get(prefix) ?? []), row]);
  }
  await forEachLimit([...byPrefix], concurrency, async ([prefix, group]) => {
    const objects = listing ?? (await listAll(store, prefix));
    for (const row of group) {
      try {
        const info = objects.get(row.objectKey) ?? (await store.head(row.objectKey));
        const problem = compare(row, info);
        if (problem) findings.push(problem);
      } catch (error) {
        findings.push(finding(row, 'error', describeError(error)));
      }
      tick();
    }
  }, signal);
}

function compare(row: ArchivedDocument, info: ObjectInfo | undefined): Finding | undefined {
  if (!info) return finding(row, 'missing', 'the object is not in the storage');
  if (info.size !== row.size) return finding(row, 'size_mismatch', `${info.size} bytes stored, ${row.size} archived`);
  // Multipart ETags ("...-3") are not an MD5 of the content; only a plain one can be compared.
  if (info.etag && /^[0-9a-f]{32}$/.test(info.etag) && info.etag !== row.md5) {
    return finding(row, 'checksum_mismatch', `ETag ${info.etag} differs from the archived MD5 ${row.md5}`);
  }
  return undefined;
}

async function deepCheck(
  rows: ArchivedDocument[],
  store: ObjectStore,
  concurrency: number,
  findings: Finding[],
  tick: () => void,
  signal: AbortSignal,
): Promise<void> {
  await forEachLimit(rows, concurrency, async (row) => {
    try {
      await verifyStored(store, row.objectKey, row, { signal });
    } catch (error) {
      if (error instanceof DamagedObjectError) findings.push(finding(row, error.problem, error.detail));
      else if (error instanceof ObjectNotFoundError) findings.push(finding(row, 'missing', 'the object is not in the storage'));
      else findings.push(finding(row, 'error', describeError(error)));
    }
    tick();
  }, signal);
}

function orphansIn(listing: Map<string, ObjectInfo>, known: Set<string>): Finding[] {
  return [...listing.values()]
    .filter((info) => !known.has(info.key))
    .sort((a, b) => a.key.localeCompare(b.key))
    .map((info) => ({ problem: 'orphan' as const, key: info.key, detail: `${info.size} bytes with no archive row` }));
}
