import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { link, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Context } from '../context.js';
import { parseDatabaseUrl } from '../db/connection.js';
import type { Db, Queryable } from '../db/pool.js';
import { OperationError, UsageError } from '../errors.js';
import { type ColumnInfo, type TableInfo, readTables } from './catalog.js';
import { idFamily, idKindMisfit, kindFits } from './check.js';
import { type BusinessMapping, ENTITY_NAMES, type EntityMapping, type EntityName, FIELDS, type FieldSpec, type IdKind, LABELS, ONE_OF, REQUIRED_LABELS, toMappingFile } from './mapping.js';
import { quoteIdent } from './sql.js';
import { COLUMN_WORDS, TABLE_WORDS, matchLabels, tableName, wordRank } from './words.js';

/** What detect found for one entity: the proposed mapping when a table matched, and what it lacks. */
export interface EntityDetection {
  entity: EntityName;
  /** `public."Client"`, when a table matched. */
  table?: string;
  proposed?: EntityMapping;
  /** Required fields, labels or tables not found; aj cannot work until they are mapped. */
  missing: string[];
  notes: string[];
}

export interface Detection {
  /** Every required field and label was found. */
  ok: boolean;
  entities: EntityDetection[];
  /** The whole proposal, when every entity has a table (it may still lack required fields). */
  mapping?: BusinessMapping;
}

/** Distinct values of a column, for a status held as plain text with no enum or CHECK to read. */
export type Sampler = (schema: string, table: string, column: string) => Promise<string[]>;

export interface ProposeOptions {
  /** The schema of DATABASE_URL's `?schema=`: preferred when a table name exists in several schemas. */
  preferSchema?: string;
  sample?: Sampler;
  source?: string;
}

/** Proposes a mapping from the app's tables (those outside aj's schema), by name, type and foreign key. */
export async function proposeMapping(tables: TableInfo[], opts: ProposeOptions = {}): Promise<Detection> {
  const chosen = Object.fromEntries(ENTITY_NAMES.map((e) => [e, pickTable(e, tables, opts.preferSchema ?? 'public')])) as Record<EntityName, TableInfo | undefined>;
  const client = chosen.client;
  const clientId = client && idColumn(client);
  const entities: EntityDetection[] = [];
  for (const entity of ENTITY_NAMES) {
    const table = chosen[entity];
    if (!table) entities.push({ entity, missing: [`table (looked for ${TABLE_WORDS[entity].join(', ')})`], notes: [] });
    else entities.push(await proposeEntity(entity, table, client, clientId, opts.sample));
  }
  const ok = entities.every((e) => e.missing.length === 0);
  if (entities.some((e) => !e.proposed)) return { ok, entities };
  const mapped = Object.fromEntries(entities.map((e) => [e.entity, e.proposed!])) as Record<EntityName, EntityMapping>;
  return { ok, entities, mapping: { source: opts.source ?? 'detected', entities: mapped } };
}

/** The preferred schema's table first, then public's, then by how common the name is. */
function pickTable(entity: EntityName, tables: TableInfo[], preferSchema: string): TableInfo | undefined {
  const schemaRank = (t: TableInfo) => (t.schema === preferSchema ? 0 : t.schema === 'public' ? 1 : 2);
  return tables
    .filter((t) => wordRank(TABLE_WORDS[entity], t.name) >= 0)
    .sort((a, b) => schemaRank(a) - schemaRank(b) || wordRank(TABLE_WORDS[entity], a.name) - wordRank(TABLE_WORDS[entity], b.name))[0];
}

function idColumn(table: TableInfo): ColumnInfo | undefined {
  return table.columns.get(table.primaryKey ?? 'id');
}

/** Who makes new ids: the database when the column has a default, else aj, in the column's format. */
function idKindOf(column: ColumnInfo): IdKind {
  if (column.hasDefault) return 'generated';
  return column.baseType === 'uuid' ? 'uuid' : idFamily(column.baseType) === 'text' ? 'cuid' : 'generated';
}

