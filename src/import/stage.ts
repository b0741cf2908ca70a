import { pipeline } from 'node:stream/promises';
import { Transform, type Writable } from 'node:stream';
import { VerificationError } from '../errors.js';
import type { Entity } from './entities.js';
import { type ColumnMapping, mapHeader } from './headers.js';
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
}

// Rows are written to COPY in chunks of about this size: one write per row costs a system call each.
const BATCH_CHARS = 256 * 1024;
// No clients or chantiers file needs more: past these, the file is not what it seems (a wrong
// delimiter, an unclosed quote swallowing the rest of the file), and memory stays bounded.
const MAX_COLUMNS = 500;
const MAX_RECORD_CHARS = 1024 * 1024;

/**
 * Streams the file through decoding, CSV parsing and validation into COPY. Validation runs inside
 * csv-parse's record hook and only whole batches travel down the pipeline, so the per-record cost
 * is the parse and the checks, not stream machinery.
 */
export async function stageCsv(source: CsvSource, copy: Writable, options: StageOptions): Promise<StageResult> {
  const { parse, CsvError } = await import('csv-parse');
  const { encoding, bom, delimiter, sepLine } = source.detected;
  let header: string[] | undefined;
  let mapping: ColumnMapping | undefined;
  let validator: RowValidator | undefined;
  // Excel's `sep=;` line is not the header, but still counts in the line numbers of problems.
  const firstLine = sepLine ? 2 : 1;
  let nextLine = firstLine;
  let rowsRead = 0;
  let staged = 0;
  let batch = '';

  const onRecord = (record: string[]): string | null => {
    const line = nextLine;
    for (const cell of record) if (cell.includes('\n')) nextLine += cell.split('\n').length - 1;
    nextLine += 1;
    if (record.length > MAX_COLUMNS) {
      throw new VerificationError(`line ${line} has ${record.length} columns, over the limit of ${MAX_COLUMNS}`, 'check the delimiter (--delimiter) or export only the needed columns; nothing was imported');
    }
    if (record.every((cell) => cell.trim() === '')) return null;
    if (!validator) {
      header = record.map((h) => h.trim());
      mapping = mapHeader(options.entity, header, options.overrides);
      validator = new RowValidator(options.entity, header, mapping);
      return null;
    }
    rowsRead += 1;
    if ((rowsRead & 0x3fff) === 0) options.onProgress?.(rowsRead);
    const result = validator.validate(record, line);
    if (!result.ok) {
      for (const problem of result.problems) options.problems.add(problem);
      return null;
    }
    staged += 1;
    batch += copyLine(line, result.values);
    if (batch.length < BATCH_CHARS) return null;
    const full = batch;
    batch = '';
    return full;
  };

  const parser = parse({ delimiter, from_line: firstLine, bom: encoding === 'utf-8' && bom, relax_column_count: true, relax_quotes: true, max_record_size: MAX_RECORD_CHARS, on_record: onRecord as never });
  const flushLast = new Transform({
    writableObjectMode: true,
    transform(chunk: string, _enc, done) {
      done(null, chunk);
    },
    flush(done) {
      done(null, batch || undefined);
    },
  });
  const stages: Array<NodeJS.ReadableStream | NodeJS.WritableStream | NodeJS.ReadWriteStream> = [source.bytes];
  if (encoding !== 'utf-8') {
    const iconv = (await import('iconv-lite')).default;
    stages.push(iconv.decodeStream(encoding) as unknown as NodeJS.ReadWriteStream);
  }
  try {
    await pipeline([...stages, parser, flushLast, copy] as never, { signal: options.signal });
  } catch (error) {
    throw error instanceof CsvError ? explainParseError(error) : error;
  }
  if (!header || !mapping) throw new VerificationError('the file is empty: no header row', 'export it again with a header row');
  if (rowsRead === 0) throw new VerificationError('the file has a header row but no data rows', 'check that you exported the right sheet');
  return { rowsRead, staged, header, mapping };
}

function explainParseError(error: { code: string; message: string }): VerificationError {
  if (error.code === 'CSV_MAX_RECORD_SIZE') {
    return new VerificationError(`a record of over ${MAX_RECORD_CHARS / 1024 / 1024} MiB (${error.message.replace(/^.*?(at line \d+).*$/s, '$1')}): a cell that large is not a client or a chantier`, 'look for an unclosed quote near that line; nothing was imported');
  }
  if (error.code === 'CSV_QUOTE_NOT_CLOSED') {
    return new VerificationError(`${error.message.replace(/^Quote Not Closed: /, '')}: a quoted cell is never closed`, 'the file is truncated or a cell has an unmatched "; nothing was imported');
  }
  return new VerificationError(`the file is not valid CSV: ${error.message}`, 'check the quotes and the delimiter (--delimiter); nothing was imported');
}
