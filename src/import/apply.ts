import type pg from 'pg';
import { LABELS } from '../business/mapping.js';
import { type BusinessSql, quoteIdent, quoteLiteral } from '../business/sql.js';
import { ConfigError, OperationError } from '../errors.js';
import type { Entity } from './entities.js';
import type { ProblemLog } from './problems.js';

export type OnConflict = 'update' | 'skip' | 'error';

export interface ApplyCounts {
  inserted: number;
  updated: number;
  unchanged: number;
  skipped: number;
}

type Target = 'client' | 'chantier';

// About 100,000 clients: below, matching needs no statistics of the staging table.
const LARGE_TABLE_BYTES = 16 * 1024 * 1024;
const TARGET: Record<Entity, Target> = { clients: 'client', chantiers: 'chantier' };

/** The import's field (snake_case, a staging column) -> the mapping's field (camelCase). */
const mappedField = (field: string) => (field === 'client' ? 'clientId' : field.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()));

/** Fields of the file the app has a column for; the others are read, checked and reported unused. */
export function writableFields(b: BusinessSql, entity: Entity, fields: string[]): string[] {
  return fields.filter((f) => b.has(TARGET[entity], mappedField(f)));
}

/** The staging table: one text column per field (in entity order), the file line, and the matched rows' ids in the app's id type. */
export function stagingTableSql(b: BusinessSql, entity: Entity, fields: string[]): string {
  const extra = entity === 'chantiers' ? `, client_id ${b.idType('client')}` : '';
  return `CREATE TEMP TABLE import_stage (line integer NOT NULL, ${fields.map((f) => `${f} text`).join(', ')}, target_id ${b.idType(TARGET[entity])}${extra}) ON COMMIT DROP`;
}

export function copySql(fields: string[]): string {
  return `COPY import_stage (line, ${fields.join(', ')}) FROM STDIN`;
}

interface EntitySql {
  table: string;
  /** Statements that fill target_id (and client_id) from existing rows. */
  resolve: string[];
  /** Lines that cannot be imported whatever the options: [line, column, value, reason]. */
  checks: string[];
  /** Checks that only matched rows can fail: skipped when the file matches no existing row. */
  matchedChecks: string[];
}

/** Live clients by lower(email), the oldest first when several share one. */
function clientsByEmail(b: BusinessSql): string {
  const reference = b.has('client', 'reference') ? `${b.col('client', 'reference', 'c')}::text` : 'NULL::text';
  const email = `lower(${b.col('client', 'email', 'c')}::text)`;
  return `(SELECT DISTINCT ON (${email}) ${b.id('client', 'c')} AS id, ${email} AS email, ${reference} AS reference FROM ${b.table('client')} c
   WHERE ${b.notDeleted('client', 'c')} AND ${b.col('client', 'email', 'c')} IS NOT NULL ORDER BY ${email}, ${b.id('client', 'c')})`;
}

/** Fills a staging id column with the client whose reference the file names (when the app has references). */
function clientsByReference(b: BusinessSql, idColumn: 'target_id' | 'client_id', reference: string): string[] {
  if (!b.has('client', 'reference')) return [];
  return [`UPDATE import_stage s SET ${idColumn} = ${b.id('client', 'c')} FROM ${b.table('client')} c WHERE ${b.col('client', 'reference', 'c')}::text = ${reference}`];
}

