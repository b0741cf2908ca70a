import { basename, dirname, extname } from 'node:path';
import { UsageError } from '../errors.js';

/**
 * The company's archive layout: `{type}/{yyyy}/{mm}/{docId}/{filename}`, later versions under
 * `{type}/{yyyy}/{mm}/{docId}/v{N}/{filename}`. Types and ids become path segments, so anything
 * that could leave the layout (`..`, `/`, control characters) is refused before any upload.
 */

const DOC_TYPE = /^[a-z][a-z0-9_-]{0,39}$/;
const DOC_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Why a document type is unusable, or undefined when it is fine. */
export function docTypeProblem(type: string): string | undefined {
  return DOC_TYPE.test(type) ? undefined : 'is not a lowercase word (letters, digits, "_" and "-", at most 40)';
}

/** A valid type; when archiving (`known` given), one of ARCHIVE_DOC_TYPES, so a typo never starts a new type. */
export function checkDocType(type: string, known?: readonly string[]): string {
  if (docTypeProblem(type)) {
    throw new UsageError(`invalid document type ${JSON.stringify(type)}`, 'use a lowercase word such as devis or facture');
  }
  if (known && !known.includes(type)) {
    const close = closest(type, known);
    throw new UsageError(
      `unknown document type ${JSON.stringify(type)}${close ? `: did you mean ${close}?` : ''}`,
      `known types: ${known.join(', ')}; a new one goes into ARCHIVE_DOC_TYPES first`,
    );
  }
  return type;
}

/** The known word at the smallest edit distance, if it is close enough to be a typo. */
function closest(word: string, known: readonly string[]): string | undefined {
  const distance = (a: string, b: string) => {
    let row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i += 1) {
      const next = [i];
      for (let j = 1; j <= b.length; j += 1) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      row = next;
    }
    return row[b.length]!;
  };
  const [best] = known.map((k) => ({ k, d: distance(word, k) })).sort((x, y) => x.d - y.d);
  return best && best.d <= Math.max(2, Math.floor(best.k.length / 3)) ? best.k : undefined;
}

/** Why a doc id is unusable, or undefined when it is fine. */
export function docIdProblem(id: string): string | undefined {
  if (id === '') return 'is empty';
  if (/[\x00-\x1f\x7f]/.test(id)) return 'contains control characters';
  if (id.includes('/') || id.includes('\\')) return 'contains a path separator';
  if (id.includes('..')) return 'contains ".."';
  if (!DOC_ID.test(id)) return 'may only contain letters, digits, ".", "_" and "-", starting with a letter or digit (at most 128)';
  return undefined;
}

export function checkDocId(id: string): string {
  const problem = docIdProblem(id);
  if (problem) throw new UsageError(`invalid document id ${JSON.stringify(id)}: ${problem}`, 'pass an id such as FA-2026-0042');
  return id;
}

/** A calendar date `YYYY-MM-DD`; rejects 2026-02-30 and friends. */
export function checkDate(text: string, flag = '--date'): string {
  const match = DATE.exec(text);
  const [y, m, d] = match ? [Number(match[1]), Number(match[2]), Number(match[3])] : [0, 0, 0];
  const date = new Date(Date.UTC(y, m - 1, d));
  if (!match || date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d) {
    throw new UsageError(`${flag} ${JSON.stringify(text)} is not a date`, 'use YYYY-MM-DD');
  }
  return text;
}

/** Today in the business time zone (Europe/Paris): a late-evening run files under the right month. */
export function businessDate(now: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
}

/**
 * A file name safe in any bucket browser and on any disk: accents folded, everything else
 * outside `[A-Za-z0-9._-]` replaced, no leading dot. The original is kept in the archive row.
 */
export function safeFilename(original: string): string {
  const ext = extname(original).toLowerCase().replace(/[^a-z0-9.]/g, '');
  const stem = basename(original, extname(original));
  const clean = (s: string) => s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/[^A-Za-z0-9._-]+/g, '_').replace(/_+/g, '_');
  const safeStem = clean(stem).replace(/^[._-]+/, '').replace(/[._-]+$/, '').slice(0, 120) || 'document';
  return `${safeStem}${ext}`;
}

export function objectKey(parts: { type: string; docId: string; date: string; version: number; filename: string }): string {
  const [yyyy, mm] = parts.date.split('-');
  const folder = `${parts.type}/${yyyy}/${mm}/${parts.docId}`;
  return parts.version === 1 ? `${folder}/${parts.filename}` : `${folder}/v${parts.version}/${parts.filename}`;
}

/** The prefix that lists every object of a type and month, e.g. `facture/2026/03/`. */
export function monthPrefix(key: string): string {
  return key.split('/').slice(0, 3).join('/') + '/';
}

export type DocIdRule = { kind: 'stem' } | { kind: 'dir' } | { kind: 'regex'; pattern: RegExp };

/** `stem` (file name without extension), `dir` (parent directory name) or `regex:<pattern with one group>`. */
export function parseDocIdRule(text: string): DocIdRule {
  if (text === 'stem' || text === 'dir') return { kind: text };
  if (text.startsWith('regex:')) {
    let pattern: RegExp;
    try {
      pattern = new RegExp(text.slice(6));
    } catch (error) {
      throw new UsageError(`--doc-id-from: ${(error as Error).message}`, 'use regex:<pattern> with one capture group');
    }
    return { kind: 'regex', pattern };
  }
  throw new UsageError(`--doc-id-from ${JSON.stringify(text)} is not a rule`, 'use stem, dir or regex:<pattern>');
}

/** The doc id a rule gives for a path, or undefined when a regex does not match. */
export function docIdFromPath(path: string, rule: DocIdRule): string | undefined {
  const name = basename(path);
  if (rule.kind === 'stem') return basename(name, extname(name));
  if (rule.kind === 'dir') return basename(dirname(path));
  const match = rule.pattern.exec(name);
  return match ? (match[1] ?? match[0]) : undefined;
}
