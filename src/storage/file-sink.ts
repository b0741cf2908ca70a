import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Writable } from 'node:stream';

// Written data is flushed to disk in the background every this many bytes: the fsync that ends the
// write then waits for the last stretch only, not for a whole dump's writeback at the end of the run.
const FLUSH_EVERY = 64 * 1024 * 1024;

/**
 * Writes a stream into an open file, a batch of chunks per writev call, flushing to disk as it goes;
 * it finishes only once every byte is on disk (fsync).
 */
export class DurableFileSink extends Writable {
  private unflushed = 0;
  private flushing: Promise<void> = Promise.resolve();
  private flushError: Error | undefined;

  constructor(private readonly handle: FileHandle) {
    // Room for a few MiB while a write is in flight: the next call then takes them all at once.
    super({ highWaterMark: 4 << 20 });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.writeAll([chunk]).then(() => done(), done);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, done: (error?: Error | null) => void): void {
    this.writeAll(chunks.map((c) => c.chunk)).then(() => done(), done);
  }

  override _final(done: (error?: Error | null) => void): void {
    this.flushing
      .then(() => {
        if (this.flushError) throw this.flushError;
        return this.handle.sync();
      })
      .then(() => done(), done);
  }

  private async writeAll(buffers: Buffer[]): Promise<void> {
    if (this.flushError) throw this.flushError;
    let pending = buffers;
    while (pending.length > 0) {
      const { bytesWritten } = await this.handle.writev(pending);
      pending = after(pending, bytesWritten);
    }
    this.unflushed += buffers.reduce((sum, b) => sum + b.length, 0);
    if (this.unflushed >= FLUSH_EVERY) {
      this.unflushed = 0;
      // One flush at a time; a failure is reported by the next write or by the end.
      this.flushing = this.flushing.then(() => this.handle.datasync()).catch((error: Error) => {
        this.flushError ??= error;
      });
    }
  }
}

/** What is left of `buffers` once `written` bytes of them went out (a short write continues there). */
function after(buffers: Buffer[], written: number): Buffer[] {
  let skip = written;
  let i = 0;
  while (i < buffers.length && skip >= buffers[i]!.length) skip -= buffers[i++]!.length;
  if (i === buffers.length) return [];
  return [buffers[i]!.subarray(skip), ...buffers.slice(i + 1)];
}

// How often the size of a file being written is looked at (progress, flushing to disk).
const WATCH_MS = 100;

/**
 * Watches a file another process writes (pg_dump's stdout is the file) until `done` resolves,
 * reporting its size and flushing it to disk as it grows, then reads it whole for its SHA-256.
 * The hash comes last on purpose: pg_dump rewrites its table of contents at the start of a seekable
 * output when it ends. `done` rejecting (the producer failed) stops it.
 */
export async function hashWrittenFile(file: FileHandle, options: { done: Promise<void>; onProgress?: (bytes: number) => void; signal?: AbortSignal }): Promise<{ bytes: number; sha256: string }> {
  let finished = false;
  const done = options.done.then(() => {
    finished = true;
  });
  done.catch(() => undefined);
  let flushedAt = 0;
  while (!finished) {
    options.signal?.throwIfAborted();
    await Promise.race([done, sleep(WATCH_MS)]);
    const { size } = await file.stat();
    options.onProgress?.(size);
    if (size - flushedAt >= FLUSH_EVERY) {
      flushedAt = size;
      await file.datasync();
    }
  }
  const sha = createHash('sha256');
  const buffer = Buffer.allocUnsafe(4 << 20);
  let bytes = 0;
  for (;;) {
    options.signal?.throwIfAborted();
    const { bytesRead } = await file.read(buffer, 0, buffer.length, bytes);
    if (bytesRead === 0) break;
    sha.update(buffer.subarray(0, bytesRead));
    bytes += bytesRead;
  }
  options.onProgress?.(bytes);
  return { bytes, sha256: sha.digest('hex') };
}