async function proposeEntity(entity: EntityName, table: TableInfo, client: TableInfo | undefined, clientId: ColumnInfo | undefined, sample?: Sampler): Promise<EntityDetection> {
  const found: EntityDetection = { entity, table: tableName(table.schema, table.name), missing: [], notes: [] };
  const id = idColumn(table);
  if (!id) found.missing.push('id (no primary key or id column)');
  const idKind = id ? idKindOf(id) : 'generated';
  const misfit = id && idKindMisfit(idKind, id);
  if (misfit) found.notes.push(`id: column "${id.name}" ${misfit}`);

  const columns = matchColumns(entity, table, id?.name, client, clientId, found.notes);
  const labels: EntityMapping['labels'] = {};
  for (const field of Object.keys(LABELS[entity])) {
    const column = columns[field] === undefined ? undefined : table.columns.get(columns[field]!);
    if (column) labels[field] = await matchFieldLabels(entity, field, table, column, found, sample);
  }

  const fields: Record<string, FieldSpec> = FIELDS[entity];
  for (const [field, spec] of Object.entries(fields)) {
    if (columns[field]) continue;
    if (spec.required) found.missing.push(field);
    else if (spec.without) found.notes.push(`${field}: no column found: ${spec.without}`);
  }
  for (const group of ONE_OF[entity] ?? []) if (!group.some((f) => columns[f])) found.missing.push(group.join(' or '));
  for (const [field, required] of Object.entries(REQUIRED_LABELS[entity] ?? {})) {
    if (!columns[field]) continue;
    for (const label of required) if (!labels[field]?.[label]) found.missing.push(`${field} label ${label}`);
  }
  found.proposed = { schema: table.schema, table: table.name, id: id?.name ?? 'id', idKind, columns, labels };
  return found;
}

/**
 * aj field -> column. The client link is the foreign key to the client table when there is one;
 * other fields go by name (best-ranked word first) among columns whose type fits, each column used once.
 */
function matchColumns(entity: EntityName, table: TableInfo, id: string | undefined, client: TableInfo | undefined, clientId: ColumnInfo | undefined, notes: string[]): Record<string, string> {
  const used = new Set(id ? [id] : []);
  const columns: Record<string, string> = {};
  const fields: Record<string, FieldSpec> = FIELDS[entity];
  const words: Record<string, readonly string[]> = COLUMN_WORDS[entity];
  for (const [field, spec] of Object.entries(fields)) {
    const named = [...table.columns.values()]
      .filter((c) => !used.has(c.name) && wordRank(words[field] ?? [], c.name) >= 0)
      .sort((a, b) => wordRank(words[field]!, a.name) - wordRank(words[field]!, b.name));
    let pick: ColumnInfo | undefined;
    if (spec.kind === 'link') {
      const keyed = [...table.references].filter(([c, ref]) => !used.has(c) && client && ref.schema === client.schema && ref.table === client.name).map(([c]) => table.columns.get(c)!);
      const sameType = (c: ColumnInfo) => !clientId || idFamily(c.baseType) === idFamily(clientId.baseType);
      pick = keyed.find((c) => named.includes(c)) ?? keyed[0] ?? named.find(sameType);
    } else {
      pick = named.find((c) => kindFits(spec.kind as Exclude<typeof spec.kind, 'link'>, c));
    }
    if (pick) {
      columns[field] = pick.name;
      used.add(pick.name);
    } else if (named[0]) {
      notes.push(`${field}: column "${named[0].name}" has the name but its type (${named[0].type}) does not fit, so it is not mapped`);
    }
  }
  return columns;
}

