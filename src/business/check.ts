import type { Context } from '../context.js';
import { ConfigError } from '../errors.js';
import { AMOUNT_TYPES, type ColumnInfo, DAY_TYPES, ID_TYPES, INSTANT_TYPES, TEXT_TYPES, type TableInfo, readTables } from './catalog.js';
import { readMappingFile } from './load.js';
import { type BusinessMapping, ENTITY_NAMES, type EntityMapping, type EntityName, FIELDS, type FieldKind, type FieldSpec, type IdKind, LABELS, ONE_OF, REQUIRED_LABELS, builtinMapping } from './mapping.js';
import { tableName } from './words.js';

export interface MappingCheck {
  /** What would make aj fail or write wrong data: the mapping must be fixed. */
  problems: string[];
  /** What aj does differently with this app (optional fields absent, labels the database does not enforce). */
  notes: string[];
}

/** The entities aj inserts rows into (`aj import`): their other NOT NULL columns must have defaults. */
const INSERTED: readonly EntityName[] = ['client', 'chantier'];

const KIND_TYPES: Record<Exclude<FieldKind, 'link'>, { fits: (c: ColumnInfo) => boolean; expected: string }> = {
  day: { fits: (c) => DAY_TYPES.has(c.baseType) || INSTANT_TYPES.has(c.baseType), expected: 'a day needs date, timestamp or timestamptz' },
  instant: { fits: (c) => INSTANT_TYPES.has(c.baseType), expected: 'an instant needs timestamp or timestamptz' },
  amount: { fits: (c) => AMOUNT_TYPES.has(c.baseType), expected: 'an amount needs numeric, an integer, a float or money' },
  text: { fits: (c) => TEXT_TYPES.has(c.baseType), expected: 'text needs text, varchar, char or citext' },
  label: { fits: (c) => TEXT_TYPES.has(c.baseType) || c.isEnum, expected: 'a label needs an enum, text or varchar' },
  flag: { fits: (c) => c.baseType === 'bool', expected: 'a flag needs boolean' },
};

/** Whether a column's type can hold a field of this kind (links are compared with the client id instead). */
export function kindFits(kind: Exclude<FieldKind, 'link'>, column: ColumnInfo): boolean {
  return KIND_TYPES[kind].fits(column);
}

/** Integer widths, and the text types, compare equal: a foreign key may join them. */
export function idFamily(baseType: string): string {
  if (['int2', 'int4', 'int8'].includes(baseType)) return 'integer';
  if (TEXT_TYPES.has(baseType)) return 'text';
  return baseType;
}

/** Why an id kind does not fit the id column, or undefined when it does. */
export function idKindMisfit(kind: IdKind, column: ColumnInfo): string | undefined {
  if (kind === 'generated') return column.hasDefault ? undefined : 'has no default or identity, so the database cannot make ids (use cuid or uuid if the app makes them)';
  if (kind === 'cuid') return TEXT_TYPES.has(column.baseType) ? undefined : `is ${column.type}; cuid ids need a text column`;
  return column.baseType === 'uuid' || TEXT_TYPES.has(column.baseType) ? undefined : `is ${column.type}; uuid ids need a uuid or text column`;
}

export interface SchemaCheckReport extends MappingCheck {
  ok: boolean;
  /** The mapping file checked, or `built-in` (aj's standalone tables in its own schema). */
  source: string;
  /** The tables the mapping names, as `public."Client"`. */
  tables: Record<EntityName, string>;
}

/**
 * `aj schema check`: the mapping file (--file, else AJ_SCHEMA_FILE) against the live catalog.
 * Without a file, aj's built-in tables are checked, unless the app's tables are there: then aj
 * refuses (exit 3), as every business command would.
 */
export async function runSchemaCheck(ctx: Context, opts: { file?: string } = {}): Promise<SchemaCheckReport> {
  const config = ctx.config();
  const file = opts.file ?? config.schemaFile;
  const db = await ctx.db();
  let mapping: BusinessMapping;
  if (file) {
    mapping = readMappingFile(file);
  } else {
    const { appTablesPresent } = await import('./detect.js');
    const found = await appTablesPresent(db.pool, config.dbSchema);
    if (found.length > 0) {
      throw new ConfigError(
        `AJ_SCHEMA_FILE is not set, so aj would use its built-in tables in schema ${config.dbSchema}, but this database holds the web app's tables (${found.slice(0, 4).join(', ')})`,
        'run `aj schema detect --write aj-schema.json`, review the file, then set AJ_SCHEMA_FILE to it',
      );
    }
    mapping = builtinMapping(config.dbSchema);
  }
  const schemas = [...new Set(ENTITY_NAMES.map((e) => mapping.entities[e].schema))];
  const checked = checkMapping(mapping, await readTables(db.pool, { schemas }));
  const tables = Object.fromEntries(ENTITY_NAMES.map((e) => [e, tableName(mapping.entities[e].schema, mapping.entities[e].table)])) as Record<EntityName, string>;
  return { ok: checked.problems.length === 0, source: mapping.source, tables, ...checked };
}