function entitySql(b: BusinessSql, entity: Entity, referencesMayRepeat: boolean): EntitySql {
  const duplicateReferences = referencesMayRepeat ? [duplicateCheck('s.reference', 's.reference IS NOT NULL', 'reference')] : [];
  if (entity === 'clients') {
    return {
      table: b.table('client'),
      resolve: [
        ...clientsByReference(b, 'target_id', 's.reference'),
        // Else by email, never onto a client that carries another reference.
        `UPDATE import_stage s SET target_id = m.id FROM ${clientsByEmail(b)} m
          WHERE s.target_id IS NULL AND lower(s.email) = m.email AND (m.reference IS NULL OR s.reference IS NULL)`,
      ],
      checks: [
        ...duplicateReferences,
        duplicateCheck('lower(s.email)', 's.reference IS NULL AND s.email IS NOT NULL', 'email'),
        ...labelCheck(b, 'client', 'type', 'type'),
      ],
      matchedChecks: [sameTargetCheck('client')],
    };
  }
  if (!b.has('chantier', 'reference')) {
    throw new ConfigError(`chantiers cannot be imported: the mapping of ${b.tableName('chantier')} has no reference column`, 'map chantier.reference in the file AJ_SCHEMA_FILE names');
  }
  return {
    table: b.table('chantier'),
    resolve: [
      ...clientsByReference(b, 'client_id', 's.client'),
      `UPDATE import_stage s SET client_id = m.id FROM ${clientsByEmail(b)} m WHERE s.client_id IS NULL AND lower(s.client) = m.email`,
      `UPDATE import_stage s SET target_id = ${b.id('chantier', 'ch')} FROM ${b.table('chantier')} ch WHERE ${b.col('chantier', 'reference', 'ch')}::text = s.reference`,
    ],
    checks: [
      `SELECT line, 'client', client, 'unknown client: no client has this reference or email (import the clients first)' FROM import_stage WHERE client_id IS NULL`,
      ...duplicateReferences,
      ...labelCheck(b, 'chantier', 'statut', 'statut'),
    ],
    matchedChecks: [],
  };
}

/** A value of the file (staging text) as the app's column stores it; `fresh` adds aj's defaults for new rows. */
function valueOf(b: BusinessSql, entity: Entity, field: string, fresh: boolean): string {
  const target = TARGET[entity];
  const column = mappedField(field);
  if (field === 'client') return 's.client_id';
  if (field === 'type') {
    const kind = fresh ? `coalesce(s.type, CASE WHEN s.raison_sociale IS NOT NULL OR s.siret IS NOT NULL THEN 'professionnel' ELSE 'particulier' END)` : 's.type';
    return b.labelFrom(target, column, kind);
  }
  if (field === 'statut') return b.labelFrom(target, column, fresh ? `coalesce(s.statut, 'prevu')` : 's.statut');
  if (field.startsWith('date_')) return `CASE WHEN s.${field} IS NOT NULL THEN ${b.fromDay(target, column, `s.${field}`)} END`;
  return b.cast(target, column, `s.${field}`);
}

/**
 * A label of the file (already one of aj's words) that the app's mapping has no label for; no
 * query (a scan of every staged row) when the mapping has a label for each of aj's words.
 */
function labelCheck(b: BusinessSql, entity: 'client' | 'chantier', field: 'type' | 'statut', column: string): string[] {
  if (!b.has(entity, field)) return [];
  const mapped = Object.entries(b.mapping.entities[entity].labels[field] ?? {}).filter(([, v]) => v.length > 0).map(([k]) => k);
  const words: readonly string[] = (LABELS[entity] as Record<string, readonly string[]>)[field] ?? [];
  if (words.every((word) => mapped.includes(word))) return [];
  const known = mapped.map(quoteLiteral);
  const unknown = known.length > 0 ? `s.${column} NOT IN (${known.join(', ')})` : 'TRUE';
  return [`SELECT line, '${column}', ${column}, 'the app has no ${field} label for "' || ${column} || '" (add it to the mapping or change the file)' FROM import_stage s WHERE s.${column} IS NOT NULL AND ${unknown}`];
}

/** Later lines repeating an earlier key; one aggregation, then a join only on the repeated keys. */
function duplicateCheck(key: string, where: string, column: string): string {
  return `WITH firsts AS (SELECT ${key} AS key, min(line) AS first_line FROM import_stage s WHERE ${where} GROUP BY 1 HAVING count(*) > 1)
    SELECT s.line, '${column}', ${key}, 'duplicate: line ' || s.line || ' repeats line ' || f.first_line
      FROM import_stage s JOIN firsts f ON ${key} = f.key WHERE ${where} AND s.line > f.first_line`;
}

function sameTargetCheck(noun: string): string {
  return `WITH firsts AS (SELECT target_id, min(line) AS first_line FROM import_stage WHERE target_id IS NOT NULL GROUP BY target_id HAVING count(*) > 1)
    SELECT s.line, 'reference', coalesce(s.reference, s.email), 'lines ' || f.first_line || ' and ' || s.line || ' both match ${noun} #' || s.target_id
      FROM import_stage s JOIN firsts f USING (target_id) WHERE s.line > f.first_line`;
}

/**
 * Set-based checks and writes from the staging table, inside the caller's transaction.
 * Problems found here are logged; with skipInvalid their lines are dropped, else the caller rolls back.
 */