/** aj label -> the app's labels, read from the enum or CHECK constraint, else sampled from the rows. */
async function matchFieldLabels(entity: EntityName, field: string, table: TableInfo, column: ColumnInfo, found: EntityDetection, sample?: Sampler): Promise<Record<string, string[]>> {
  let values = column.allowed;
  if (!values && sample) {
    values = await sample(table.schema, table.name, column.name);
    found.notes.push(`${field}: column "${column.name}" has no enum or CHECK constraint; labels taken from the values in the table (${values.join(', ') || 'none yet'}): review them`);
  }
  const labels: Record<string, string[]> = {};
  const ajLabels: readonly string[] = (LABELS[entity] as Record<string, readonly string[]>)[field] ?? [];
  const required: readonly string[] = (REQUIRED_LABELS[entity] as Record<string, readonly string[]> | undefined)?.[field] ?? [];
  for (const label of ajLabels) {
    const matched = matchLabels(label, values ?? []);
    if (matched.length > 0) labels[label] = matched;
    else if (!required.includes(label)) found.notes.push(`${field}: no app label found for ${label}`);
  }
  const unused = (values ?? []).filter((v) => !Object.values(labels).some((l) => l.includes(v)));
  if (unused.length > 0) found.notes.push(`${field}: app labels aj has no word for (aj leaves them alone): ${unused.join(', ')}`);
  return labels;
}

/**
 * Tables outside aj's schema named like the app's clients, devis or factures (`public."Client"`):
 * the sign that aj must be given a mapping rather than use its own standalone tables.
 */
export async function appTablesPresent(db: Queryable, ajSchema: string): Promise<string[]> {
  const names = [...TABLE_WORDS.client, ...TABLE_WORDS.devis, ...TABLE_WORDS.facture];
  const { rows } = await db.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
        AND n.nspname <> $1 AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
        AND lower(regexp_replace(c.relname, '[^A-Za-z0-9]', '', 'g')) = ANY($2)
      ORDER BY 1, 2`,
    [ajSchema, names],
  );
  return rows.map((r) => tableName(r.schema, r.name));
}

export interface DetectOptions {
  /** Write the proposal to this mapping file. */
  write?: string;
  force?: boolean;
}

export interface DetectReport extends Detection {
  preferSchema: string;
  /** The file written, when --write was given and every entity has a table. */
  written?: string;
}

/** `aj schema detect`: reads the live catalog (outside aj's schema) and proposes a mapping; writes it on request. */
export async function runSchemaDetect(ctx: Context, opts: DetectOptions): Promise<DetectReport> {
  // Refused before any work: the file may be the reviewed mapping the server runs on.
  if (opts.write && !opts.force && existsSync(opts.write)) throw new UsageError(`${opts.write} already exists`, 'pass --force to replace it');
  const config = ctx.config();
  const preferSchema = parseDatabaseUrl(config.databaseUrl).schema ?? 'public';
  const db = await ctx.db();
  const tables = await readTables(db.pool, { exclude: [config.dbSchema] });
  const detection = await proposeMapping(tables, { preferSchema, sample: sampler(db), source: opts.write });
  if (!opts.write || !detection.mapping) return { ...detection, preferSchema };
  const day = ctx.clock().toISOString().slice(0, 10);
  const comment = `Proposed by \`aj schema detect\` on ${day}. Review it, keep it with the server's configuration, then set AJ_SCHEMA_FILE to its path and run \`aj schema check\`.`;
  await writeAtomically(opts.write, `${JSON.stringify(toMappingFile(detection.mapping, comment), null, 2)}\n`, Boolean(opts.force));
  return { ...detection, preferSchema, written: opts.write };
}

function sampler(db: Db): Sampler {
  return async (schema, table, column) => {
    const rows = await db.query<{ v: string }>(
      `SELECT DISTINCT ${quoteIdent(column)}::text AS v FROM ${quoteIdent(schema)}.${quoteIdent(table)} WHERE ${quoteIdent(column)} IS NOT NULL ORDER BY 1 LIMIT 100`,
    );
    return rows.map((r) => r.v);
  };
}

/** Whole or not at all: a temporary file beside the target, then link (refuses an existing file) or rename (replaces it). */
async function writeAtomically(path: string, text: string, replace: boolean): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(temp, text, { flag: 'wx', mode: 0o644 });
    if (replace) await rename(temp, path);
    else await link(temp, path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && !replace) throw new UsageError(`${path} already exists`, 'pass --force to replace it');
    throw new OperationError(`cannot write ${path}: ${code ?? (error as Error).message}`, 'check the directory exists and is writable', { cause: error });
  } finally {
    await rm(temp, { force: true });
  }
}
