import { basename } from 'node:path';
import type pg from 'pg';
import type { Context } from '../context.js';
import { OperationError, UsageError, describeError } from '../errors.js';
import { type ObjectInfo, type ObjectStore, SHA256_METADATA, compareKeys } from '../storage/store.js';
import { insertDocuments, lockDocuments, versionsOfEach } from './catalog.js';
import { type FileForUpload, collectFiles, inspectFile, readForUpload } from './files.js';
import { businessDate, checkDate, checkDocType, docIdFromPath, docIdProblem, objectKey, parseDocIdRule, safeFilename } from './layout.js';
import { forEachLimit, limiter, workerCount } from '../parallel.js';

export interface ArchivePutOptions {
  paths: string[];
  type: string;
  docId?: string;
  docIdFrom?: string;
  date?: string;
  anyType?: boolean;
  concurrency: number;
}

export interface PutFileResult {
  path: string;
  status: 'archived' | 'skipped' | 'failed';
  docId: string;
  version?: number;
  key?: string;
  size?: number;
  sha256?: string;
  /** Why it was skipped, or what failed. */
  detail?: string;
}

export interface ArchivePutReport {
  storage: string;
  archived: number;
  skipped: number;
  failed: number;
  /** Files found in directories that are not PDFs (without --any-type). */
  ignored: number;
  files: PutFileResult[];
}

interface PlannedFile {
  path: string;
  docId: string;
  /** When planned; the file is hashed again before upload. */
  size: number;
  contentType: string;
}

// Files per catalog transaction: one lock statement, one versions query, one listing of the key
// range before and after the uploads, one INSERT. Each document holds an advisory lock until the
// commit, and PostgreSQL's shared lock table (64 per connection by default) must hold them.
const BATCH_SIZE = 250;
// Two batches in flight: one uploads while the other rechecks and commits, so the uploads never
// wait for the catalog. Uploads of both share the --concurrency limit.
const BATCHES_IN_FLIGHT = 2;

