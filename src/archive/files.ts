import { createReadStream } from 'node:fs';
import { open, readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { UsageError } from '../errors.js';
import { sha256Of } from '../storage/hashing.js';
import type { ObjectStore } from '../storage/store.js';

const PDF_SIGNATURE = Buffer.from('%PDF-');

/** Whether the file starts with `%PDF-` (the content decides, not the extension), and its size. */
export async function inspectFile(path: string): Promise<{ pdf: boolean; size: number }> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(PDF_SIGNATURE.length);
    const [{ bytesRead }, { size }] = await Promise.all([handle.read(head, 0, head.length, 0), handle.stat()]);
    return { pdf: bytesRead === head.length && head.equals(PDF_SIGNATURE), size };
  } finally {
    await handle.close();
  }
}

export interface SourceFile {
  path: string;
  /** Named on the command line (a refusal is an error) rather than found in a directory (skipped). */
  explicit: boolean;
}

/** Expands directories (recursively, sorted); files are returned as given. */
export async function collectFiles(paths: string[]): Promise<SourceFile[]> {
  const out: SourceFile[] = [];
  for (const path of paths) {
    const info = await stat(path).catch(() => undefined);
    if (!info) throw new UsageError(`no such file or directory: ${path}`, 'check the path');
    if (info.isDirectory()) {
      const found: string[] = [];
      await walk(path, found);
      out.push(...found.sort().map((p) => ({ path: p, explicit: false })));
    } else if (info.isFile()) {
      out.push({ path, explicit: true });
    } else {
      throw new UsageError(`not a regular file: ${path}`, 'pass files or directories');
    }
  }
  return out;
}

async function walk(dir: string, out: string[]): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) await walk(full, out);
    else if (entry.isFile() && !entry.name.startsWith('.')) out.push(full);
  }
}

// Files up to this size are read once and uploaded from memory (a batch holds at most a few
// hundred: tens of MB); larger ones are read twice, to hash and then to upload.
const IN_MEMORY_LIMIT = 256 * 1024;

export interface FileForUpload {
  size: number;
  md5: string;
  sha256: string;
  /** The content again, for the upload: in memory when small. */
  body: () => Readable | Buffer;
}

/** Where a file's content is read: a local path, or an object in another store (archive sync). */
export type FileSource = { path: string } | { store: ObjectStore; key: string };

function openSource(source: FileSource): Readable {
  if ('path' in source) return createReadStream(source.path, { highWaterMark: 1 << 20 });
  const { store, key } = source;
  // Synchronous for the upload's body(); the request starts when the stream is first read.
  return Readable.from((async function* () {
    yield* await store.get(key);
  })(), { objectMode: false });
}

/** Size, MD5 and SHA-256 of a file, known before the upload: Content-MD5 must precede the body. */
export async function readForUpload(source: FileSource, sizeWhenPlanned: number): Promise<FileForUpload> {
  if (sizeWhenPlanned <= IN_MEMORY_LIMIT) {
    const data = 'path' in source ? await readFile(source.path) : Buffer.concat(await openSource(source).toArray());
    // Grown since it was planned: read it as a large file.
    if (data.length <= IN_MEMORY_LIMIT) return { ...(await sha256Of([data])), body: () => data };
  }
  const stream = () => openSource(source);
  return { ...(await sha256Of(stream())), body: stream };
}
