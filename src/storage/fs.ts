import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { link, mkdir, open, readFile, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { OperationError, VerificationError } from '../errors.js';
import { HashingStream, checkExpected } from './hashing.js';
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
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${dirname(path)}/${TMP_MARKER}${randomBytes(6).toString('hex')}`;
    const hashing = new HashingStream(options.beforeEnd, options.onProgress, Boolean(options.md5), options.onDigest);
    try {
      await pipeline(body, hashing, createWriteStream(tmp, { flags: 'wx', mode: 0o600 }), { signal: options.signal });
      await fsyncPath(tmp);
      checkExpected(key, hashing, options);
      const metadata = { ...options.metadata, [SHA256_METADATA]: hashing.sha256, 'content-type': options.contentType ?? 'application/octet-stream' };
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
    if (!info || info.size !== hashing.bytes) {
      throw new VerificationError(`stored object ${key} has ${info?.size ?? 'no'} bytes, ${hashing.bytes} were written`, 'check the disk');
    }
    return { key, size: hashing.bytes, sha256: hashing.sha256, ...(hashing.md5 ? { md5: hashing.md5 } : {}) };
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

  async *list(prefix = '', startAfter?: string): AsyncIterable<ObjectInfo> {
    const files: string[] = [];
    await walk(this.root, files);
    const keys = files.map((file) => relative(this.root, file).split(sep).join('/')).sort(compareKeys);
    for (const key of keys) {
      if (!key.startsWith(prefix) || key.endsWith(META_SUFFIX) || key.includes(TMP_MARKER)) continue;
      if (startAfter !== undefined && compareKeys(key, startAfter) <= 0) continue;
      const info = await this.head(key);
      if (info) yield info;
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

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function walk(dir: string, out: string[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  for (const entry of entries) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) await walk(full, out);
    else if (entry.isFile()) out.push(full);
  }
}

