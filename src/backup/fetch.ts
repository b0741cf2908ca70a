import { Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { VerificationError } from '../errors.js';
import { HashingStream } from '../storage/hashing.js';
import type { ObjectStore } from '../storage/store.js';
import { decryptWith, decryptionError } from './encryption.js';
import type { BackupRecord } from './history.js';

/**
 * Streams a stored dump into `sink`, hashing the stored bytes (size and SHA-256 must match the
 * history) and decrypting them when an identity is given. Any mismatch is a VerificationError.
 */
export async function streamVerified(
  store: ObjectStore,
  record: BackupRecord,
  sink: Writable,
  options: { identity?: string; signal?: AbortSignal; onProgress?: (bytes: number) => void } = {},
): Promise<{ size: number; sha256: string }> {
  const source = await store.get(record.object_key!, { signal: options.signal });
  const hashing = new HashingStream(undefined, options.onProgress);
  try {
    if (options.identity) {
      const hashed = source.pipe(hashing);
      source.once('error', (e) => hashing.destroy(e));
      const plain = await decryptWith(options.identity, hashed);
      await pipeline(plain, sink, { signal: options.signal }).catch((error: Error) => {
        // Whatever did not fail on the way in (storage) or out (the sink, an abort) failed to decrypt.
        const cause = hashing.errored ?? source.errored ?? sink.errored ?? (options.signal?.aborted ? error : undefined);
        throw cause ?? decryptionError(error);
      });
      // The decrypter may finish before the hashing stream has flushed its digest.
      await finished(hashing);
    } else {
      await pipeline(source, hashing, sink, { signal: options.signal });
    }
  } catch (error) {
    // A damaged object often shows first as a decryption or format error: report the checksum if it differs.
    if (hashing.sha256 && hashing.sha256 !== record.sha256) throw checksumError(record, hashing);
    throw error;
  }
  if (hashing.bytes !== record.size_bytes || hashing.sha256 !== record.sha256) throw checksumError(record, hashing);
  return { size: hashing.bytes, sha256: hashing.sha256 };
}

function checksumError(record: BackupRecord, hashing: HashingStream): VerificationError {
  const what = hashing.bytes !== record.size_bytes ? `size ${hashing.bytes} instead of ${record.size_bytes}` : `SHA-256 ${hashing.sha256.slice(0, 12)}… instead of ${record.sha256!.slice(0, 12)}…`;
  return new VerificationError(`backup ${record.id} is damaged in storage: ${what}`, 'use another backup (aj backup list) and check the storage');
}

/** A sink that discards everything (verification without decryption). */
export const discard = () => new Writable({ write: (_c, _e, done) => done() });

/**
 * Feeds a child's stdin, but if the child stops reading (pg_restore rejecting a damaged dump),
 * keeps draining so the whole object is still hashed and the checksum can name the damage.
 */
export function forgivingSink(target: Writable): Writable {
  let broken = false;
  target.on('error', () => (broken = true));
  return new Writable({
    highWaterMark: 1 << 20,
    write(chunk, _enc, done) {
      if (broken || target.destroyed) return done();
      if (target.write(chunk)) done();
      else {
        const resume = () => { target.off('drain', resume); target.off('close', resume); done(); };
        target.on('drain', resume);
        target.on('close', resume);
      }
    },
    final(done) {
      // Whether the child liked what it read is told by its exit status, not by this pipe.
      if (!broken && !target.destroyed) target.end();
      done();
    },
  });
}
