import { VerificationError } from '../errors.js';
import { printable } from './printable.js';

/** Called with each record's cells and the file line it starts on. */
export type RecordHandler = (cells: string[], line: number) => void;

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

/**
 * A CSV reader for what spreadsheets write: one delimiter, `"` quotes with `""` inside them, records
 * ended by CRLF, LF or CR, a quote in the middle of an unquoted cell kept as it is, rows of any
 * length. Text arrives in chunks; a record cut by a chunk's end waits for the next one.
 *
 * It replaces csv-parse on the import path: that library built an info object and a few buffers
 * per record, which made parsing two thirds of the CPU time of a large import.
 */
export class CsvReader {
  private pending = '';
  private line = 1;
  private first = true;
  private readonly delimiter: number;

  constructor(private readonly delimiterText: string, private readonly onRecord: RecordHandler, private readonly maxRecordChars: number) {
    this.delimiter = delimiterText.charCodeAt(0);
  }

  /** Reads every whole record of `chunk` (after what was left of the previous one). */
  push(chunk: string): void {
    let text = this.pending.length > 0 ? this.pending + chunk : chunk;
    if (this.first && text.length > 0) {
      // A byte order mark decoded as text is not part of the first header.
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      this.first = false;
    }
    const used = this.read(text, false);
    this.pending = used === text.length ? '' : text.slice(used);
    if (this.pending.length > this.maxRecordChars) throw this.tooLarge(this.line);
  }

  /** The end of the file: the last record needs no line break, and an open quote is an error. */
  end(): void {
    this.read(this.pending, true);
    this.pending = '';
  }

  /** Reads records from the start of `text`; returns where the first incomplete one starts. */
  private read(text: string, final: boolean): number {
    const n = text.length;
    const delimiter = this.delimiter;
    let start = 0;
    // Where the next quote and CR are: a line with neither is split by indexOf alone (most lines).
    let quote = -1;
    let cr = -1;
    while (start < n) {
      if (quote < start) quote = at(text.indexOf('"', start), n);
      if (cr < start) cr = at(text.indexOf('\r', start), n);
      const lf = text.indexOf('\n', start);
      if (lf >= 0 && quote > lf && (cr > lf || cr === lf - 1)) {
        const end = cr === lf - 1 ? cr : lf;
        if (lf + 1 - start > this.maxRecordChars) throw this.tooLarge(this.line);
        this.onRecord(split(text, start, end, this.delimiterText), this.line);
        this.line += 1;
        start = lf + 1;
        continue;
      }
      const cells: string[] = [];
      let breaks = 0;
      let i = start;
      let complete = true;
      for (;;) {
        if (i < n && text.charCodeAt(i) === QUOTE) {
          let value = '';
          let from = i + 1;
          let close = -1;
          for (;;) {
            const q = text.indexOf('"', from);
            if (q < 0 || (q + 1 >= n && !final)) break;
            if (q + 1 < n && text.charCodeAt(q + 1) === QUOTE) {
              value += text.slice(from, q + 1);
              from = q + 2;
              continue;
            }
            value += text.slice(from, q);
            close = q;
            break;
          }
          if (close < 0) {
            if (final) throw new VerificationError(`line ${this.line + breaks}: a quoted cell is never closed`, 'the file is truncated or a cell has an unmatched "; nothing was imported');
            complete = false;
            break;
          }
          breaks += lineBreaks(value);
          cells.push(value);
          i = close + 1;
          if (i >= n) {
            if (!final) complete = false;
            break;
          }
          const next = text.charCodeAt(i);
          if (next === delimiter) {
            i += 1;
            continue;
          }
          if (next === LF || next === CR) break;
          throw new VerificationError(
            `line ${this.line + breaks}: "${printable(text[i]!)}" right after the closing quote of a cell`,
            'a quoted cell ends at the delimiter: check the quotes and the delimiter (--delimiter); nothing was imported',
          );
        }
        let j = i;
        while (j < n) {
          const c = text.charCodeAt(j);
          if (c === delimiter || c === LF || c === CR) break;
          j += 1;
        }
        if (j >= n && !final) {
          complete = false;
          break;
        }
        cells.push(text.slice(i, j));
        i = j;
        if (j < n && text.charCodeAt(j) === delimiter) {
          i += 1;
          continue;
        }
        break;
      }
      if (complete && i < n && text.charCodeAt(i) === CR) {
        // A CR at the end of a chunk may be the first half of a CRLF.
        if (i + 1 < n) i += text.charCodeAt(i + 1) === LF ? 2 : 1;
        else if (final) i += 1;
        else complete = false;
      } else if (complete && i < n) {
        i += 1;
      }
      if (!complete) break;
      if (i - start > this.maxRecordChars) throw this.tooLarge(this.line);
      this.onRecord(cells, this.line);
      this.line += 1 + breaks;
      start = i;
    }
    return start;
  }

  private tooLarge(line: number): VerificationError {
    return new VerificationError(
      `a record of over ${Math.floor(this.maxRecordChars / 1024 / 1024)} MiB (at line ${line}): a cell that large is not a client or a chantier`,
      'look for an unclosed quote near that line; nothing was imported',
    );
  }
}

/** The cells of a line without quotes, from start to end (excluded). */
function split(text: string, start: number, end: number, delimiter: string): string[] {
  const cells: string[] = [];
  let from = start;
  for (let d = text.indexOf(delimiter, from); d >= 0 && d < end; d = text.indexOf(delimiter, from)) {
    cells.push(text.slice(from, d));
    from = d + 1;
  }
  cells.push(text.slice(from, end));
  return cells;
}

/** indexOf's -1 as "past the end", so that comparisons need no special case. */
function at(index: number, end: number): number {
  return index < 0 ? end : index;
}

/** Line breaks inside a quoted cell (CRLF, LF or CR), so that later records keep their file line numbers. */
function lineBreaks(value: string): number {
  let count = 0;
  for (let i = value.indexOf('\n'); i >= 0; i = value.indexOf('\n', i + 1)) count += 1;
  for (let i = value.indexOf('\r'); i >= 0; i = value.indexOf('\r', i + 1)) if (value.charCodeAt(i + 1) !== LF) count += 1;
  return count;
}
