import type { Command } from 'commander';
import type { SchemaCheckReport } from '../src/business/check.js';
import type { DetectReport } from '../src/business/detect.js';
import { ENTITY_NAMES, FIELDS } from '../src/business/mapping.js';
import type { Context } from '../src/context.js';
import { VerificationError } from '../src/errors.js';
import { renderTable } from '../src/render.js';
import { groupHelp } from './shared/help.js';

const DETECT_HELP = `
Reads the database's catalog (every schema but aj's own) and matches the web app's tables to aj's
clients, chantiers, devis and factures: table and column names in French or English, snake_case,
camelCase or PascalCase; the client link by foreign key; status labels from the enum or CHECK
constraint (or the values in the table). Reads only: nothing in the database is changed.

Examples:
  aj schema detect
  aj schema detect --write /etc/aj/schema.json     # then review it and set AJ_SCHEMA_FILE
  aj schema detect --json | jq '.entities[] | {entity, missing}'

Exit status: 0 every required field and label found, 4 some are missing (each is named),
2 the --write file exists (pass --force), 3 configuration error.
`;

const CHECK_HELP = `
Checks the mapping file (--file, else AJ_SCHEMA_FILE) against the live database: tables and
columns exist, their types fit, status labels exist in the enum or CHECK constraint, required
fields are mapped, and aj's import can insert clients and chantiers. Without AJ_SCHEMA_FILE aj uses
its built-in standalone tables; on a database holding the web app's tables that is refused.

Examples:
  aj schema check
  aj schema check --file ./schema.json
  aj schema check --json | jq -r '.problems[]'

Exit status: 0 the mapping fits, 4 problems found (each is named), 3 the file is missing, unreadable
or invalid, or AJ_SCHEMA_FILE is not set on a database holding the web app's tables.
`;

export function register(program: Command, ctx: Context): void {
  const schema = program.command('schema').description("map the web app's business tables: detect a mapping, check it").addHelpText('after', groupHelp(['aj schema detect --write /etc/aj/schema.json', 'aj schema check']));
  schema
    .command('detect')
    .description("propose a mapping of the web app's tables and show what matched and what is missing")
    .option('--write <file>', 'write the proposal as a mapping file (for AJ_SCHEMA_FILE)')
    .option('--force', 'replace an existing --write file')
    .option('--json', 'print the proposal as JSON')
    .addHelpText('after', DETECT_HELP)
    .action(async (opts: { write?: string; force?: boolean; json?: boolean }) => {
      const { runSchemaDetect } = await import('../src/business/detect.js');
      const report = await runSchemaDetect(ctx, { write: opts.write, force: opts.force });
      if (opts.json) ctx.io.json(detectJson(report));
      else await renderDetect(ctx, report);
      if (report.written) ctx.io.notice(`wrote ${report.written}: review it, then set AJ_SCHEMA_FILE=${report.written} and run \`aj schema check\``);
      if (!report.ok) {
        const missing = report.entities.flatMap((e) => e.missing.map((m) => `${e.entity}: ${m}`));
        const hint = report.written
          ? `map them by hand in ${report.written}, then run \`aj schema check --file ${report.written}\``
          : opts.write ? `${opts.write} was not written (a table is missing): write the mapping file by hand` : 'map them by hand in the file `--write FILE` proposes';
        throw new VerificationError(`required fields not found: ${missing.join('; ')}`, hint);
      }
    });
  schema
    .command('check')
    .description('check the business mapping (AJ_SCHEMA_FILE) against the database')
    .option('--file <file>', 'the mapping file to check (default: $AJ_SCHEMA_FILE)')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', CHECK_HELP)
    .action(async (opts: { file?: string; json?: boolean }) => {
      const { runSchemaCheck } = await import('../src/business/check.js');
      const report = await runSchemaCheck(ctx, { file: opts.file });
      if (opts.json) ctx.io.json(report);
      else await renderCheck(ctx, report);
      if (!report.ok) throw new VerificationError(`${report.problems.length} problem(s) in the business mapping ${report.source}`, 'fix the file, or propose a new one with `aj schema detect --write FILE`');
    });
}

/** One object per entity: what detect proposes for it and what it lacks. */
function detectJson(report: DetectReport) {
  return {
    ok: report.ok,
    preferSchema: report.preferSchema,
    written: report.written ?? null,
    entities: report.entities.map(({ entity, proposed: p, missing, notes }) => ({
      entity, schema: p?.schema ?? null, table: p?.table ?? null, id: p?.id ?? null, idKind: p?.idKind ?? null, columns: p?.columns ?? {}, labels: p?.labels ?? {}, missing, notes,
    })),
  };
}

/** A row per aj field (its column, or blank; `MISSING` when aj needs it), then notes on stderr. */
async function renderDetect(ctx: Context, report: DetectReport): Promise<void> {
  const rows: Array<{ entity: string; field: string; column: string; labels: string }> = [];
  for (const e of report.entities) {
    const p = e.proposed;
    if (!p) {
      rows.push({ entity: e.entity, field: 'table', column: 'MISSING', labels: '' });
      continue;
    }
    rows.push({ entity: e.entity, field: 'table', column: e.table!, labels: '' });
    rows.push({ entity: e.entity, field: 'id', column: `${p.id} (${p.idKind})`, labels: '' });
    for (const [field, spec] of Object.entries(FIELDS[e.entity] as Record<string, { required?: boolean }>)) {
      const labels = Object.entries(p.labels[field] ?? {}).map(([label, values]) => `${label}=${values.join('|')}`).join(' ');
      rows.push({ entity: e.entity, field, column: p.columns[field] ?? (spec.required ? 'MISSING' : ''), labels });
    }
  }
  await renderTable(ctx.io, rows, [
    { header: 'entity', value: (r) => r.entity },
    { header: 'field', value: (r) => r.field },
    { header: 'column', value: (r) => (r.column === 'MISSING' ? ctx.io.paint('red', r.column) : r.column) },
    { header: 'labels', value: (r) => r.labels },
  ]);
  for (const e of report.entities) {
    for (const m of e.missing) ctx.io.warn(`${e.entity}: missing ${m}`);
    for (const n of e.notes) ctx.io.notice(`${e.entity}.${n}`);
  }
}

/** The problems and notes as one table (the check's data); the tables checked when all is well. */
async function renderCheck(ctx: Context, report: SchemaCheckReport): Promise<void> {
  if (report.source === 'built-in') ctx.io.notice('AJ_SCHEMA_FILE is not set: aj uses its built-in standalone tables (the database holds no web app tables)');
  const findings = [...report.problems.map((detail) => ({ level: 'problem', detail })), ...report.notes.map((detail) => ({ level: 'note', detail }))];
  if (findings.length > 0) {
    await renderTable(ctx.io, findings, [
      { header: 'level', value: (f) => (f.level === 'problem' ? ctx.io.paint('red', f.level) : f.level) },
      { header: 'detail', value: (f) => f.detail },
    ]);
  }
  if (report.ok) ctx.io.notice(`the business mapping ${report.source} fits the database: ${ENTITY_NAMES.map((e) => `${e} ${report.tables[e]}`).join(', ')}`);
}
