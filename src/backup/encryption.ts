import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ConfigError, OperationError, VerificationError } from '../errors.js';
import { holdOutput } from './pg-process.js';

export interface Encrypted {
  stream: Readable;
  /** Resolves when the encryptor has finished successfully. */
  exited: Promise<void>;
}

/**
 * Encrypts a stream to an age public key: the backup server never holds the private key.
 * The `age` binary is used when installed (native speed, about 1 GB/s); otherwise the bundled
 * JavaScript implementation, which writes the same format but is far slower on large dumps.
 */
export async function encryptTo(recipient: string, plain: Readable): Promise<Encrypted> {
  const binary = ageBinary();
  if (binary) {
    const { execa } = await import('execa');
    const child = execa(binary, ['--encrypt', '--recipient', recipient], { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', buffer: { stdout: false, stderr: true } });
    plain.pipe(child.stdin!);
    plain.once('error', () => child.kill());
    const exited = (async () => {
      try {
        await child;
      } catch (error) {
        throw new OperationError(`age encryption failed: ${(error as { stderr?: string }).stderr?.trim() || (error as Error).message}`, 'check BACKUP_AGE_RECIPIENT');
      }
    })();
    exited.catch(() => undefined);
    return { stream: holdOutput(child.stdout as Readable), exited };
  }
  const { Encrypter } = await import('age-encryption');
  const encrypter = new Encrypter();
  encrypter.addRecipient(recipient);
  const encrypted = await encrypter.encrypt(Readable.toWeb(plain) as unknown as ReadableStream<Uint8Array>);
  return { stream: Readable.fromWeb(encrypted as unknown as WebReadableStream<Uint8Array>), exited: Promise.resolve() };
}

/** The age binary, unless AJ_AGE_BINARY=none forces the bundled implementation. */
export function ageBinary(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.AJ_AGE_BINARY === 'none') return undefined;
  if (env.AJ_AGE_BINARY) return env.AJ_AGE_BINARY;
  for (const dir of (env.PATH ?? '/usr/bin:/bin').split(':')) {
    if (dir && existsSync(join(dir, 'age'))) return join(dir, 'age');
  }
  return undefined;
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
