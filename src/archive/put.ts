import type { Context } from '../context.js';
import { UsageError } from '../errors.js';
import { type ArchiveFile, type PutFileResult, archiveFiles } from './batch.js';
import { collectFiles, inspectFile } from './files.js';
import { businessDate, checkDate, checkDocType, docIdFromPath, docIdProblem, parseDocIdRule } from './layout.js';
import { forEachLimit } from '../parallel.js';

export type { PutFileResult } from './batch.js';

export interface ArchivePutOptions {
  paths: string[];
  type: string;
  docId?: string;
  docIdFrom?: string;
  date?: string;
  anyType?: boolean;
  concurrency: number;
}

export interface ArchivePutReport {
  storage: string;
  archived: number;
  skipped: number;
  failed: number;
  /** Files found in directories that are not PDFs (without --any-type). */
  ignored: number;
  files: PutFileResult[];
}

/** Archives files as new documents or new versions; never overwrites an object. */
export async function runArchivePut(opts: ArchivePutOptions, ctx: Context): Promise<ArchivePutReport> {
  const type = checkDocType(opts.type, ctx.config().archiveDocTypes);
  const date = opts.date ? checkDate(opts.date) : businessDate(ctx.clock(), ctx.config().timezone);
  const { planned, ignored } = await plan(opts);
  const files: ArchiveFile[] = planned.map((p) => ({ ...p, source: { path: p.path }, type, date }));
  const { storage, results } = await archiveFiles(ctx, files, { concurrency: opts.concurrency });
  const count = (status: PutFileResult['status']) => results.filter((r) => r.status === status).length;
  return { storage, archived: count('archived'), skipped: count('skipped'), failed: count('failed'), ignored, files: results };
}

type PlannedFile = Pick<ArchiveFile, 'path' | 'docId' | 'size' | 'contentType'>;

/** Everything that can be refused is refused before the first upload (exit 2). */
async function plan(opts: ArchivePutOptions): Promise<{ planned: PlannedFile[]; ignored: number }> {
  const files = await collectFiles(opts.paths);
  if (opts.docId !== undefined && (files.length !== 1 || !files[0]!.explicit)) {
    throw new UsageError('--doc-id names one document, so it takes exactly one file', 'for several files or a directory use --doc-id-from');
  }
  // Never guessed: a file name's stem as an id ("facture-FA-2026-0042") would stick for good in a
  // never-overwrite archive.
  if (opts.docId === undefined && opts.docIdFrom === undefined) {
    throw new UsageError('which document is it? no --doc-id given', 'pass --doc-id FA-2026-0042 for one file, or --doc-id-from stem|dir|regex:<pattern> to read ids from file names');
  }
  const rule = parseDocIdRule(opts.docIdFrom ?? 'stem');
  const planned: PlannedFile[] = [];
  const refused: string[] = [];
  let ignored = 0;
  const inspected = new Array<{ pdf: boolean; size: number }>(files.length);
  await forEachLimit(files.map((file, i) => ({ file, i })), 16, async ({ file, i }) => void (inspected[i] = await inspectFile(file.path)));
  for (const [i, file] of files.entries()) {
    const { pdf, size } = inspected[i]!;
    if (!pdf && !opts.anyType) {
      if (file.explicit) refused.push(`${file.path} is not a PDF (no %PDF- signature)`);
      else ignored += 1;
      continue;
    }
    const docId = opts.docId ?? docIdFromPath(file.path, rule);
    const problem = docId === undefined ? 'the --doc-id-from rule does not match its name' : docIdProblem(docId);
    if (problem) refused.push(`${file.path}: document id ${JSON.stringify(docId ?? '')} ${problem}`);
    else planned.push({ path: file.path, docId: docId!, size, contentType: pdf ? 'application/pdf' : 'application/octet-stream' });
  }
  const seen = new Map<string, string>();
  for (const file of planned) {
    const other = seen.get(file.docId);
    if (other) refused.push(`${other} and ${file.path} both give document id ${file.docId}`);
    seen.set(file.docId, file.path);
  }
  if (refused.length > 0) {
    const more = refused.length > 3 ? ` and ${refused.length - 3} more` : '';
    throw new UsageError(`refused: ${refused.slice(0, 3).join('; ')}${more}`, 'nothing was archived; pass --any-type for non-PDF files, --doc-id or --doc-id-from for ids');
  }
  if (planned.length === 0) throw new UsageError(`no PDF found in ${opts.paths.join(', ')}`, 'pass PDF files, or --any-type');
  return { planned, ignored };
}