/** Archives files as new documents or new versions; never overwrites an object. */
export async function runArchivePut(opts: ArchivePutOptions, ctx: Context): Promise<ArchivePutReport> {
  const type = checkDocType(opts.type);
  const date = opts.date ? checkDate(opts.date) : businessDate(ctx.clock(), ctx.config().timezone);
  const { planned, ignored } = await plan(opts);
  const [db, store] = await Promise.all([ctx.db(), ctx.store('archive')]);

  const results: PutFileResult[] = planned.map((p) => ({ path: p.path, status: 'failed', docId: p.docId, detail: 'not attempted (interrupted)' }));
  const progress = ctx.io.progress('archiving');
  let done = 0;
  // In key order, so that each batch's objects form one contiguous key range, listed in a few requests.
  const ordered = planned.map((p, index) => ({ ...p, index })).sort((a, b) => compareKeys(`${a.docId}/`, `${b.docId}/`));
  const batches: IndexedFile[][] = [];
  for (let i = 0; i < ordered.length; i += BATCH_SIZE) batches.push(ordered.slice(i, i + BATCH_SIZE));
  const clients: pg.Client[] = [];
  try {
    for (let i = 0; i < Math.min(BATCHES_IN_FLIGHT, batches.length); i += 1) clients.push(await db.connectClient('aj archive put'));
    const concurrency = workerCount(opts.concurrency, planned.length);
    const target: Omit<BatchTarget, 'client' | 'batchNumber'> = {
      type,
      date,
      store,
      concurrency,
      uploadSlot: limiter(concurrency),
      signal: ctx.signal,
      report: (index, result) => {
        results[index] = result;
        done += 1;
        progress.update(`${done}/${planned.length}`);
      },
    };
    await forEachLimit(batches.map((files, number) => ({ files, number })), clients.length, (batch, worker) => archiveBatch(batch.files, { ...target, client: clients[worker]!, batchNumber: batch.number }), ctx.signal);
  } finally {
    progress.done();
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
  const count = (status: PutFileResult['status']) => results.filter((r) => r.status === status).length;
  return { storage: store.url, archived: count('archived'), skipped: count('skipped'), failed: count('failed'), ignored, files: results };
}

/** Everything that can be refused is refused before the first upload (exit 2). */
async function plan(opts: ArchivePutOptions): Promise<{ planned: PlannedFile[]; ignored: number }> {
  const files = await collectFiles(opts.paths);
  if (opts.docId !== undefined && (files.length !== 1 || !files[0]!.explicit)) {
    throw new UsageError('--doc-id names one document, so it takes exactly one file', 'for several files or a directory use --doc-id-from');
  }
  const rule = parseDocIdRule(opts.docIdFrom ?? 'stem');
  const planned: PlannedFile[] = [];
  const refused: string[] = [];
  let ignored = 0;
  const inspected = new Array<{ pdf: boolean; size: number }>(files.length);
  await forEachLimit(files.map((file, i) => ({ file, i })), 16, async ({ file, i }) => void (inspected[i] = await inspectFile(file.path)));
  for (const [i, file] of files.entries()) {
    const { pdf, size } = inspected[i]!;
    if (!pdf && !opts.anyType) {
      if (file.explicit) refused.push(`${file.path} is not a PDF (no %PDF- signature)`);
      else ignored += 1;
      continue;
    }
    const docId = opts.docId ?? docIdFromPath(file.path, rule);
    const problem = docId === undefined ? 'the --doc-id-from rule does not match its name' : docIdProblem(docId);
    if (problem) refused.push(`${file.path}: document id ${JSON.stringify(docId ?? '')} ${problem}`);
    else planned.push({ path: file.path, docId: docId!, size, contentType: pdf ? 'application/pdf' : 'application/octet-stream' });
  }
  const seen = new Map<string, string>();
  for (const file of planned) {
    const other = seen.get(file.docId);
    if (other) refused.push(`${other} and ${file.path} both give document id ${file.docId}`);
    seen.set(file.docId, file.path);
  }
  if (refused.length > 0) {
    const more = refused.length > 3 ? ` and ${refused.length - 3} more` : '';
    throw new UsageError(`refused: ${refused.slice(0, 3).join('; ')}${more}`, 'nothing was archived; pass --any-type for non-PDF files, --doc-id or --doc-id-from for ids');
  }
  if (planned.length === 0) throw new UsageError(`no PDF found in ${opts.paths.join(', ')}`, 'pass PDF files, or --any-type');
  return { planned, ignored };
}

interface IndexedFile extends PlannedFile {
  index: number;
}

type HashedFile = IndexedFile & FileForUpload;

interface Upload extends HashedFile {
  version: number;
  filename: string;
  key: string;
  /** The server's ETag once stored: the recheck after the uploads must see the same. */
  etag?: string;
}

interface BatchTarget {
  type: string;
  date: string;
  store: ObjectStore;
  client: pg.Client;
  /** Earlier batches upload first. */
  batchNumber: number;
  concurrency: number;
  /** Shared by the batches in flight: at most --concurrency uploads at once. */
  uploadSlot: <T>(priority: number, work: () => Promise<T>) => Promise<T>;
  signal: AbortSignal;
  report: (index: number, result: PutFileResult) => void;
}

/**
 * One transaction for a batch, holding the documents' locks: skip identical content, else store
 * the next version at a key nothing occupies (listed before; If-None-Match where the server honours
 * it), recheck that every uploaded object is still the one stored (servers that ignore If-None-Match
 * let another writer replace it), then insert the rows. A row commits only after its object is
 * confirmed; an object whose row did not commit is adopted by the next run.
 */
async function archiveBatch(batch: IndexedFile[], target: BatchTarget): Promise<void> {
  const { type, store, client, concurrency, signal } = target;
  const reported = new Set<number>();
  const report = (index: number, result: PutFileResult) => {
    reported.add(index);
    target.report(index, result);
  };
  const fail = (file: IndexedFile, detail: string) => report(file.index, { path: file.path, status: 'failed', docId: file.docId, detail });

  // Hashed outside the transaction.
  const hashed: HashedFile[] = [];
  await forEachLimit(batch, concurrency, async (file) => {
    try {
      hashed.push({ ...file, ...(await readForUpload(file.path, file.size)) });
    } catch (error) {
      fail(file, describeError(error));
    }
  }, signal);
  if (hashed.length === 0) return;

  await client.query('BEGIN');
  try {
    await lockDocuments(client, type, hashed.map((f) => f.docId));
    const versions = await versionsOfEach(client, type, hashed.map((f) => f.docId));
    const uploads: Upload[] = [];
    for (const file of hashed) {
      const known = versions.get(file.docId) ?? [];
      const same = known.find((v) => v.sha256 === file.sha256 && v.size === file.size);
      const base = { path: file.path, docId: file.docId, size: file.size, sha256: file.sha256 };
      if (same) {
        report(file.index, { ...base, status: 'skipped', version: same.version, key: same.objectKey, detail: `already archived as version ${same.version}` });
        continue;
      }
      const version = (known.at(-1)?.version ?? 0) + 1;
      const filename = safeFilename(basename(file.path));
      uploads.push({ ...file, version, filename, key: objectKey({ type, docId: file.docId, date: target.date, version, filename }) });
    }

    const occupied = await store.findExisting(uploads.map((u) => u.key));
    const stored: Upload[] = [];
    await forEachLimit(uploads, concurrency, async (upload) => {
      try {
        upload.etag = await target.uploadSlot(target.batchNumber, () => storeUpload(upload, target, occupied.has(upload.key)));
        stored.push(upload);
      } catch (error) {
        fail(upload, describeError(error));
      }
    }, signal);

    // Each stored object was proven at its put (ETag = Content-MD5, or a HEAD). Storage that went
    // away since cannot be rechecked: those proofs stand, and the rows are recorded.
    const now = await store.findExisting(stored.map((u) => u.key)).catch(() => undefined);
    const confirmed: Upload[] = [];
    for (const upload of stored) {
      const listed = now?.get(upload.key);
      const same = !now || (listed !== undefined && listed.size === upload.size && (!upload.etag || !listed.etag || listed.etag === upload.etag));
      // A listing may show another ETag than the PUT answered (some servers with encryption): the
      // object's own SHA-256 metadata decides.
      const info = same ? listed : await store.head(upload.key).catch(() => undefined);
      if (same || (info && info.size === upload.size && info.metadata[SHA256_METADATA] === upload.sha256)) confirmed.push(upload);
      else fail(upload, `${store.url}/${upload.key} ${info ? 'was replaced by another writer' : 'vanished'} right after its upload; not recorded`);
    }
    await insertDocuments(client, confirmed.map((u) => ({
      docType: type,
      docId: u.docId,
      version: u.version,
      storageUrl: store.url,
      objectKey: u.key,
      filename: u.filename,
      originalFilename: basename(u.path),
      size: u.size,
      md5: u.md5,
      sha256: u.sha256,
      contentType: u.contentType,
    })));
    await client.query('COMMIT');
    for (const u of confirmed) report(u.index, { path: u.path, status: 'archived', docId: u.docId, version: u.version, key: u.key, size: u.size, sha256: u.sha256 });
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    for (const file of hashed) if (!reported.has(file.index)) fail(file, `not recorded: ${describeError(error)}`);
  }
}

/** Stores one file create-only, settling whatever already sits at its key; returns the server's ETag. */
async function storeUpload(upload: Upload, target: BatchTarget, listedAtKey: boolean): Promise<string | undefined> {
  const { store } = target;
  const listed = listedAtKey ? await store.head(upload.key) : undefined;
  if (listed) return settleOccupied(upload, target, listed);
  try {
    return await putObject(upload, target);
  } catch (error) {
    // Refused because an object appeared there since the listing: settle it like a listed one.
    const existing = await store.head(upload.key).catch(() => undefined);
    if (!existing) throw error;
    return settleOccupied(upload, target, existing, error);
  }
}

async function putObject(upload: Upload, target: BatchTarget): Promise<string | undefined> {
  const { type, store } = target;
  const result = await store.put(upload.key, upload.body(), {
    size: upload.size,
    sha256: upload.sha256,
    md5: upload.md5,
    ifNoneMatch: true,
    checkedAbsent: true,
    contentType: upload.contentType,
    metadata: { 'aj-doc-type': type, 'aj-doc-id': upload.docId, 'aj-version': String(upload.version) },
    signal: target.signal,
  });
  return result.etag;
}

/**
 * What to do with an object already at the key, found by the listing or by a refused put:
 * - this file's upload from a run that died before its commit: adopted (its ETag is returned);
 * - a damaged upload of this very file (aj's SHA-256 metadata, wrong size or MD5), or an empty
 *   object (what s3rver keeps when the connection drops before the body): nothing to lose there,
 *   so it is removed and the file uploaded again;
 * - anything else is not in the archive and is refused, never replaced.
 */
async function settleOccupied(upload: Upload, target: BatchTarget, existing: ObjectInfo, cause?: unknown): Promise<string | undefined> {
  const { store } = target;
  const ours = existing.metadata[SHA256_METADATA] === upload.sha256;
  const md5Differs = existing.etag !== undefined && /^[0-9a-f]{32}$/.test(existing.etag) && existing.etag !== upload.md5;
  if (ours && existing.size === upload.size && !md5Differs) return existing.etag;
  if (ours || existing.size === 0) {
    await store.delete(upload.key);
    return putObject(upload, target);
  }
  const why = cause ? ` (${describeError(cause)})` : '';
  throw new OperationError(`${store.url}/${upload.key} holds an object that is not in the archive${why}`, 'it is never overwritten; inspect it with `aj archive verify --orphans`');
}
