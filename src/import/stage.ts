import { pipeline } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import { VerificationError } from '../errors.js';
import { CsvReader } from './csv.js';
import type { Encoding } from './detect.js';
import type { Entity } from './entities.js';
import { type ColumnMapping, mapHeader } from './headers.js';
import { KeySet } from './key-set.js';
import type { ProblemLog } from './problems.js';
import { RowValidator, copyLine } from './rows.js';
import type { CsvSource } from './source.js';

export interface StageOptions {
  entity: Entity;
  overrides: Map<string, string>;
  problems: ProblemLog;
  signal?: AbortSignal;
  onProgress?: (rowsRead: number) => void;
}

export interface StageResult {
  rowsRead: number;
  staged: number;
  header: string[];
  mapping: ColumnMapping;
  /** Two staged rows may share a reference (see KeySet): false means surely none do. */
  referencesMayRepeat: boolean;
}

// COPY data goes out in buffers of this size: one message per row would cost a system call each.
const BATCH_BYTES = 256 * 1024;
// The file is decoded in pieces that make strings under 128 KiB: V8 puts larger ones in its
// large-object space, where each costs fresh pages (decoding 1 MiB pieces took ten times as long).
const DECODE_BYTES = 32 * 1024;
// No clients or chantiers file needs more: past these, the file is not what it seems (a wrong
// delimiter, an unclosed quote swallowing the rest of the file), and memory stays bounded.
const MAX_COLUMNS = 500;
const MAX_RECORD_CHARS = 1024 * 1024;

/**
 * Streams the file through decoding, CSV reading and validation into COPY. Each piece of the file
 * is decoded once, read record by record and validated in place; only whole buffers of COPY text
 * travel down the pipeline, so stream machinery costs per buffer, not per row.
 */
export async function stageCsv(source: CsvSource, copy: Writable, options: StageOptions): Promise<StageResult> {
  const { encoding, delimiter, sepLine } = source.detected;
  let header: string[] | undefined;
  let mapping: ColumnMapping | undefined;
  let validator: RowValidator | undefined;
  // Excel's `sep=;` line is not the header, but still counts in the line numbers of problems.
  let skip = sepLine ? 1 : 0;
  let rowsRead = 0;
  let staged = 0;
  const batches = new CopyBatches();
  const references = new KeySet();
  let referenceSlot = -1;
  let referencesMayRepeat = false;

  const onRecord = (record: string[], line: number): void => {
    if (skip > 0) {
      skip -= 1;
      return;
    }
    if (record.length > MAX_COLUMNS) {
      throw new VerificationError(`line ${line} has ${record.length} columns, over the limit of ${MAX_COLUMNS}`, 'check the delimiter (--delimiter) or export only the needed columns; nothing was imported');
    }
    if (isBlank(record)) return;
    if (!validator) {
      header = record.map((h) => h.trim());
      mapping = mapHeader(options.entity, header, options.overrides);
      validator = new RowValidator(options.entity, header, mapping);
      referenceSlot = validator.fields.indexOf('reference');
      return;
    }
    rowsRead += 1;
    if ((rowsRead & 0x3fff) === 0) options.onProgress?.(rowsRead);
    const result = validator.validate(record, line);
    if (!result.ok) {
      for (const problem of result.problems) options.problems.add(problem);
      return;
    }
    staged += 1;
    const reference = result.values[referenceSlot];
    if (reference && references.add(reference)) referencesMayRepeat = true;
    batches.add(copyLine(line, result.values));
  };

  const reader = new CsvReader(delimiter, onRecord, MAX_RECORD_CHARS);
  const decoder = await textDecoder(encoding);
  async function* copyData(): AsyncGenerator<Buffer> {
    for await (const chunk of source.bytes) {
      const bytes = chunk as Buffer;
      for (let at = 0; at < bytes.length; at += DECODE_BYTES) {
        reader.push(decoder.write(bytes.subarray(at, at + DECODE_BYTES)));
        yield* batches.take();
      }
    }
    reader.push(decoder.end());
    reader.end();
    batches.flush();
    yield* batches.take();
  }
  await pipeline(copyData, copy, { signal: options.signal });
  if (!header || !mapping) throw new VerificationError('the file is empty: no header row', 'export it again with a header row');
  if (rowsRead === 0) throw new VerificationError('the file has a header row but no data rows', 'check that you exported the right sheet');
  return { rowsRead, staged, header, mapping, referencesMayRepeat };
}

/**
 * COPY rows encoded straight into fixed-size buffers. Concatenating them into one string first
 * cost a third of the import's CPU time: Buffer.from() had to flatten a large rope, in V8's
 * large-object space, before encoding it.
 */
class CopyBatches {
  private buffer = Buffer.allocUnsafe(BATCH_BYTES);
  private used = 0;
  private full: Buffer[] = [];

  add(text: string): void {
    // A UTF-16 code unit is at most 3 bytes of UTF-8.
    if (text.length * 3 > this.buffer.length - this.used) {
      this.flush();
      if (text.length * 3 > this.buffer.length) {
        this.full.push(Buffer.from(text));
        return;
      }
    }
    this.used += this.buffer.write(text, this.used);
  }

  flush(): void {
    if (this.used === 0) return;
    this.full.push(this.buffer.subarray(0, this.used));
    this.buffer = Buffer.allocUnsafe(BATCH_BYTES);
    this.used = 0;
  }

  /** The buffers filled so far, handed over once. */
  take(): Buffer[] {
    const full = this.full;
    this.full = [];
    return full;
  }
}

function isBlank(record: string[]): boolean {
  for (const cell of record) if (cell.length > 0 && cell.trim() !== '') return false;
  return true;
}

/** Bytes to text across chunk boundaries; UTF-8 (nearly every file) by Node itself, the others by iconv-lite. */
async function textDecoder(encoding: Encoding): Promise<{ write(chunk: Buffer): string; end(): string }> {
  if (encoding === 'utf-8') {
    const decoder = new TextDecoder('utf-8');
    return { write: (chunk) => decoder.decode(chunk, { stream: true }), end: () => decoder.decode() };
  }
  const iconv = (await import('iconv-lite')).default;
  const decoder = iconv.getDecoder(encoding);
  return { write: (chunk) => decoder.write(chunk), end: () => decoder.end() ?? '' };
}
