import { type Command, Option } from 'commander';
import type { Context } from '../src/context.js';
import { VerificationError } from '../src/errors.js';
import type { ImportResult } from '../src/import/run.js';
import { formatDuration } from '../src/render.js';
import { groupHelp } from './shared/help.js';

interface CsvFlags {
  entity: 'clients' | 'chantiers';
  encoding?: string;
  delimiter?: string;
  map?: string[];
  mapping?: string;
  onConflict: 'update' | 'skip' | 'error';
  skipInvalid?: boolean;
  dryRun?: boolean;
  report?: string;
  wait?: boolean;
  json?: boolean;
}

const HELP = `
Files from Excel (CSV, séparateur point-virgule, or Texte Unicode) and other software: encoding
(UTF-8, UTF-8 with BOM, Windows-1252, UTF-16 with BOM) and delimiter (; , tab |) are detected; headers are matched in French or
English, ignoring case, accents and spaces. Clients match existing ones by reference, else by
email; chantiers name their client by reference or email in a "Client" column.

All or nothing: if any row is invalid nothing is written and every problem is listed
(the first 50 on screen, all of them with --report).

Fields: clients: reference type nom prenom raison_sociale email telephone adresse code_postal ville siret
        chantiers: reference client nom adresse code_postal ville statut date_debut date_fin

Exit status: 0 imported (or dry run valid), 2 bad flags, 4 invalid rows or not a usable CSV file
(nothing written), 75 another import is running.

Examples:
  aj import csv clients.csv --entity clients --dry-run
  aj import csv clients.csv --entity clients --report problemes.csv
  aj import csv export.csv --entity clients --map "N° client=reference" --map "Mobile=-"
  aj import csv chantiers.csv --entity chantiers --on-conflict skip --skip-invalid
  iconv -f utf-16 -t utf-8 export.txt | aj import csv - --entity clients --delimiter tab --json
`;

export function register(program: Command, ctx: Context): void {
  const group = program.command('import').description('import clients and chantiers from CSV files').addHelpText('after', groupHelp(['aj import csv clients.csv --entity clients --dry-run', 'aj import csv chantiers.csv --entity chantiers']));
  group
    .command('csv')
    .description('import clients or chantiers from a CSV file (or - for standard input), all or nothing')
    .argument('<file>', 'CSV file, or - for standard input')
    .addOption(new Option('--entity <entity>', 'what the file contains').choices(['clients', 'chantiers']).makeOptionMandatory())
    .option('--encoding <name>', 'utf-8, windows-1252, latin1 or utf-16 (default: detected)')
    .option('--delimiter <char>', '; , tab or | (default: detected from the header)')
    .option('--map <column=field>', 'map a column to a field, or to - to ignore it (repeatable)', (v: string, all: string[] | undefined) => [...(all ?? []), v])
    .option('--mapping <file>', 'column mappings: one Colonne=field per line, or a JSON object')
    .addOption(new Option('--on-conflict <mode>', 'rows that match an existing one').choices(['update', 'skip', 'error']).default('update'))
    .option('--skip-invalid', 'import the valid rows and report the others')
    .option('--dry-run', 'validate and count what would be inserted, updated and skipped; write nothing')
    .option('--report <file.csv>', 'write every problem to this CSV file (safe to open in Excel)')
    .option('--wait', 'wait for another running import instead of exiting 75')
    .option('--json', 'print the summary as JSON')
    .addHelpText('after', HELP)
    .action(async (file: string, flags: CsvFlags) => {
      const { runImport } = await import('../src/import/run.js');
      const result = await runImport(
        {
          file, entity: flags.entity, encoding: flags.encoding, delimiter: flags.delimiter, map: flags.map, mappingFile: flags.mapping,
          onConflict: flags.onConflict, skipInvalid: flags.skipInvalid, dryRun: flags.dryRun, reportPath: flags.report, wait: flags.wait,
        },
        ctx,
      );
      if (flags.json) ctx.io.json(result);
      else render(ctx, result, flags.report);
      if (result.status === 'invalid') {
        throw new VerificationError(
          `${result.invalid} invalid row(s) out of ${result.read}: nothing was imported`,
          flags.report ? `see ${flags.report}, fix the file, or pass --skip-invalid` : 'fix the file, pass --report FILE.csv for the full list, or --skip-invalid',
        );
      }
    });
}

function render(ctx: Context, r: ImportResult, reportPath?: string): void {
  const io = ctx.io;
  if (r.unusedFields.length > 0) io.warn(`the app's table has no column for: ${r.unusedFields.join(', ')} (read and checked, not written)`);
  if (r.unknownColumns.length > 0) io.warn(`ignored column(s): ${r.unknownColumns.map((c) => `"${c}"`).join(', ')} (map them with --map "Colonne=field")`);
  if (r.previousImport) io.warn(`this file was already imported (run #${r.previousImport.runId}, ${r.previousImport.finishedAt})`);
  for (const p of r.problems) io.stderr.write(`line ${p.line}, ${p.column}: ${p.reason}${p.value ? ` ("${p.value}")` : ''}\n`);
  if (r.problemCount > r.problems.length) {
    io.stderr.write(`... and ${r.problemCount - r.problems.length} more problem(s)${reportPath ? ` in ${reportPath}` : ' (pass --report FILE.csv for all)'}\n`);
  }
  if (r.status === 'invalid') return;
  const verb = r.dryRun ? 'would be ' : '';
  io.out(
    `${r.dryRun ? 'dry run, nothing written: ' : ''}${r.entity} from ${r.file} (${r.encoding}, "${r.delimiter === '\t' ? 'tab' : r.delimiter}"): ` +
      `${r.read} read, ${r.inserted} ${verb}inserted, ${r.updated} ${verb}updated, ${r.unchanged} unchanged, ${r.skipped} ${verb}skipped, ${r.invalid} invalid` +
      ` in ${formatDuration(r.durationMs)} (${r.rowsPerSecond} rows/s)`,
  );
}
