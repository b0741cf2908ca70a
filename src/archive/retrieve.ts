import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, statSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Context } from '../context.js';
import { ConfigError, OperationError, UsageError } from '../errors.js';
import { openVerified } from '../storage/verified.js';
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
 * Streams one archived version out through the checked read (size and SHA-256 of the row). A file
 * is written under a temporary name and renamed only once it matched, so a corrupt copy never
 * takes the real name.
 */
const isDirectory = (path: string) => statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;

/** The document written, and the file it went to (under a directory given as -o, its archived name). */
export async function runArchiveGet(opts: ArchiveGetOptions, ctx: Context): Promise<ArchivedDocument & { writtenTo?: string }> {
  const type = checkDocType(opts.type);
  const docId = checkDocId(opts.docId);
  if (opts.output === undefined && ctx.io.stdoutIsTTY) throw new UsageError('refusing to write a document to the terminal', 'pass -o FILE or redirect stdout');
  if (opts.output !== undefined && !isDirectory(opts.output) && existsSync(opts.output) && !opts.force) throw new UsageError(`${opts.output} already exists`, 'pass --force to replace it');
  const doc = await findVersion(await ctx.db(), type, docId, opts.version);
  if (!doc) {
    const which = opts.version === undefined ? '' : ` version ${opts.version}`;
    throw new OperationError(`no archived ${type} ${docId}${which}`, `see \`aj archive list --type ${type} --doc-id ${docId}\``);
  }
  // -o DIR: the document goes into the directory under its archived file name.
  if (opts.output !== undefined && isDirectory(opts.output)) {
    const output = join(opts.output, doc.filename);
    if (isDirectory(output)) throw new UsageError(`${output} is a directory`, 'pass -o with a file name');
    if (existsSync(output) && !opts.force) throw new UsageError(`${output} already exists`, 'pass --force to replace it');
    opts = { ...opts, output };
  }
  const store = await ctx.store('archive');
  if (doc.storageUrl !== store.url) {
    throw new ConfigError(`${type} ${docId} version ${doc.version} is archived in ${doc.storageUrl}, but ARCHIVE_BUCKET points to ${store.url}`, 'set ARCHIVE_BUCKET to the location it was archived in');
  }
  const read = (consequence: string) => openVerified(store, doc.objectKey, doc, {
    signal: ctx.signal,
    label: `${type} ${docId} version ${doc.version}`,
    consequence,
    hint: 'restore it from another copy and run `aj archive verify --deep`',
  });
  if (opts.output === undefined) {
    await pipeline(await read('the bytes written to stdout are not the archived document: discard them'), ctx.io.stdout, { end: false });
    return doc;
  }
  const target = resolve(opts.output);
  const partial = join(dirname(target), `.${basename(target)}.ajpart-${randomBytes(4).toString('hex')}`);
  try {
    // Written under a temporary name, renamed only once the whole object was checked.
    await pipeline(await read('no file was written'), createWriteStream(partial, { flags: 'wx', mode: 0o600, flush: true }));
    await rename(partial, target);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  return { ...doc, writtenTo: opts.output };
}
