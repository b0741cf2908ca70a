import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { VerificationError } from '../errors.js';
import type { ObjectStore } from './store.js';

/** What was recorded when the object was stored (a history or archive row). */
export interface Recorded {
  size: number;
  sha256: string;
}

export interface VerifiedReadOptions {
  signal?: AbortSignal;
  onProgress?: (bytes: number) => void;
  /** Names the object in the error, e.g. "backup 12" or "facture FA-2026-0042 version 2". */
  label?: string;
  /** What the damage means for the caller, appended to the message ("no file was written"). */
  consequence?: string;
  hint?: string;
}

/** The stored bytes are not the ones recorded: too few, too many, or others. */
export class DamagedObjectError extends VerificationError {
  constructor(
    readonly key: string,
    readonly problem: 'size_mismatch' | 'checksum_mismatch',
    /** What differs, e.g. "1233 bytes instead of 1234". */
    readonly detail: string,
    options: { where: string; label?: string; consequence?: string; hint?: string },
  ) {
    const what = options.label ? `${options.label} (${options.where})` : options.where;
    super(
      `${what} is damaged in storage: ${detail}${options.consequence ? `; ${options.consequence}` : ''}`,
      options.hint ?? 'restore it from another copy',
    );
  }
}

/**
 * A pass-through that counts and hashes the stored bytes and fails when they are not the recorded
 * ones: as soon as there are more bytes than recorded (nothing beyond is passed on), or at the end.
 * The last chunk is held back until the check passed, so a reader never receives a damaged object
 * whole: not a copy, an attachment, nor pg_restore reading a dump.
 */
export class VerifyingStream extends Transform {
  private readonly hash = createHash('sha256');
  bytes = 0;
  /** The latest chunk, passed on only with the next one or once the whole object checked out. */
  private held?: Buffer;
  /** Set once the end was reached and checked, or the object overran its size. */
  damage?: DamagedObjectError;

  constructor(
    private readonly recorded: Recorded,
    private readonly describe: (problem: DamagedObjectError['problem'], detail: string) => DamagedObjectError,
    private readonly onProgress?: (bytes: number) => void,
  ) {
    super({ highWaterMark: 1 << 20 });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.recorded.size) {
      this.damage = this.describe('size_mismatch', `more than the ${this.recorded.size} bytes recorded`);
      return done(this.damage);
    }
    this.hash.update(chunk);
    this.onProgress?.(this.bytes);
    const previous = this.held;
    this.held = chunk;
    done(null, previous);
  }

  override _flush(done: TransformCallback): void {
    const sha256 = this.hash.digest('hex');
    if (this.bytes !== this.recorded.size) {
      this.damage = this.describe('size_mismatch', `${this.bytes} bytes instead of the ${this.recorded.size} recorded`);
    } else if (sha256 !== this.recorded.sha256) {
      this.damage = this.describe('checksum_mismatch', `SHA-256 ${sha256.slice(0, 12)}… instead of the recorded ${this.recorded.sha256.slice(0, 12)}…`);
    }
    done(this.damage, this.damage ? undefined : this.held);
  }
}

/**
 * The one checked read of a stored object: its bytes as a stream that fails (DamagedObjectError,
 * exit 4) unless they are exactly the recorded size and SHA-256. A missing object is an
 * ObjectNotFoundError from the store.
 */
export async function openVerified(store: ObjectStore, key: string, recorded: Recorded, options: VerifiedReadOptions = {}): Promise<VerifyingStream> {
  const source = await store.get(key, { signal: options.signal });
  const describe = (problem: DamagedObjectError['problem'], detail: string) =>
    new DamagedObjectError(key, problem, detail, { where: `${store.url}/${key}`, label: options.label, consequence: options.consequence, hint: options.hint });
  const verifying = new VerifyingStream(recorded, describe, options.onProgress);
  source.once('error', (error) => verifying.destroy(error));
  verifying.once('close', () => source.destroy());
  return source.pipe(verifying);
}

/** The whole object in memory, checked (attachments): never more than the recorded size is held. */
export async function readVerified(store: ObjectStore, key: string, recorded: Recorded, options: VerifiedReadOptions = {}): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await openVerified(store, key, recorded, options)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Reads the whole object through the check, keeping nothing (deep verification). */
export async function verifyStored(store: ObjectStore, key: string, recorded: Recorded, options: VerifiedReadOptions = {}): Promise<void> {
  for await (const _chunk of await openVerified(store, key, recorded, options));
}