/** Checks a mapping against the tables the catalog holds; never touches the data. */
export function checkMapping(mapping: BusinessMapping, tables: TableInfo[]): MappingCheck {
  const found = (e: EntityMapping) => tables.find((t) => t.schema === e.schema && t.name === e.table);
  const result: MappingCheck = { problems: [], notes: [] };
  const client = mapping.entities.client;
  const clientId = found(client)?.columns.get(client.id);
  for (const name of ENTITY_NAMES) {
    const entity = mapping.entities[name];
    const table = found(entity);
    if (!table) result.problems.push(`${name}: table ${tableName(entity.schema, entity.table)} not found`);
    else checkEntity(name, entity, table, clientId, result);
  }
  return result;
}

function checkEntity(name: EntityName, entity: EntityMapping, table: TableInfo, clientId: ColumnInfo | undefined, out: MappingCheck): void {
  const where = tableName(table.schema, table.name);
  const fields: Record<string, FieldSpec> = FIELDS[name];
  const id = table.columns.get(entity.id);
  if (!id) out.problems.push(`${name}.id: column "${entity.id}" not found in ${where}`);
  else if (!ID_TYPES.has(id.baseType)) out.problems.push(`${name}.id: column "${entity.id}" is ${id.type}, not an id type`);
  else {
    const misfit = idKindMisfit(entity.idKind, id);
    // aj makes ids only for the rows it inserts; elsewhere a misfit is worth knowing, not fatal.
    if (misfit) (INSERTED.includes(name) ? out.problems : out.notes).push(`${name}.idKind: ${entity.idKind}, but column "${entity.id}" ${misfit}`);
  }

  for (const [field, columnName] of Object.entries(entity.columns)) {
    const spec = fields[field];
    const column = table.columns.get(columnName);
    if (!spec) continue;
    if (!column) {
      out.problems.push(`${name}.${field}: column "${columnName}" not found in ${where}`);
      continue;
    }
    if (spec.kind === 'link') {
      if (clientId && idFamily(column.baseType) !== idFamily(clientId.baseType)) {
        out.problems.push(`${name}.${field}: column "${columnName}" is ${column.type}, the client id is ${clientId.type}`);
      }
    } else if (!kindFits(spec.kind, column)) {
      out.problems.push(`${name}.${field}: column "${columnName}" is ${column.type}; ${KIND_TYPES[spec.kind].expected}`);
    }
  }

  checkLabels(name, entity, table, out);

  for (const [field, spec] of Object.entries(fields)) {
    if (entity.columns[field]) continue;
    if (spec.required) out.problems.push(`${name}.${field}: required, not mapped`);
    else if (spec.without) out.notes.push(`${name}.${field}: not mapped: ${spec.without}`);
  }
  for (const group of ONE_OF[name] ?? []) {
    if (!group.some((f) => entity.columns[f])) out.problems.push(`${name}: map one of ${group.join(', ')} (aj computes dates from it)`);
  }

  if (INSERTED.includes(name)) {
    const mapped = new Set([entity.id, ...Object.values(entity.columns)]);
    for (const column of table.columns.values()) {
      if (column.notNull && !column.hasDefault && !mapped.has(column.name)) {
        out.problems.push(`${name}: column "${column.name}" is NOT NULL without a default and aj does not map it, so aj import could not insert into ${where}`);
      }
    }
  }
}

function checkLabels(name: EntityName, entity: EntityMapping, table: TableInfo, out: MappingCheck): void {
  const labelFields: Record<string, readonly string[]> = LABELS[name];
  const required: Record<string, readonly string[]> = REQUIRED_LABELS[name] ?? {};
  for (const field of Object.keys(labelFields)) {
    const labels = entity.labels[field] ?? {};
    const columnName = entity.columns[field];
    const column = columnName ? table.columns.get(columnName) : undefined;
    if (!columnName) {
      if (Object.keys(labels).length > 0) out.problems.push(`${name}.labels.${field}: labels given but ${name}.${field} has no column`);
      continue;
    }
    for (const label of required[field] ?? []) {
      if (!labels[label]?.length) out.problems.push(`${name}.${field}: no app label for ${label} (aj needs it)`);
    }
    if (!column) continue;
    if (!column.allowed) {
      if (Object.keys(labels).length > 0) out.notes.push(`${name}.${field}: column "${columnName}" has no enum or CHECK constraint, so the database does not enforce these labels: check they are spelled as the app writes them`);
      continue;
    }
    for (const [label, values] of Object.entries(labels)) {
      for (const value of values) {
        if (!column.allowed.includes(value)) {
          out.problems.push(`${name}.${field}: "${value}" (for ${label}) is not allowed by column "${columnName}" (${column.isEnum ? `enum ${column.type}` : 'CHECK'}: ${column.allowed.join(', ')})`);
        }
      }
    }
  }
}
