import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { isUtf8 } from 'node:buffer';
import { UsageError, VerificationError } from '../errors.js';
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
  const raw = path === '-' ? stdin : createReadStream(path, { highWaterMark: 256 * 1024 });
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
  const detected = detect(Buffer.concat(head).subarray(0, SAMPLE_BYTES), overrides, path === '-' ? 'standard input' : path);
  const check = wholeFileCheck(detected, overrides.encoding !== undefined);
  const hash = createHash('sha256');
  async function* all(): AsyncGenerator<Buffer> {
    for (const chunk of head) {
      hash.update(chunk);
      check(chunk);
      yield chunk;
    }
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
      const chunk = next.value as Buffer;
      hash.update(chunk);
      check(chunk);
      yield chunk;
    }
    check(undefined);
  }
  let digest: string | undefined;
  return {
    detected,
    bytes: Readable.from(all(), { objectMode: false }),
    sha256: () => (digest ??= hash.digest('hex')),
  };
}

/**
 * The encoding is guessed from the start of the file, but holds for all of it: a UTF-8 file with
 * Windows-1252 bytes further down (two exports pasted together) would import as mojibake, and a
 * NUL byte is never text. Both stop the import (nothing written), naming the line and byte offset.
 */
export function wholeFileCheck(detected: Detected, encodingGiven: boolean): (chunk: Buffer | undefined) => void {
  if (detected.encoding.startsWith('utf-16')) return () => undefined;
  const checkUtf8 = detected.encoding === 'utf-8' && !encodingGiven;
  let offset = 0;
  let line = 1;
  let carry: Buffer = Buffer.alloc(0);
  const where = (index: number, chunk: Buffer) => {
    let at = line;
    for (let i = 0; i < index; i += 1) if (chunk[i] === 0x0a) at += 1;
    return `line ${at} (byte ${offset + index - carry.length})`;
  };
  return (chunk) => {
    if (chunk === undefined) {
      if (checkUtf8 && carry.length > 0) throw notUtf8(`the end of the file (byte ${offset - carry.length})`);
      return;
    }
    const nul = chunk.indexOf(0);
    if (nul >= 0) {
      throw new VerificationError(`${where(nul + carry.length, Buffer.concat([carry, chunk]))}: a NUL byte, which is never CSV text`, 'the file is damaged or binary: export it again; nothing was imported');
    }
    let text: Buffer = chunk;
    if (checkUtf8) {
      text = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
      const end = text.length - incompleteTail(text);
      if (!isUtf8(text.subarray(0, end))) throw notUtf8(where(firstInvalid(text.subarray(0, end)), text));
      carry = text.subarray(end);
      text = text.subarray(0, end);
    }
    for (let i = text.indexOf(0x0a); i >= 0; i = text.indexOf(0x0a, i + 1)) line += 1;
    offset += chunk.length;
  };
}

function notUtf8(where: string): VerificationError {
  return new VerificationError(`${where} is not UTF-8, though the file starts as UTF-8: it mixes two encodings`, 'pass --encoding windows-1252 or --encoding utf-8 to say which one to read it as; nothing was imported');
}

/** Bytes at the end that start a UTF-8 sequence the next chunk completes (0 to 3). */
function incompleteTail(buffer: Buffer): number {
  for (let back = 1; back <= Math.min(3, buffer.length); back += 1) {
    const byte = buffer[buffer.length - back]!;
    if (byte < 0x80) return 0;
    if (byte >= 0xc0) {
      const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
      return length > back ? back : 0;
    }
  }
  return 0;
}

/** Where the first byte that is not part of a valid UTF-8 character stands (the chunk is known to hold one). */
function firstInvalid(buffer: Buffer): number {
  for (let i = 0; i < buffer.length; ) {
    const byte = buffer[i]!;
    const length = byte < 0x80 ? 1 : byte >= 0xc2 && byte <= 0xdf ? 2 : byte >= 0xe0 && byte <= 0xef ? 3 : byte >= 0xf0 && byte <= 0xf4 ? 4 : 0;
    if (length === 0 || !isUtf8(buffer.subarray(i, i + length))) return i;
    i += length;
  }
  return buffer.length;
}
