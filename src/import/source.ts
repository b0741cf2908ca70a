import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { UsageError } from '../errors.js';
import { type Detected, type Encoding, detect } from './detect.js';

const SAMPLE_BYTES = 64 * 1024;

export interface CsvSource {
  detected: Detected;
  /** The file's bytes as they are read; the hash is complete once the stream has ended. */
  bytes: Readable;
  sha256(): string;
}

/**
 * Opens a file (or stdin for "-"), reads just enough to detect its encoding and delimiter,
 * and hands back one stream of the whole content, hashed on the way through.
 */
export async function openCsv(path: string, overrides: { encoding?: Encoding; delimiter?: string }, stdin: Readable = process.stdin): Promise<CsvSource> {
  const raw = path === '-' ? stdin : createReadStream(path, { highWaterMark: 1024 * 1024 });
  const chunks = raw[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let headBytes = 0;
  try {
    while (headBytes < SAMPLE_BYTES) {
      const next = await chunks.next();
      if (next.done) break;
      const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value as string);
      head.push(chunk);
      headBytes += chunk.length;
    }
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    throw new UsageError(`cannot read ${path}: ${e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'is a directory' : e.message}`, 'check the path, or pass - to read standard input');
  }
  const detected = detect(Buffer.concat(head).subarray(0, SAMPLE_BYTES), overrides);
  const hash = createHash('sha256');
  async function* all(): AsyncGenerator<Buffer> {
    for (const chunk of head) {
      hash.update(chunk);
      yield chunk;
    }
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
      const chunk = next.value as Buffer;
      hash.update(chunk);
      yield chunk;
    }
  }
  let digest: string | undefined;
  return {
    detected,
    bytes: Readable.from(all(), { objectMode: false }),
    sha256: () => (digest ??= hash.digest('hex')),
  };
}
