import { UsageError, VerificationError } from '../errors.js';
import { printable } from './printable.js';

export type Encoding = 'utf-8' | 'windows-1252' | 'latin1' | 'utf-16le' | 'utf-16be';

export interface Detected {
  encoding: Encoding;
  bom: boolean;
  delimiter: string;
  /** The file starts with Excel's `sep=;` line, which names the delimiter and is not the header. */
  sepLine?: true;
}


const ENCODING_NAMES: Record<string, Encoding> = {
  utf8: 'utf-8', 'utf-8': 'utf-8', 'windows-1252': 'windows-1252', cp1252: 'windows-1252', win1252: 'windows-1252', ansi: 'windows-1252',
  latin1: 'latin1', 'latin-1': 'latin1', 'iso-8859-1': 'latin1', iso88591: 'latin1',
  // Excel's "Texte Unicode" is UTF-16 little-endian, as everything Windows calls "Unicode".
  'utf-16': 'utf-16le', utf16: 'utf-16le', unicode: 'utf-16le', 'utf-16le': 'utf-16le', utf16le: 'utf-16le', 'utf-16be': 'utf-16be', utf16be: 'utf-16be',
};

export function parseEncoding(name: string): Encoding {
  const encoding = ENCODING_NAMES[name.trim().toLowerCase()];
  if (!encoding) throw new UsageError(`unknown encoding "${name}"`, 'use utf-8, windows-1252, latin1 or utf-16');
  return encoding;
}

const DELIMITERS = [';', ',', '\t', '|'];

export function parseDelimiter(value: string): string {
  const delimiter = value === '\\t' || value.toLowerCase() === 'tab' ? '\t' : value;
  if (!DELIMITERS.includes(delimiter)) throw new UsageError(`unsupported delimiter "${value}"`, 'use ; , tab or |');
  return delimiter;
}

/**
 * Guesses encoding and delimiter from the first bytes of the file. UTF-8 is tried first because
 * valid UTF-8 multi-byte sequences almost never occur by chance in Windows-1252 text.
 */
export function detect(sample: Buffer, overrides: { encoding?: Encoding; delimiter?: string } = {}, name = 'the file'): Detected {
  if (sample.length === 0) throw new VerificationError('the file is empty', 'export it again with a header row');
  if (sample.subarray(0, 4).equals(Buffer.from('PK\x03\x04', 'latin1')) || sample.subarray(0, 4).equals(Buffer.from([0xd0, 0xcf, 0x11, 0xe0]))) {
    throw new VerificationError('this is an Excel workbook (.xlsx/.xls), not a CSV file', 'in Excel: File > Save as > "CSV (séparateur: point-virgule)"');
  }
  // Excel's "Texte Unicode (*.txt)": UTF-16 with its byte order mark, usually tab-separated.
  const utf16 = utf16Of(sample);
  const asUtf16 = overrides.encoding ? overrides.encoding.startsWith('utf-16') : utf16?.bom;
  if (utf16 && !asUtf16) {
    // Read as bytes, every other character would be a NUL: in cells, in headers, in messages.
    const flag = utf16.encoding === 'utf-16le' ? 'utf16le' : 'utf16be';
    throw new VerificationError(`${name} looks like UTF-16 (Excel "Unicode text")${overrides.encoding ? `, not ${overrides.encoding}` : ''}`, `use --encoding ${flag} or save it as "CSV UTF-8"`);
  }
  if (asUtf16) {
    const encoding = overrides.encoding ?? utf16!.encoding;
    const text = new TextDecoder(encoding).decode(sample.subarray(0, sample.length - (sample.length % 2)));
    return withDirective({ encoding, bom: utf16?.bom === true, delimiter: guessDelimiter(text) }, text, overrides.delimiter);
  }
  const bom = sample[0] === 0xef && sample[1] === 0xbb && sample[2] === 0xbf;
  if (sample.includes(0)) throw new VerificationError('this is a binary file, not CSV text (it contains NUL bytes)', 'save the spreadsheet as CSV first, or pass --encoding utf-16 for Unicode text');
  const encoding = overrides.encoding ?? (bom || isUtf8(sample) ? 'utf-8' : 'windows-1252');
  const text = sample.subarray(bom ? 3 : 0).toString('latin1');
  return withDirective({ encoding, bom, delimiter: guessDelimiter(text) }, text, overrides.delimiter);
}

/**
 * UTF-16 by its byte order mark, or without one by its look: in the first KiB, Latin text has a
 * NUL as every other byte (the odd ones little-endian, the even ones big-endian).
 */
function utf16Of(sample: Buffer): { encoding: 'utf-16le' | 'utf-16be'; bom: boolean } | undefined {
  if (sample[0] === 0xff && sample[1] === 0xfe) return { encoding: 'utf-16le', bom: true };
  if (sample[0] === 0xfe && sample[1] === 0xff) return { encoding: 'utf-16be', bom: true };
  const pairs = Math.min(sample.length, 1024) >> 1;
  if (pairs < 2) return undefined;
  let evenNul = 0;
  let oddNul = 0;
  for (let i = 0; i < pairs; i += 1) {
    if (sample[2 * i] === 0) evenNul += 1;
    if (sample[2 * i + 1] === 0) oddNul += 1;
  }
  if (oddNul >= pairs * 0.7 && evenNul === 0) return { encoding: 'utf-16le', bom: false };
  if (evenNul >= pairs * 0.7 && oddNul === 0) return { encoding: 'utf-16be', bom: false };
  return undefined;
}

/** Excel's `sep=;` first line (written by tools that export for Excel) beats the guess; --delimiter beats both, and the line is skipped either way. */
function withDirective(detected: Detected, text: string, delimiterFlag: string | undefined): Detected {
  const asked = /^"?sep=(.)"?\r?\n/i.exec(text)?.[1];
  if (asked !== undefined && !DELIMITERS.includes(asked)) {
    throw new VerificationError(`the first line asks for the delimiter "${printable(asked)}"`, 'use ; , tab or |, and fix or remove the sep= line');
  }
  const directive = asked === undefined ? {} : { delimiter: asked, sepLine: true as const };
  return { ...detected, ...directive, ...(delimiterFlag ? { delimiter: delimiterFlag } : {}) };
}

function isUtf8(sample: Buffer): boolean {
  // The sample may end in the middle of a character: drop up to 3 trailing bytes of a sequence.
  let end = sample.length;
  for (let back = 1; back <= 3 && end - back >= 0; back += 1) {
    const byte = sample[end - back]!;
    if (byte < 0x80) break;
    if (byte >= 0xc0) {
      end -= back;
      break;
    }
  }
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(sample.subarray(0, end));
    return true;
  } catch {
    return false;
  }
}

/** The delimiter that appears most in the header line, outside quotes. */
function guessDelimiter(text: string): string {
  const counts = new Map(DELIMITERS.map((d) => [d, 0]));
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === '\n' || ch === '\r')) break;
    else if (!quoted && counts.has(ch)) counts.set(ch, counts.get(ch)! + 1);
  }
  const [best, count] = [...counts].sort((a, b) => b[1] - a[1])[0]!;
  return count > 0 ? best : ';';
}