export async function applyStaged(
  client: pg.PoolClient, b: BusinessSql, entity: Entity, fields: string[], onConflict: OnConflict, problems: ProblemLog, skipInvalid: boolean, referencesMayRepeat: boolean,
): Promise<ApplyCounts> {
  const sql = entitySql(b, entity, referencesMayRepeat);
  const target = TARGET[entity];
  // Statistics of the columns rows are matched on, so that matching against a large table gets a
  // fitting join; against a small one any join is quick, and sampling 30,000 staged rows is not
  // (0.2-0.9 s at a million rows). All thirteen columns took 0.6 s at 100k rows.
  const { rows: [sizes] } = await client.query(`SELECT greatest(pg_relation_size($1::regclass), pg_relation_size($2::regclass)) AS bytes`, [sql.table, b.table('client')]);
  if (Number(sizes.bytes) > LARGE_TABLE_BYTES) await client.query(`ANALYZE import_stage (reference, ${entity === 'clients' ? 'email' : 'client'})`);
  for (const statement of sql.resolve) await client.query(statement);
  const countMatched = async () => Number((await client.query('SELECT count(target_id) AS matched FROM import_stage')).rows[0].matched);
  let matched = await countMatched();
  const checks = [...sql.checks];
  if (matched > 0) checks.push(...sql.matchedChecks);
  if (onConflict === 'error' && matched > 0) checks.push(`SELECT line, 'reference', reference, 'already exists as ${target} #' || target_id || ' (pass --on-conflict update or skip)' FROM import_stage WHERE target_id IS NOT NULL`);
  const bad = new Set<number>();
  for (const check of checks) {
    const { rows } = await client.query({ text: `${check} ORDER BY 1`, rowMode: 'array' });
    for (const [line, column, value, reason] of rows as Array<[number, string, string | null, string]>) {
      problems.add({ line, column, value: value ?? '', reason }, false);
      bad.add(line);
    }
  }
  if (bad.size > 0 && !skipInvalid) return { inserted: 0, updated: 0, unchanged: 0, skipped: 0 };
  if (bad.size > 0) {
    await client.query('DELETE FROM import_stage WHERE line = ANY($1)', [[...bad]]);
    matched = await countMatched();
  }

  const written = writableFields(b, entity, fields);
  const columnOf = (f: string) => quoteIdent(b.columnName(target, mappedField(f)));
  let updated = 0;
  if (onConflict === 'update' && matched > 0) {
    const cols = written.filter((f) => f !== 'reference' || entity === 'clients');
    const next = cols.map((f) => `coalesce(${valueOf(b, entity, f, false)}, t.${columnOf(f)})`);
    const result = await client.query(
      `UPDATE ${sql.table} t SET ${[...cols.map((f, i) => `${columnOf(f)} = ${next[i]}`), ...b.touch(target)].join(', ')}
        FROM import_stage s WHERE ${b.id(target, 't')} = s.target_id AND (${cols.map((f) => `t.${columnOf(f)}`).join(', ')}) IS DISTINCT FROM (${next.join(', ')})`,
    );
    updated = result.rowCount ?? 0;
  }
  const extras = b.insertExtras(target);
  const columns = [...written.map(columnOf), ...extras.map(([c]) => c)];
  const values = [...written.map((f) => valueOf(b, entity, f, true)), ...extras.map(([, v]) => v)];
  // A plain INSERT: matches were resolved above in this transaction under the import lock, and
  // ON CONFLICT's speculative insertion costs 50% more per row. A reference the web app creates
  // meanwhile fails the whole import (nothing written), see explainWriteError.
  const inserted = await client
    .query(`INSERT INTO ${sql.table} (${columns.join(', ')}) SELECT ${values.join(', ')} FROM import_stage s WHERE s.target_id IS NULL`)
    .catch((error: unknown) => Promise.reject(explainWriteError(error, entity)));
  return {
    inserted: inserted.rowCount ?? 0,
    updated,
    unchanged: onConflict === 'update' ? matched - updated : 0,
    skipped: onConflict === 'skip' ? matched : 0,
  };
}

function explainWriteError(error: unknown, entity: Entity): unknown {
  const e = error as { code?: string; detail?: string };
  if (e.code !== '23505') return error;
  return new OperationError(`${entity}: ${e.detail ?? 'a reference already exists'} (created while the import ran)`, 'run the import again; nothing was written');
}
