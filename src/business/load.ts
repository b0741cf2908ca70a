import { readFileSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import type { Db } from '../db/pool.js';
import { ConfigError } from '../errors.js';
import { type TableInfo, readTables } from './catalog.js';
import { type BusinessMapping, ENTITY_NAMES, type EntityName, FIELDS, type FieldSpec, ONE_OF, REQUIRED_LABELS, builtinMapping, parseMappingFile } from './mapping.js';
import { BusinessSql } from './sql.js';

const DETECT_HINT = 'run `aj schema detect --write aj-schema.json`, review the file, then set AJ_SCHEMA_FILE to it';

/** Reads and parses the mapping file AJ_SCHEMA_FILE names; every problem is a configuration error (exit 3). */
export function readMappingFile(path: string): BusinessMapping {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigError(`cannot read the business mapping ${path}: ${reason}`, `check AJ_SCHEMA_FILE, or write one with \`aj schema detect --write ${path}\``);
  }
  const { mapping, problems } = parseMappingFile(data, path);
  if (!mapping) throw new ConfigError(`the business mapping ${path} is not valid: ${problems.join('; ')}`, 'fix the file, then run `aj schema check`');
  return mapping;
}

/**
 * The business tables aj works on, with their column types read from the catalog: the mapping file
 * AJ_SCHEMA_FILE names, else aj's own standalone tables. Without a file on a database that holds
 * the app's tables, aj refuses (exit 3) rather than silently working on its own empty tables.
 */
export async function loadBusiness(db: Db, config: Config): Promise<BusinessSql> {
  let mapping: BusinessMapping;
  if (config.schemaFile) {
    mapping = readMappingFile(config.schemaFile);
  } else {
    const { appTablesPresent } = await import('./detect.js');
    const found = await appTablesPresent(db.pool, config.dbSchema);
    if (found.length > 0) {
      throw new ConfigError(`AJ_SCHEMA_FILE is not set and this database holds the web app's tables (${found.slice(0, 4).join(', ')})`, DETECT_HINT);
    }
    mapping = builtinMapping(config.dbSchema);
  }
  const schemas = [...new Set(ENTITY_NAMES.map((e) => mapping.entities[e].schema))];
  const tables = await readTables(db.pool, { schemas });
  const byEntity = {} as Record<EntityName, TableInfo>;
  for (const entity of ENTITY_NAMES) byEntity[entity] = tableOf(mapping, entity, tables);
  return new BusinessSql(mapping, byEntity, config.timezone);
}

/** The mapped table with every mapped column present and what aj cannot work without; else exit 3 naming it. */
function tableOf(mapping: BusinessMapping, entity: EntityName, tables: TableInfo[]): TableInfo {
  const e = mapping.entities[entity];
  const fix = mapping.source === 'built-in' ? 'run `aj db migrate`' : 'run `aj schema check` and fix the mapping';
  const table = tables.find((t) => t.schema === e.schema && t.name === e.table);
  if (!table) throw new ConfigError(`${entity}: table ${e.schema}.${e.table} does not exist (mapping: ${mapping.source})`, fix);
  const missing = [e.id, ...Object.values(e.columns)].filter((c) => !table.columns.has(c));
  if (missing.length > 0) throw new ConfigError(`${entity}: ${e.schema}.${e.table} has no column ${missing.join(', ')} (mapping: ${mapping.source})`, fix);
  const fields: Record<string, FieldSpec> = FIELDS[entity];
  const unmapped = Object.keys(fields).filter((f) => fields[f]!.required && !e.columns[f]);
  for (const group of ONE_OF[entity] ?? []) if (!group.some((f) => e.columns[f])) unmapped.push(group.join(' or '));
  for (const [field, labels] of Object.entries(REQUIRED_LABELS[entity] ?? {})) {
    for (const label of labels) if (!e.labels[field]?.[label]?.length) unmapped.push(`label ${field}.${label}`);
  }
  if (unmapped.length > 0) throw new ConfigError(`${entity}: the mapping ${mapping.source} lacks ${unmapped.join(', ')}`, fix);
  return table;
}
