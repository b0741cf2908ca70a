import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { VerificationError } from '../errors.js';
import type { PutOptions } from './store.js';

/**
 * A pass-through that counts bytes and computes SHA-256 (and MD5 only when asked: on a
 * gigabyte dump it is a second of CPU taken from pg_dump's compression on a small server).
 */
export class HashingStream extends Transform {
  private readonly sha = createHash('sha256');
  private readonly md5Hash;
  bytes = 0;
  sha256 = '';
  md5?: string;

  constructor(
    private readonly beforeEnd?: () => Promise<void>,
    private readonly onProgress?: (bytes: number) => void,
    withMd5 = false,
    private readonly onDigest?: (digest: { bytes: number; sha256: string }) => Promise<void>,
  ) {
    super({ highWaterMark: 1 << 20 });
    this.md5Hash = withMd5 ? createHash('md5') : undefined;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.sha.update(chunk);
    this.md5Hash?.update(chunk);
    this.bytes += chunk.length;
    this.onProgress?.(this.bytes);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    const finish = async () => {
      this.sha256 = this.sha.digest('hex');
      this.md5 = this.md5Hash?.digest('hex');
      // The storage sees the end only after this: what it completes is what was recorded here.
      await this.onDigest?.({ bytes: this.bytes, sha256: this.sha256 });
    };
    (async () => {
      await this.beforeEnd?.();
      await finish();
    })().then(() => done(), (error: Error) => done(error));
  }
}

export async function sha256Of(stream: AsyncIterable<Buffer> | Iterable<Buffer>): Promise<{ sha256: string; md5: string; size: number }> {
  const sha = createHash('sha256');
  const md5 = createHash('md5');
  let size = 0;
  for await (const chunk of stream) {
    sha.update(chunk);
    md5.update(chunk);
    size += chunk.length;
  }
  return { sha256: sha.digest('hex'), md5: md5.digest('hex'), size };
}

/** What was sent: byte count and digests. */
export interface Digest {
  bytes: number;
  sha256: string;
  md5?: string;
}

/** The streamed bytes must match what the caller said it was sending. */
export function checkExpected(key: string, hashing: Digest, options: PutOptions): void {
  if (options.size !== undefined && options.size !== hashing.bytes) {
    throw new VerificationError(`${key}: expected ${options.size} bytes, read ${hashing.bytes}`, 'the source changed while it was stored');
  }
  if (options.sha256 && options.sha256 !== hashing.sha256) {
    throw new VerificationError(`${key}: SHA-256 of the data differs from the expected one`, 'the source changed while it was stored');
  }
  if (options.md5 && options.md5 !== hashing.md5) {
    throw new VerificationError(`${key}: MD5 of the data differs from the expected one`, 'the source changed while it was stored');
  }
}

