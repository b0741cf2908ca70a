import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { Context } from '../context.js';
import { ConfigError, OperationError, UsageError, VerificationError } from '../errors.js';
import { type ArchivedDocument, findDocuments, findVersion } from './catalog.js';
import { checkDate, checkDocId, checkDocType } from './layout.js';

export interface ArchiveListOptions {
  type?: string;
  docId?: string;
  since?: string;
  limit?: number;
}

/** Archived documents, newest first; every version is its own row. */
export async function runArchiveList(opts: ArchiveListOptions, ctx: Context): Promise<ArchivedDocument[]> {
  return findDocuments(await ctx.db(), {
    type: opts.type === undefined ? undefined : checkDocType(opts.type),
    docId: opts.docId === undefined ? undefined : checkDocId(opts.docId),
    since: opts.since === undefined ? undefined : checkDate(opts.since, '--since'),
    timeZone: ctx.config().timezone,
    limit: opts.limit,
  });
}

export interface ArchiveGetOptions {
  type: string;
  docId: string;
  version?: number;
  /** A file to write; stdout when undefined. */
  output?: string;
  force?: boolean;
}

/**
 * Streams one archived version out, hashing on the way. A file is written under a temporary
 * name and renamed only once its SHA-256 matches, so a corrupt copy never takes the real name.
 */
export async function runArchiveGet(opts: ArchiveGetOptions, ctx: Context): Promise<ArchivedDocument> {
  const type = checkDocType(opts.type);
  const docId = checkDocId(opts.docId);
  if (opts.output === undefined && ctx.io.stdoutIsTTY) throw new UsageError('refusing to write a document to the terminal', 'pass -o FILE or redirect stdout');
  if (opts.output !== undefined && existsSync(opts.output) && !opts.force) throw new UsageError(`${opts.output} already exists`, 'pass --force to replace it');
  const doc = await findVersion(await ctx.db(), type, docId, opts.version);
  if (!doc) {
    const which = opts.version === undefined ? '' : ` version ${opts.version}`;
    throw new OperationError(`no archived ${type} ${docId}${which}`, `see \`aj archive list --type ${type} --doc-id ${docId}\``);
  }
  const store = await ctx.store('archive');
  if (doc.storageUrl !== store.url) {
    throw new ConfigError(`${type} ${docId} version ${doc.version} is archived in ${doc.storageUrl}, but ARCHIVE_BUCKET points to ${store.url}`, 'set ARCHIVE_BUCKET to the location it was archived in');
  }
  const source = await store.get(doc.objectKey, { signal: ctx.signal });
  if (opts.output === undefined) {
    const actual = await copy(source, (chunk) => writeTo(ctx.io.stdout, chunk));
    check(doc, actual, 'the bytes written to stdout are not the archived document: discard them');
    return doc;
  }
  const target = resolve(opts.output);
  const partial = join(dirname(target), `.${basename(target)}.ajpart-${randomBytes(4).toString('hex')}`);
  const handle = await open(partial, 'wx', 0o600);
  try {
    const actual = await copy(source, async (chunk) => void (await handle.write(chunk)));
    await handle.sync();
    await handle.close();
    check(doc, actual, 'no file was written');
    await rename(partial, target);
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(partial, { force: true });
    throw error;
  }
  return doc;
}

async function copy(source: Readable, write: (chunk: Buffer) => Promise<void>): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of source as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
    await write(chunk);
  }
  return { size, sha256: hash.digest('hex') };
}

function writeTo(stream: Writable, chunk: Buffer): Promise<void> {
  if (stream.write(chunk)) return Promise.resolve();
  return new Promise((resolve) => stream.once('drain', resolve));
}

function check(doc: ArchivedDocument, actual: { size: number; sha256: string }, consequence: string): void {
  if (actual.size === doc.size && actual.sha256 === doc.sha256) return;
  const what = actual.size !== doc.size ? `${actual.size} bytes instead of ${doc.size}` : 'a different SHA-256';
  throw new VerificationError(`${doc.docType} ${doc.docId} version ${doc.version} (${doc.storageUrl}/${doc.objectKey}) has ${what}; ${consequence}`, 'restore it from another copy and run `aj archive verify --deep`');
}
