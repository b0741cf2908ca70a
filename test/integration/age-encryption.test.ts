import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { afterEach, describe, expect, it } from 'vitest';
import { ageBinary, decryptWith, encryptTo } from '../../src/backup/encryption.js';

const original = process.env.AJ_AGE_BINARY;
afterEach(() => {
  if (original === undefined) delete process.env.AJ_AGE_BINARY;
  else process.env.AJ_AGE_BINARY = original;
});

async function keys() {
  const age = await import('age-encryption');
  const identity = await age.generateIdentity();
  return { identity, recipient: await age.identityToRecipient(identity), other: await age.generateIdentity() };
}

// The age binary is optional (.ci/run installs it): where it is missing, the bundled implementation is what runs.
const installed = ageBinary();

describe('age encryption of backup streams', () => {
  it.runIf(installed)('finds the age binary on PATH', () => {
    expect(installed).toMatch(/\/age$/);
  });

  it.runIf(!installed)('without the age binary (not installed here; apt-get install age), falls back to the bundled implementation', () => {
    expect(ageBinary({ PATH: process.env.PATH })).toBeUndefined();
  });

  for (const implementation of installed ? (['binary', 'bundled'] as const) : (['bundled'] as const)) {
    it(`round-trips 3 MB through the ${implementation} encryptor and the bundled decryptor`, async () => {
      if (implementation === 'bundled') process.env.AJ_AGE_BINARY = 'none';
      const { identity, recipient, other } = await keys();
      const plain = randomBytes(3 * 1024 * 1024);
      const encrypted = await encryptTo(recipient, Readable.from([plain.subarray(0, 1000), plain.subarray(1000)]));
      // The consumer comes late on purpose: no output may be dropped meanwhile.
      await new Promise((resolve) => setTimeout(resolve, 50));
      const ciphertext = await buffer(encrypted.stream);
      await encrypted.exited;
      expect(ciphertext.subarray(0, 21).toString()).toBe('age-encryption.org/v1');
      expect(Buffer.compare(await buffer(await decryptWith(identity, Readable.from([ciphertext]))), plain)).toBe(0);
      await expect(decryptWith(other, Readable.from([ciphertext])).then((s) => buffer(s))).rejects.toThrow();
    });
  }
});
