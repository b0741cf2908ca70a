import { randomBytes } from 'node:crypto';
import { createReadStream, readFileSync, readdirSync, statSync } from 'node:fs';
import { type FileHandle, link, mkdir, open, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { OperationError, VerificationError } from '../errors.js';
import { DurableFileSink, hashWrittenFile } from './file-sink.js';
import { type Digest, HashingStream, checkExpected } from './hashing.js';
import { assertSafeKey } from './location.js';
import { ObjectNotFoundError, type ObjectInfo, type ObjectStore, type PartialWrite, type PutOptions, type PutResult, SHA256_METADATA, compareKeys } from './store.js';

const META_SUFFIX = '.ajmeta';
const TMP_MARKER = '.ajtmp-';

/**
 * Local directory storage. Writes are atomic (temp file, fsync, rename, fsync of the directory),
 * so a crash never leaves a half-written object under its final name. Metadata lives in a sidecar.
 */
export class FsStore implements ObjectStore {
  readonly kind = 'file' as const;
  readonly url: string;

  constructor(private readonly root: string) {
    this.url = `file://${root}`;
  }

  private pathOf(key: string): string {
    assertSafeKey(key);
    return join(this.root, ...key.split('/'));
  }

  async put(key: string, content: Readable | Buffer, options: PutOptions = {}): Promise<PutResult> {
    const body = Buffer.isBuffer(content) ? Readable.from([content], { objectMode: false }) : content;
    const hashing = new HashingStream(options.beforeEnd, options.onProgress, Boolean(options.md5), options.onDigest);
    return this.write(key, options, async (file) => {
      // A signal of its own per put: many concurrent puts listening on the command's one signal print MaxListenersExceededWarning.
      // The sink flushes to disk as it writes and ends with an fsync.
      await pipeline(body, hashing, new DurableFileSink(file), { signal: options.signal && AbortSignal.any([options.signal]) });
      return hashing;
    });
  }

  /**
   * The producer (a child process) writes into the temporary file itself, without a copy through
   * Node; once `beforeEnd` says the producer succeeded, the file is hashed and completed as put()
   * completes.
   */
  async putWritten(key: string, produce: (fd: number) => Promise<void>, options: PutOptions = {}): Promise<PutResult> {
    return this.write(key, options, async (file) => {
      await produce(file.fd);
      const digest = await hashWrittenFile(file, { done: options.beforeEnd?.() ?? Promise.resolve(), onProgress: options.onProgress, signal: options.signal });
      await options.onDigest?.(digest);
      await file.sync();
      return digest;
    });
  }

  /** Temporary file, content, checks, metadata, then the final name (atomic, fsynced). */
  private async write(key: string, options: PutOptions, fill: (file: FileHandle) => Promise<Digest>): Promise<PutResult> {
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${dirname(path)}/${TMP_MARKER}${randomBytes(6).toString('hex')}`;
    let digest: Digest;
    try {
      // Read and write: putWritten reads back what its producer wrote.
      const file = await open(tmp, 'wx+', 0o600);
      try {
        digest = await fill(file);
      } finally {
        await file.close();
      }
      checkExpected(key, digest, options);
      const metadata = { ...options.metadata, [SHA256_METADATA]: digest.sha256, 'content-type': options.contentType ?? 'application/octet-stream' };
      await writeFile(`${tmp}${META_SUFFIX}`, JSON.stringify(metadata), { mode: 0o600 });
      await fsyncPath(`${tmp}${META_SUFFIX}`);
      if (options.ifNoneMatch) {
        // link() fails if the name exists: an atomic "create only".
        await link(tmp, path).catch((error: NodeJS.ErrnoException) => {
          if (error.code === 'EEXIST') throw new OperationError(`object already exists: ${key}`, 'archived objects are never overwritten');
          throw error;
        });
        await unlink(tmp);
      } else {
        await rename(tmp, path);
      }
      await rename(`${tmp}${META_SUFFIX}`, `${path}${META_SUFFIX}`);
      await fsyncPath(dirname(path));
    } catch (error) {
      await rm(tmp, { force: true });
      await rm(`${tmp}${META_SUFFIX}`, { force: true });
      throw error;
    }
    const info = await this.head(key);
    if (!info || info.size !== digest.bytes) {
      throw new VerificationError(`stored object ${key} has ${info?.size ?? 'no'} bytes, ${digest.bytes} were written`, 'check the disk');
    }
    return { key, size: digest.bytes, sha256: digest.sha256, ...(digest.md5 ? { md5: digest.md5 } : {}) };
  }

  async get(key: string): Promise<Readable> {
    const path = this.pathOf(key);
    await stat(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') throw new ObjectNotFoundError(`object not found: ${this.url}/${key}`, 'check the key with `aj backup list --remote`');
      throw error;
    });
    return createReadStream(path, { highWaterMark: 1 << 20 });
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const path = this.pathOf(key);
    try {
      const info = await stat(path);
      if (!info.isFile()) return undefined;
      const metadata = await readFile(`${path}${META_SUFFIX}`, 'utf8').then((t) => JSON.parse(t) as Record<string, string>, () => ({}));
      return { key, size: info.size, lastModified: info.mtime, metadata };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /**
   * Walks only the prefix's directory, with synchronous calls: listing thousands of files (archive
   * sync runs every few minutes over years of PDFs) is then one tight loop instead of thousands of
   * trips through libuv's small thread pool, about as fast as find(1).
   */
  async *list(prefix = '', startAfter?: string): AsyncIterable<ObjectInfo> {
    const files: string[] = [];
    walk(join(this.root, ...prefix.slice(0, prefix.lastIndexOf('/') + 1).split('/').filter(Boolean)), files);
    const names = new Set(files.map((file) => relative(this.root, file).split(sep).join('/')));
    const keys = [...names]
      .filter((key) => key.startsWith(prefix) && !key.endsWith(META_SUFFIX) && !key.includes(TMP_MARKER) && (startAfter === undefined || compareKeys(key, startAfter) > 0))
      .sort(compareKeys);
    for (const key of keys) {
      const path = join(this.root, ...key.split('/'));
      const info = statSync(path, { throwIfNoEntry: false });
      if (!info?.isFile()) continue;
      yield { key, size: info.size, lastModified: info.mtime, metadata: names.has(`${key}${META_SUFFIX}`) ? readMetadata(`${path}${META_SUFFIX}`) : {} };
    }
  }

  async findExisting(keys: readonly string[]): Promise<Map<string, ObjectInfo>> {
    const found = new Map<string, ObjectInfo>();
    for (const key of keys) {
      const info = await this.head(key);
      if (info) found.set(key, info);
    }
    return found;
  }

  async delete(key: string): Promise<void> {
    const path = this.pathOf(key);
    await rm(path, { force: true });
    await rm(`${path}${META_SUFFIX}`, { force: true });
  }

  async deleteMany(keys: string[]): Promise<void> {
    for (const key of keys) await this.delete(key);
  }

  /** Temporary files of writes that never reached their final name (a crash, kill -9), oldest first. */
  async listPartials(prefix: string): Promise<PartialWrite[]> {
    const files: string[] = [];
    await walk(join(this.root, ...prefix.slice(0, prefix.lastIndexOf('/') + 1).split('/').filter(Boolean)), files);
    const found: PartialWrite[] = [];
    for (const file of files) {
      const key = relative(this.root, file).split(sep).join('/');
      if (!key.startsWith(prefix) || !basename(file).startsWith(TMP_MARKER)) continue;
      const info = await stat(file).catch(() => undefined);
      if (info) found.push({ key, id: file, startedAt: info.mtime });
    }
    return found.sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime());
  }

  async removePartial(partial: PartialWrite): Promise<void> {
    if (!basename(partial.id).startsWith(TMP_MARKER) || relative(this.root, partial.id).startsWith('..')) throw new OperationError(`not a temporary file of ${this.url}: ${partial.id}`);
    await rm(partial.id, { force: true });
  }
}

/** Flushes a file (or a directory's entries) to disk. */
export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function walk(dir: string, out: string[]): void {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return;
    throw error;
  }
  for (const entry of entries) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) walk(full, out);
    else if (entry.isFile()) out.push(full);
  }
}

function readMetadata(path: string): Record<string, string> {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>;
  } catch {
    return {};
  }
}
