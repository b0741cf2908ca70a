import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import type pg from 'pg';
import type { Context } from '../context.js';
import { connectClient } from '../db/pool.js';
import { OperationError, UsageError, describeError } from '../errors.js';
import { type ObjectStore, SHA256_METADATA } from '../storage/store.js';
import { type ArchivedDocument, insertDocument, lockDocument, versionsOf } from './catalog.js';
import { collectFiles, hashFile, isPdf } from './files.js';
import { businessDate, checkDate, checkDocType, docIdFromPath, docIdProblem, objectKey, parseDocIdRule, safeFilename } from './layout.js';
import { forEachLimit, workerCount } from './parallel.js';

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
  contentType: string;
}

/** Archives files as new documents or new versions; never overwrites an object. */
export async function runArchivePut(opts: ArchivePutOptions, ctx: Context): Promise<ArchivePutReport> {
  const type = checkDocType(opts.type);
  const date = opts.date ? checkDate(opts.date) : businessDate(ctx.clock(), ctx.config().timezone);
  const { planned, ignored } = await plan(opts);

  const db = await ctx.db();
  const store = await ctx.store('archive');
  // One connection per worker: each holds a transaction (and the document's lock) across its upload.
  const clients: pg.Client[] = [];
  const results: PutFileResult[] = planned.map((p) => ({ path: p.path, status: 'failed', docId: p.docId, detail: 'not attempted (interrupted)' }));
  const progress = ctx.io.progress('archiving');
  let done = 0;
  try {
    for (let i = 0; i < workerCount(opts.concurrency, planned.length); i += 1) clients.push(await connectClient(db.target, 'aj archive put'));
    await forEachLimit(planned.map((p, index) => ({ ...p, index })), clients.length, async (file, worker) => {
      try {
        results[file.index] = await archiveOne(file, { type, date, store, client: clients[worker]!, signal: ctx.signal });
      } catch (error) {
        results[file.index] = { path: file.path, status: 'failed', docId: file.docId, detail: describeError(error) };
      }
      done += 1;
      progress.update(`${done}/${planned.length}`);
    }, ctx.signal);
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
  for (const file of files) {
    const pdf = await isPdf(file.path);
    if (!pdf && !opts.anyType) {
      if (file.explicit) refused.push(`${file.path} is not a PDF (no %PDF- signature)`);
      else ignored += 1;
      continue;
    }
    const docId = opts.docId ?? docIdFromPath(file.path, rule);
    const problem = docId === undefined ? 'the --doc-id-from rule does not match its name' : docIdProblem(docId);
    if (problem) refused.push(`${file.path}: document id ${JSON.stringify(docId ?? '')} ${problem}`);
    else planned.push({ path: file.path, docId: docId!, contentType: pdf ? 'application/pdf' : 'application/octet-stream' });
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

interface ArchiveTarget {
  type: string;
  date: string;
  store: ObjectStore;
  client: pg.Client;
  signal: AbortSignal;
}

/**
 * Under the document's lock: skip identical content, else store the next version at a key
 * nothing occupies (the store sends If-None-Match, looks first for servers that ignore it, and
 * rechecks after), then insert the row. The row commits only after the object is verified.
 */
async function archiveOne(file: PlannedFile, target: ArchiveTarget): Promise<PutFileResult> {
  const { type, store, client } = target;
  const hash = await hashFile(file.path);
  const base = { path: file.path, docId: file.docId, size: hash.size, sha256: hash.sha256 };
  await client.query('BEGIN');
  try {
    await lockDocument(client, type, file.docId);
    const versions = await versionsOf(client, type, file.docId);
    const same = versions.find((v) => v.sha256 === hash.sha256 && v.size === hash.size);
    if (same) {
      await client.query('COMMIT');
      return { ...base, status: 'skipped', version: same.version, key: same.objectKey, detail: `already archived as version ${same.version}` };
    }
    const version = (versions.at(-1)?.version ?? 0) + 1;
    const filename = safeFilename(basename(file.path));
    const key = objectKey({ type, docId: file.docId, date: target.date, version, filename });
    await store.put(key, createReadStream(file.path, { highWaterMark: 1 << 20 }), {
      size: hash.size,
      sha256: hash.sha256,
      md5: hash.md5,
      ifNoneMatch: true,
      contentType: file.contentType,
      metadata: { 'aj-doc-type': type, 'aj-doc-id': file.docId, 'aj-version': String(version) },
      signal: target.signal,
    }).catch((error) => occupiedBy(store, key, hash, error));
    const row: ArchivedDocument = await insertDocument(client, {
      docType: type,
      docId: file.docId,
      version,
      storageUrl: store.url,
      objectKey: key,
      filename,
      originalFilename: basename(file.path),
      size: hash.size,
      md5: hash.md5,
      sha256: hash.sha256,
      contentType: file.contentType,
    });
    await client.query('COMMIT');
    return { ...base, status: 'archived', version: row.version, key: row.objectKey };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * After a failed put: an object with exactly this content is this file's upload from a run that
 * died before its commit (adopted); any other object at the key is refused, never replaced.
 */
async function occupiedBy(store: ObjectStore, key: string, hash: { size: number; sha256: string }, error: unknown): Promise<void> {
  const existing = await store.head(key).catch(() => undefined);
  if (!existing) throw error;
  if (existing.size === hash.size && existing.metadata[SHA256_METADATA] === hash.sha256) return;
  throw new OperationError(`${store.url}/${key} holds an object that is not in the archive (${describeError(error)})`, 'it is never overwritten; inspect it with `aj archive verify --orphans`');
}
