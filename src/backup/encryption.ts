import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ConfigError, OperationError, VerificationError } from '../errors.js';
import { holdOutput } from './pg-process.js';

export interface Encrypted {
  stream: Readable;
  /** Resolves when the encryptor has finished successfully. */
  exited: Promise<void>;
}

/** The age binary running, fed through `input`: a pipe another process can write into directly. */
export interface Encryptor extends Encrypted {
  input: Writable;
  kill(): void;
}

/**
 * Encrypts a stream to an age public key: the backup server never holds the private key.
 * The `age` binary is used when installed (native speed, about 1 GB/s); otherwise the bundled
 * JavaScript implementation, which writes the same format but is far slower on large dumps.
 */
export async function encryptTo(recipient: string, plain: Readable): Promise<Encrypted> {
  const encryptor = await startEncryptor(recipient);
  if (encryptor) {
    plain.pipe(encryptor.input);
    plain.once('error', () => encryptor.kill());
    return encryptor;
  }
  const { Encrypter } = await import('age-encryption');
  const encrypter = new Encrypter();
  encrypter.addRecipient(recipient);
  const encrypted = await encrypter.encrypt(Readable.toWeb(plain) as unknown as ReadableStream<Uint8Array>);
  return { stream: Readable.fromWeb(encrypted as unknown as WebReadableStream<Uint8Array>), exited: Promise.resolve() };
}

/**
 * Starts the age binary, or returns undefined when it is not installed. A producer started with
 * `input` as its stdout (startPgTool's `stdout` option) writes into age without a copy through Node:
 * the caller then closes its own end (`input.destroy()`) so that age sees the producer's end. With
 * `output` (an open file's descriptor) age writes there and `stream` is empty.
 */
export async function startEncryptor(recipient: string, options: { output?: number } = {}): Promise<Encryptor | undefined> {
  const binary = ageBinary();
  if (!binary) return undefined;
  const child = spawn(binary, ['--encrypt', '--recipient', recipient], { stdio: ['pipe', options.output ?? 'pipe', 'pipe'] });
  // An age that dies mid-stream: its exit status tells, not an EPIPE thrown at the writer.
  const input = child.stdin!;
  input.on('error', () => undefined);
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (text: string) => {
    if (stderr.length < 65536) stderr += text;
  });
  const stderrRead = new Promise<void>((resolve) => child.stderr!.once('close', () => resolve()));
  const exited = (async () => {
    const status = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) => resolve({ code, signal }));
    }).catch((error: Error) => {
      throw new OperationError(`age encryption failed: ${error.message}`, 'check AJ_AGE_BINARY or install age');
    });
    await stderrRead;
    if (status.code !== 0) {
      const detail = stderr.trim() || (status.signal ? `killed by ${status.signal}` : `exit status ${status.code}`);
      throw new OperationError(`age encryption failed: ${detail}`, 'check BACKUP_AGE_RECIPIENT');
    }
  })();
  exited.catch(() => undefined);
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill();
  };
  return { input, stream: options.output === undefined ? holdOutput(child.stdout!) : Readable.from([]), exited, kill };
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
