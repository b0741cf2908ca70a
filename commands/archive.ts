import { type Command, InvalidArgumentError } from 'commander';
import type { Context } from '../src/context.js';
import { OperationError, VerificationError } from '../src/errors.js';
import { formatBytes, formatTime, renderTable } from '../src/render.js';
import { groupHelp } from './shared/help.js';

const wholeNumber = (flag: string, max: number, min = 1) => (value: string) => {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${flag} must be a whole number from ${min} to ${max}`);
  return n;
};

export function register(program: Command, ctx: Context): void {
  const archive = program
    .command('archive')
    .description('archive quote and invoice PDFs (by hand, or synced from where the app writes them), never overwritten; verify them')
    .addHelpText('after', `
Objects are stored as {type}/{yyyy}/{mm}/{doc-id}/{filename} in ARCHIVE_BUCKET; a changed document
becomes a new version under .../{doc-id}/v{N}/, and the older versions stay.
${groupHelp(['aj archive put FA-2026-0042.pdf --type facture --doc-id FA-2026-0042', 'aj archive sync --from /srv/art-et-jardin/storage/pdf', 'aj archive verify --deep', 'aj archive get facture FA-2026-0042 -o ~/Documents/'])}`);

  archive
    .command('put')
    .description('archive PDF files (or every PDF below a directory); same content is skipped, changed content becomes a new version')
    .argument('<paths...>', 'files or directories')
    .requiredOption('--type <type>', 'document type, one of ARCHIVE_DOC_TYPES: devis, facture, avoir, ...')
    .option('--doc-id <id>', 'document id for a single file (e.g. FA-2026-0042); this or --doc-id-from is required')
    .option('--doc-id-from <rule>', 'how to get ids from file names: stem (name without extension), dir (parent directory) or regex:<pattern>')
    .option('--date <YYYY-MM-DD>', 'business date that picks the year/month folder (default: today in AJ_TIMEZONE)')
    .option('--any-type', 'accept files that are not PDFs')
    .option('--concurrency <n>', 'files uploaded at once', wholeNumber('--concurrency', 64), 8)
    .option('--json', 'print the result of every file as JSON')
    .addHelpText('after', `
Examples:
  aj archive put facture-FA-2026-0042.pdf --type facture --doc-id FA-2026-0042
  aj archive put ./exports/factures --type facture --doc-id-from stem --date 2026-03-31
  aj archive put ./devis --type devis --doc-id-from 'regex:^(DE-\\d{4}-\\d+)' --json

Exit status: 0 every file archived or already archived, 1 some files failed (each is named),
2 an unknown type (a typo is refused with a suggestion), no --doc-id or --doc-id-from, a bad
document id or date, or a non-PDF file (nothing archived).
`)
    .action(async (paths: string[], opts: { type: string; docId?: string; docIdFrom?: string; date?: string; anyType?: boolean; concurrency: number; json?: boolean }) => {
      const { runArchivePut } = await import('../src/archive/put.js');
      const report = await runArchivePut({ paths, ...opts }, ctx);
      if (opts.json) ctx.io.json(report);
      else {
        await renderTable(ctx.io, report.files, [
          { header: 'status', value: (f) => ctx.io.paint(f.status === 'archived' ? 'green' : f.status === 'skipped' ? 'dim' : 'red', f.status) },
          { header: 'doc id', value: (f) => f.docId },
          { header: 'version', value: (f) => f.version },
          { header: 'key', value: (f) => f.key },
          { header: 'file', value: (f) => f.path },
          { header: 'detail', value: (f) => f.detail },
        ]);
      }
      for (const f of report.files.filter((f) => f.status === 'failed')) ctx.io.error(`${f.path}: ${f.detail}`);
      const ignored = report.ignored ? `, ${report.ignored} non-PDF file(s) ignored` : '';
      ctx.io.notice(`${report.archived} archived, ${report.skipped} already archived, ${report.failed} failed${ignored} (${report.storage})`);
      if (report.failed > 0) throw new OperationError(`${report.failed} of ${report.files.length} file(s) failed`, 'fix the cause and run the same command again: archived files are skipped');
    });

  archive
    .command('sync')
    .description('archive every new or changed PDF where the app writes them (for cron); unchanged files are not read again')
    .requiredOption('--from <dir|s3://bucket/prefix>', 'where the app writes its PDFs')
    .option('--pattern <pattern>', 'where type and id are in a path: {type} {year} {month} {docId} {file}', '{type}/{year}/{month}/{docId}/{file}.pdf')
    .option('--type <type>', 'document type of every file, for a pattern without {type}')
    .option('--settle <seconds>', 'leave files of a directory modified less than this long ago for the next run (still being written)', wholeNumber('--settle', 86_400, 0), 60)
    .option('--dry-run', 'list what would be archived, read and write nothing')
    .option('--concurrency <n>', 'files uploaded at once', wholeNumber('--concurrency', 64), 8)
    .option('--json', 'print the report as JSON')
    .addHelpText('after', `
A file already archived and unchanged since (same size and modification time, or ETag on S3) is
skipped from the listing alone. A changed file becomes a new version; nothing is overwritten. Files
not named *.pdf are ignored; PDFs outside the pattern are named and skipped. The year/month folder
comes from the path ({year}/{month}), else from the day of the run. An s3:// source is read with
the same S3 settings as the archive.

Examples:
  aj archive sync --from /srv/art-et-jardin/storage/pdf
  aj archive sync --from s3://aj-app-files/pdf --json
  aj archive sync --from /srv/app --pattern 'factures/{year}/{month}/{docId}.pdf' --type facture --dry-run

Exit status: 0 every new or changed file archived (or already archived), 1 some files failed (each
is named; the next run tries them again), 2 bad flag or pattern, 75 another sync is running.
`)
    .action(async (opts: { from: string; pattern: string; type?: string; settle: number; dryRun?: boolean; concurrency: number; json?: boolean }) => {
      const { runArchiveSync } = await import('../src/archive/sync.js');
      const report = await runArchiveSync(ctx, { ...opts, settleSeconds: opts.settle });
      if (opts.json) ctx.io.json(report);
      else {
        await renderTable(ctx.io, report.files, [
          { header: 'status', value: (f) => ctx.io.paint(f.status === 'archived' ? 'green' : f.status === 'failed' || f.status === 'outside-layout' ? 'red' : 'dim', f.status) },
          { header: 'type', value: (f) => f.type },
          { header: 'doc id', value: (f) => f.docId },
          { header: 'version', value: (f) => f.version },
          { header: 'file', value: (f) => f.path },
          { header: 'detail', value: (f) => f.detail },
        ]);
      }
      for (const f of report.files.filter((f) => f.status === 'failed' || f.status === 'outside-layout')) ctx.io.warn(`${f.path}: ${f.status === 'failed' ? '' : 'outside the layout, not archived: '}${f.detail}`);
      const done = report.dryRun ? `${report.files.filter((f) => f.status === 'would-archive').length} to archive` : `${report.archived} archived, ${report.alreadyArchived} already archived, ${report.failed} failed`;
      ctx.io.notice(`${report.listed} file(s) in ${report.source}: ${done}, ${report.unchanged} unchanged, ${report.outsideLayout} outside the layout, ${report.settling} still being written (${report.storage})`);
      if (report.failed > 0) throw new OperationError(`${report.failed} file(s) failed`, 'fix the cause: the next run tries them again');
    });

  archive
    .command('verify')
    .description('check that every archived document is still in storage, unchanged; exit 4 on any problem')
    .option('--type <type>', 'only this document type')
    .option('--since <YYYY-MM-DD>', 'only documents archived on or after this date')
    .option('--deep', 'download every object and recompute its SHA-256 (default: compare size and ETag)')
    .option('--orphans', 'also list objects in the bucket that have no archive row')
    .option('--concurrency <n>', 'objects checked at once', wholeNumber('--concurrency', 64), 8)
    .option('--wait', 'wait for a running verify instead of exiting 75')
    .option('--json', 'print the findings as JSON')
    .addHelpText('after', `
Examples:
  aj archive verify
  aj archive verify --deep --type facture --since 2026-01-01
  aj archive verify --orphans --json | jq '.findings[] | select(.problem != "orphan")'

Exit status: 0 all intact, 4 missing, changed or orphan objects found, 1 storage errors prevented
some checks, 75 another verify is running.
`)
    .action(async (opts: { type?: string; since?: string; deep?: boolean; orphans?: boolean; concurrency: number; wait?: boolean; json?: boolean }) => {
      const { runArchiveVerify } = await import('../src/archive/verify.js');
      const report = await runArchiveVerify(opts, ctx);
      if (opts.json) ctx.io.json(report);
      else {
        await renderTable(ctx.io, report.findings, [
          { header: 'problem', value: (f) => ctx.io.paint('red', f.problem) },
          { header: 'type', value: (f) => f.type },
          { header: 'doc id', value: (f) => f.docId },
          { header: 'version', value: (f) => f.version },
          { header: 'key', value: (f) => f.key },
          { header: 'detail', value: (f) => f.detail },
        ], 'no problem found');
      }
      if (report.elsewhere > 0) ctx.io.warn(`${report.elsewhere} document(s) archived in another storage location were not checked`);
      const problems = report.findings.filter((f) => f.problem !== 'error').length;
      const errors = report.findings.length - problems;
      ctx.io.notice(`${report.checked} document(s) checked (${report.mode}) in ${report.storage}: ${report.intact} intact, ${problems} problem(s), ${errors} error(s)`);
      if (problems > 0) throw new VerificationError(`the archive has ${problems} problem(s)`, 'restore the named objects from another copy; orphans may be uploads whose run died');
      if (errors > 0) throw new OperationError(`${errors} document(s) could not be checked`, 'check the storage and run verify again');
    });

  archive
    .command('list')
    .description('list archived documents (every version), newest first')
    .option('--type <type>', 'only this document type')
    .option('--doc-id <id>', 'only this document')
    .option('--since <YYYY-MM-DD>', 'only documents archived on or after this date')
    .option('--limit <n>', 'at most this many rows', wholeNumber('--limit', 1_000_000))
    .option('--json', 'print as JSON')
    .addHelpText('after', `
Examples:
  aj archive list --type facture --since 2026-01-01
  aj archive list --doc-id FA-2026-0042 --json

Exit status: 0 listed (none found included), 2 bad flags, 1 the database failed.
`)
    .action(async (opts: { type?: string; docId?: string; since?: string; limit?: number; json?: boolean }) => {
      const { runArchiveList } = await import('../src/archive/retrieve.js');
      const docs = await runArchiveList(opts, ctx);
      if (opts.json) return ctx.io.json(docs);
      await renderTable(ctx.io, docs, [
        { header: 'type', value: (d) => d.docType },
        { header: 'doc id', value: (d) => d.docId },
        { header: 'version', value: (d) => d.version },
        { header: 'archived', value: (d) => formatTime(d.archivedAt) },
        { header: 'size', value: (d) => (ctx.io.stdoutIsTTY ? formatBytes(d.size) : d.size) },
        { header: 'file', value: (d) => d.originalFilename },
        { header: 'key', value: (d) => d.objectKey },
        { header: 'last verify', value: (d) => (d.lastVerifyResult ? `${d.lastVerifyResult} ${formatTime(d.lastVerifiedAt)}` : '') },
      ], 'no archived document matches');
    });

  archive
    .command('get')
    .description('write an archived document to a file or stdout, checking its SHA-256 on the way')
    .argument('<type>', 'document type')
    .argument('<doc-id>', 'document id')
    .option('--doc-version <n>', 'this version (default: the newest); not --version, which is aj\'s own', wholeNumber('--doc-version', 1_000_000))
    .option('-o, --output <file>', 'write to this file, or into this directory under its archived name (default: stdout)')
    .option('--force', 'replace an existing output file')
    .addHelpText('after', `
Examples:
  aj archive get facture FA-2026-0042 -o FA-2026-0042.pdf
  aj archive get facture FA-2026-0042 -o ~/Documents/       # ~/Documents/<archived file name>
  aj archive get devis DE-2026-0007 --doc-version 1 > DE-2026-0007-v1.pdf

Exit status: 0 written and intact, 4 the stored object does not match its checksum (no file is left),
1 not archived or storage error.
`)
    .action(async (type: string, docId: string, opts: { docVersion?: number; output?: string; force?: boolean }) => {
      const { runArchiveGet } = await import('../src/archive/retrieve.js');
      const doc = await runArchiveGet({ type, docId, version: opts.docVersion, output: opts.output, force: opts.force }, ctx);
      if (doc.writtenTo) ctx.io.notice(`wrote ${doc.writtenTo} (${doc.docType} ${doc.docId} version ${doc.version}, ${formatBytes(doc.size)}, SHA-256 verified)`);
    });
}
