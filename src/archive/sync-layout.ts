import { UsageError } from '../errors.js';
import { docIdProblem, docTypeProblem } from './layout.js';

/** Where the web app writes its PDFs (the seed's layout): the type and id of each are in its path. */
export const DEFAULT_SOURCE_PATTERN = '{type}/{year}/{month}/{docId}/{file}.pdf';

const PLACEHOLDERS: Record<string, string> = {
  type: '([^/]+)',
  year: '(\\d{4})',
  month: '(\\d{2})',
  docId: '([^/]+)',
  file: '([^/]+)',
};

export interface SourcePattern {
  text: string;
  regex: RegExp;
  /** Placeholder names in the order of the regex's groups. */
  names: string[];
  /** The type of every file when the pattern has no {type}. */
  fixedType?: string;
}

/** Compiles `--pattern` (placeholders {type} {year} {month} {docId} {file}); refusals are exit 2. */
export function parseSourcePattern(text: string, fixedType?: string): SourcePattern {
  const refuse = (why: string) => new UsageError(`--pattern ${JSON.stringify(text)}: ${why}`, `for example ${DEFAULT_SOURCE_PATTERN}`);
  if (text.startsWith('/') || text.split('/').includes('..')) throw refuse('must be relative to --from, without ".."');
  const names: string[] = [];
  const source = text.split(/(\{[^}]*\})/).map((part) => {
    const name = /^\{(.*)\}$/.exec(part)?.[1];
    if (name === undefined) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    if (!(name in PLACEHOLDERS)) throw refuse(`unknown placeholder {${name}}; use {type}, {year}, {month}, {docId}, {file}`);
    if (names.includes(name)) throw refuse(`{${name}} appears twice`);
    names.push(name);
    return PLACEHOLDERS[name];
  }).join('');
  if (!names.includes('docId')) throw refuse('needs {docId}');
  if (names.includes('year') !== names.includes('month')) throw refuse('use {year} and {month} together, or neither');
  if (names.includes('type') && fixedType !== undefined) throw refuse('has {type}, so --type is not needed');
  if (!names.includes('type') && fixedType === undefined) throw refuse('has no {type}: pass --type');
  return { text, regex: new RegExp(`^${source}$`), names, fixedType };
}

export type PathMatch = { type: string; docId: string; date?: string } | { problem: string };

/** The document a path names; `date` (YYYY-MM-01) when the pattern has {year}/{month}. */
export function matchSourcePath(pattern: SourcePattern, path: string): PathMatch {
  const match = pattern.regex.exec(path);
  if (!match) return { problem: `does not match ${pattern.text}` };
  const value = (name: string) => (pattern.names.includes(name) ? match[pattern.names.indexOf(name) + 1] : undefined);
  const type = pattern.fixedType ?? value('type')!;
  const docId = value('docId')!;
  const [year, month] = [value('year'), value('month')];
  const problem = docTypeProblem(type) ? `type ${JSON.stringify(type)} ${docTypeProblem(type)}` : docIdProblem(docId) ? `document id ${JSON.stringify(docId)} ${docIdProblem(docId)}` : undefined;
  if (problem) return { problem };
  if (month !== undefined && !(Number(month) >= 1 && Number(month) <= 12)) return { problem: `month ${month} is not 01 to 12` };
  return { type, docId, ...(year && month ? { date: `${year}-${month}-01` } : {}) };
}
