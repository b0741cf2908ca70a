import type pg from 'pg';
import { OperationError } from '../errors.js';
import type { Entity } from './entities.js';
import type { ProblemLog } from './problems.js';

export type OnConflict = 'update' | 'skip' | 'error';

export interface ApplyCounts {
  inserted: number;
  updated: number;
  unchanged: number;
  skipped: number;
}

/** The staging table: one text column per field (in entity order) plus the file line and the matched row. */
export function stagingTableSql(entity: Entity, fields: string[]): string {
  const extra = entity === 'chantiers' ? ', client_id bigint' : '';
  return `CREATE TEMP TABLE import_stage (line integer NOT NULL, ${fields.map((f) => `${f} text`).join(', ')}, target_id bigint${extra}) ON COMMIT DROP`;
}

export function copySql(fields: string[]): string {
  return `COPY import_stage (line, ${fields.join(', ')}) FROM STDIN`;
}

interface EntitySql {
  table: string;
  columns: string[];
  /** Statements that fill target_id (and client_id) from existing rows. */
  resolve: string[];
  /** Lines that cannot be imported whatever the options: [line, column, value, reason]. */
  checks: string[];
  /** The value inserted for each column, from the staging row s. */
  insert: Record<string, string>;
}

const CLIENT_EMAIL_MATCH = `(SELECT DISTINCT ON (lower(email)) id, lower(email) AS email, reference FROM clients
   WHERE deleted_at IS NULL AND email IS NOT NULL ORDER BY lower(email), id)`;

const ENTITY_SQL: Record<Entity, EntitySql> = {
  clients: {
    table: 'clients',
    columns: ['reference', 'type', 'nom', 'prenom', 'raison_sociale', 'email', 'telephone', 'adresse', 'code_postal', 'ville', 'siret'],
    resolve: [
      `UPDATE import_stage s SET target_id = c.id FROM clients c WHERE c.reference = s.reference`,
      // Else by email, never onto a client that carries another reference.
      `UPDATE import_stage s SET target_id = m.id FROM ${CLIENT_EMAIL_MATCH} m
        WHERE s.target_id IS NULL AND lower(s.email) = m.email AND (m.reference IS NULL OR s.reference IS NULL)`,
    ],
    checks: [
      duplicateCheck('s.reference', 's.reference IS NOT NULL', 'reference'),
      duplicateCheck('lower(s.email)', 's.reference IS NULL AND s.email IS NOT NULL', 'email'),
      sameTargetCheck('client'),
    ],
    insert: { type: `coalesce(s.type, CASE WHEN s.raison_sociale IS NOT NULL OR s.siret IS NOT NULL THEN 'professionnel' ELSE 'particulier' END)` },
  },
  chantiers: {
    table: 'chantiers',
    columns: ['reference', 'client_id', 'nom', 'adresse', 'code_postal', 'ville', 'statut', 'date_debut', 'date_fin'],
    resolve: [
      `UPDATE import_stage s SET client_id = c.id FROM clients c WHERE c.reference = s.client`,
      `UPDATE import_stage s SET client_id = m.id FROM ${CLIENT_EMAIL_MATCH} m WHERE s.client_id IS NULL AND lower(s.client) = m.email`,
      `UPDATE import_stage s SET target_id = ch.id FROM chantiers ch WHERE ch.reference = s.reference`,
    ],
    checks: [
      `SELECT line, 'client', client, 'unknown client: no client has this reference or email (import the clients first)' FROM import_stage WHERE client_id IS NULL`,
      duplicateCheck('s.reference', 's.reference IS NOT NULL', 'reference'),
    ],
    insert: { statut: `coalesce(s.statut, 'prevu')`, date_debut: 's.date_debut::date', date_fin: 's.date_fin::date' },
  },
};

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
export async function applyStaged(client: pg.PoolClient, entity: Entity, onConflict: OnConflict, problems: ProblemLog, skipInvalid: boolean): Promise<ApplyCounts> {
  const sql = ENTITY_SQL[entity];
  for (const statement of sql.resolve) await client.query(statement);
  const checks = [...sql.checks];
  if (onConflict === 'error') checks.push(`SELECT line, 'reference', reference, 'already exists as ${entity.replace(/s$/, '')} #' || target_id || ' (pass --on-conflict update or skip)' FROM import_stage WHERE target_id IS NOT NULL`);
  const bad = new Set<number>();
  for (const check of checks) {
    const { rows } = await client.query({ text: `${check} ORDER BY 1`, rowMode: 'array' });
    for (const [line, column, value, reason] of rows as Array<[number, string, string | null, string]>) {
      problems.add({ line, column, value: value ?? '', reason }, false);
      bad.add(line);
    }
  }
  if (bad.size > 0 && !skipInvalid) return { inserted: 0, updated: 0, unchanged: 0, skipped: 0 };
  if (bad.size > 0) await client.query('DELETE FROM import_stage WHERE line = ANY($1)', [[...bad]]);

  const matched = Number((await client.query('SELECT count(target_id) AS matched FROM import_stage')).rows[0].matched);
  let updated = 0;
  if (onConflict === 'update' && matched > 0) {
    const cols = sql.columns.filter((c) => c !== 'reference' || entity === 'clients');
    const next = cols.map((c) => `coalesce(${c === 'client_id' ? 's.client_id' : c.startsWith('date_') ? `s.${c}::date` : `s.${c}`}, t.${c})`);
    const result = await client.query(
      `UPDATE ${sql.table} t SET ${cols.map((c, i) => `${c} = ${next[i]}`).join(', ')}, updated_at = now()
        FROM import_stage s WHERE t.id = s.target_id AND (${cols.map((c) => `t.${c}`).join(', ')}) IS DISTINCT FROM (${next.join(', ')})`,
    );
    updated = result.rowCount ?? 0;
  }
  const values = sql.columns.map((c) => sql.insert[c] ?? `s.${c}`);
  // A plain INSERT: matches were resolved above in this transaction under the import lock, and
  // ON CONFLICT's speculative insertion costs 50% more per row. A reference the web app creates
  // meanwhile fails the whole import (nothing written), see explainWriteError.
  const inserted = await client
    .query(`INSERT INTO ${sql.table} (${sql.columns.join(', ')}) SELECT ${values.join(', ')} FROM import_stage s WHERE s.target_id IS NULL`)
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
