import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ConfigError, VerificationError } from '../errors.js';

/** Encrypts a stream to an age public key: the backup server never holds the private key. */
export async function encryptTo(recipient: string, plain: Readable): Promise<Readable> {
  const { Encrypter } = await import('age-encryption');
  const encrypter = new Encrypter();
  encrypter.addRecipient(recipient);
  const encrypted = await encrypter.encrypt(Readable.toWeb(plain) as unknown as ReadableStream<Uint8Array>);
  return Readable.fromWeb(encrypted as unknown as WebReadableStream<Uint8Array>);
}

export async function readIdentity(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read age identity file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, 'pass --identity FILE or set BACKUP_AGE_IDENTITY_FILE');
  }
  const key = text.split('\n').map((l) => l.trim()).find((l) => l.startsWith('AGE-SECRET-KEY-'));
  if (!key) throw new ConfigError(`${path} holds no age identity (AGE-SECRET-KEY-...)`, 'generate one with age-keygen');
  return key;
}

/** Decrypts an age stream; a wrong identity or a damaged file fails as a verification problem. */
export async function decryptWith(identity: string, encrypted: Readable): Promise<Readable> {
  const { Decrypter } = await import('age-encryption');
  const decrypter = new Decrypter();
  decrypter.addIdentity(identity);
  try {
    const plain = await decrypter.decrypt(Readable.toWeb(encrypted) as unknown as ReadableStream<Uint8Array>);
    const out = Readable.fromWeb(plain as unknown as WebReadableStream<Uint8Array>);
    return out.on('error', () => undefined);
  } catch (error) {
    throw decryptionError(error);
  }
}

export function decryptionError(error: unknown): VerificationError {
  return new VerificationError(`cannot decrypt the backup: ${(error as Error).message}`, 'check that the identity matches BACKUP_AGE_RECIPIENT, and verify the object');
}
