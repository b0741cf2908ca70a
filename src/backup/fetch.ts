import { Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import type { ObjectStore } from '../storage/store.js';
import { openVerified } from '../storage/verified.js';
import { decryptWith, decryptionError } from './encryption.js';
import type { BackupRecord } from './history.js';

/**
 * Streams a stored dump into `sink` through the checked read (size and SHA-256 of the stored bytes
 * must match the history), decrypting them when an identity is given. Damage is a VerificationError.
 */
export async function streamVerified(
  store: ObjectStore,
  record: BackupRecord,
  sink: Writable,
  options: { identity?: string; signal?: AbortSignal; onProgress?: (bytes: number) => void } = {},
): Promise<{ size: number; sha256: string }> {
  const recorded = { size: record.size_bytes!, sha256: record.sha256! };
  const verified = await openVerified(store, record.object_key!, recorded, {
    signal: options.signal,
    onProgress: options.onProgress,
    label: `backup ${record.id}`,
    hint: 'use another backup (aj backup list) and check the storage',
  });
  try {
    if (options.identity) {
      const plain = await decryptWith(options.identity, verified);
      await pipeline(plain, sink, { signal: options.signal }).catch((error: Error) => {
        // Whatever did not fail on the way in (storage, damage) or out (the sink, an abort) failed to decrypt.
        const cause = verified.errored ?? sink.errored ?? (options.signal?.aborted ? error : undefined);
        throw cause ?? decryptionError(error);
      });
      // The decrypter may finish before the checked read has reached its end.
      await finished(verified);
    } else {
      await pipeline(verified, sink, { signal: options.signal });
    }
  } catch (error) {
    // A damaged object often shows first as a decryption or format error: name the damage when it is known.
    throw verified.damage ?? error;
  }
  return recorded;
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
