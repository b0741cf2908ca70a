import type { Queryable } from '../db/pool.js';

/** Every user table, as `schema.table`, with its exact row count as seen by the given session. */
export async function countRows(client: Queryable): Promise<Record<string, number>> {
  const { rows: tables } = await client.query<{ name: string; ident: string }>(
    `SELECT format('%s.%s', n.nspname, c.relname) AS name, format('%I.%I', n.nspname, c.relname) AS ident
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
        AND n.nspname NOT LIKE 'pg_temp%'
      ORDER BY 1`,
  );
  const counts: Record<string, number> = {};
  if (tables.length === 0) return counts;
  // One statement for all tables: a single round trip, counted within one snapshot.
  const sql = tables.map((t, i) => `SELECT ${i} AS i, count(*)::bigint AS n FROM ${t.ident}`).join(' UNION ALL ');
  const { rows } = await client.query<{ i: number; n: string }>(sql);
  for (const row of rows) counts[tables[row.i]!.name] = Number(row.n);
  return counts;
}

export interface CountDifference {
  table: string;
  expected: number | null;
  actual: number | null;
}

/** Tables whose counts differ, or that exist on one side only. */
export function compareCounts(expected: Record<string, number>, actual: Record<string, number>): CountDifference[] {
  const tables = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort();
  return tables
    .filter((t) => expected[t] !== actual[t])
    .map((t) => ({ table: t, expected: expected[t] ?? null, actual: actual[t] ?? null }));
}
