import { basename } from 'node:path';
import type pg from 'pg';
import type { Context } from '../context.js';
import { OperationError, describeError } from '../errors.js';
import { type ObjectInfo, type ObjectStore, SHA256_METADATA, compareKeys } from '../storage/store.js';
import { insertDocuments, lockDocuments, versionsOfEach } from './catalog.js';
import { type FileForUpload, type FileSource, readForUpload } from './files.js';
import { objectKey, safeFilename } from './layout.js';
import { forEachLimit, limiter, workerCount } from '../parallel.js';

/** One file to archive, its document already decided (archive put, archive sync). */
export interface ArchiveFile {
  /** As reported: the local path, or the key in the source. */
  path: string;
  source: FileSource;
  type: string;
  docId: string;
  /** Business date (YYYY-MM-DD) that picks the year/month folder. */
  date: string;
  /** When planned; the file is hashed again before upload. */
  size: number;
  contentType: string;
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

// Files per catalog transaction: one lock statement, one versions query, one listing of the key
// range before and after the uploads, one INSERT. Each document holds an advisory lock until the
// commit, and PostgreSQL's shared lock table (64 per connection by default) must hold them.
const BATCH_SIZE = 250;
// Two batches in flight: one uploads while the other rechecks and commits, so the uploads never
// wait for the catalog. Uploads of both share the --concurrency limit.
const BATCHES_IN_FLIGHT = 2;

/**
 * Archives files as new documents or new versions, never overwriting an object; the results in the
 * order of `files`. A document must appear once: its next version is decided per batch.
 */
export async function archiveFiles(ctx: Context, files: readonly ArchiveFile[], options: { concurrency: number }): Promise<{ storage: string; results: PutFileResult[] }> {
  const [db, store] = await Promise.all([ctx.db(), ctx.store('archive')]);
  const results: PutFileResult[] = files.map((f) => ({ path: f.path, status: 'failed', docId: f.docId, detail: 'not attempted (interrupted)' }));
  if (files.length === 0) return { storage: store.url, results };
  const progress = ctx.io.progress('archiving');
  let done = 0;
  // By type (a batch locks and versions documents of one type), then in key order, so that each
  // batch's objects form one contiguous key range, listed in a few requests.
  const ordered = files.map((f, index) => ({ ...f, index })).sort((a, b) => compareKeys(a.type, b.type) || compareKeys(`${a.docId}/`, `${b.docId}/`));
  const batches: IndexedFile[][] = [];
  for (let i = 0; i < ordered.length; ) {
    const end = Math.min(i + BATCH_SIZE, ordered.length);
    const batch = [ordered[i]!];
    for (i += 1; i < end && ordered[i]!.type === batch[0]!.type; i += 1) batch.push(ordered[i]!);
    batches.push(batch);
  }
  const clients: pg.Client[] = [];
  try {
    for (let i = 0; i < Math.min(BATCHES_IN_FLIGHT, batches.length); i += 1) clients.push(await db.connectClient('aj archive'));
    const concurrency = workerCount(options.concurrency, files.length);
    const target: Omit<BatchTarget, 'client' | 'batchNumber' | 'type'> = {
      store,
      concurrency,
      uploadSlot: limiter(concurrency),
      signal: ctx.signal,
      report: (index, result) => {
        results[index] = result;
        done += 1;
        progress.update(`${done}/${files.length}`);
      },
    };
    await forEachLimit(
      batches.map((batch, number) => ({ batch, number })),
      clients.length,
      ({ batch, number }, worker) => archiveBatch(batch, { ...target, type: batch[0]!.type, client: clients[worker]!, batchNumber: number }),
      ctx.signal,
    );
  } finally {
    progress.done();
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
  return { storage: store.url, results };
}

interface IndexedFile extends ArchiveFile {
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
  /** Every file of a batch has this type. */
  type: string;
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
      hashed.push({ ...file, ...(await readForUpload(file.source, file.size)) });
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
      uploads.push({ ...file, version, filename, key: objectKey({ type, docId: file.docId, date: file.date, version, filename }) });
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
