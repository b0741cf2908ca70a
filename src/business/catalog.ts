import type { Queryable } from '../db/pool.js';

/** What aj needs to know of one column of the app's tables, read from PostgreSQL's catalog. */
export interface ColumnInfo {
  name: string;
  /** format_type(): usable as a cast target, schema-qualified when not on aj's search_path. */
  type: string;
  /** The base type's name (date, timestamp, timestamptz, text, varchar, numeric, int4, bool, uuid, ...; an enum's own name). */
  baseType: string;
  isEnum: boolean;
  notNull: boolean;
  /** A DEFAULT, identity or generated column: the database fills it on insert. */
  hasDefault: boolean;
  /** Enum labels, or the values a CHECK constraint allows (`col IN (...)`), else undefined. */
  allowed?: string[];
}

export interface TableInfo {
  schema: string;
  name: string;
  columns: Map<string, ColumnInfo>;
  /** Column -> referenced "schema"."table" of single-column foreign keys. */
  references: Map<string, { schema: string; table: string; column: string }>;
  /** Single-column primary key, if any. */
  primaryKey?: string;
}

/**
 * Every ordinary or partitioned table of the given schemas (or of all user schemas but `exclude`),
 * with its columns, in two catalog queries.
 */
export async function readTables(db: Queryable, where: { schemas?: string[]; exclude?: string[] }): Promise<TableInfo[]> {
  const { rows } = await db.query<{
    schema: string; table: string; column: string; type: string; base_type: string; is_enum: boolean;
    not_null: boolean; has_default: boolean; enum_labels: string[] | null; checks: string[] | null;
    ref_schema: string | null; ref_table: string | null; ref_column: string | null; is_pk: boolean;
  }>(
    `SELECT n.nspname AS schema, c.relname AS table, a.attname AS column,
            format_type(a.atttypid, a.atttypmod) AS type,
            bt.typname AS base_type, bt.typtype = 'e' AS is_enum,
            a.attnotnull AS not_null,
            (a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '') AS has_default,
            CASE WHEN bt.typtype = 'e' THEN (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = bt.oid) END AS enum_labels,
            (SELECT array_agg(pg_get_constraintdef(k.oid)) FROM pg_constraint k
              WHERE k.conrelid = c.oid AND k.contype = 'c' AND k.conkey = ARRAY[a.attnum]) AS checks,
            rn.nspname AS ref_schema, rc.relname AS ref_table, ra.attname AS ref_column,
            EXISTS (SELECT 1 FROM pg_constraint p WHERE p.conrelid = c.oid AND p.contype = 'p' AND p.conkey = ARRAY[a.attnum]) AS is_pk
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       JOIN pg_type t ON t.oid = a.atttypid
       JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
       LEFT JOIN pg_constraint f ON f.conrelid = c.oid AND f.contype = 'f' AND f.conkey = ARRAY[a.attnum]
       LEFT JOIN pg_class rc ON rc.oid = f.confrelid
       LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
       LEFT JOIN pg_attribute ra ON ra.attrelid = f.confrelid AND ra.attnum = f.confkey[1]
      WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
        AND ($1::text[] IS NULL OR n.nspname = ANY($1))
        AND ($2::text[] IS NULL OR n.nspname <> ALL($2))
      ORDER BY n.nspname, c.relname, a.attnum`,
    [where.schemas ?? null, where.exclude ?? null],
  );
  const tables = new Map<string, TableInfo>();
  for (const r of rows) {
    const key = `${r.schema}.${r.table}`;
    let table = tables.get(key);
    if (!table) {
      table = { schema: r.schema, name: r.table, columns: new Map(), references: new Map() };
      tables.set(key, table);
    }
    if (!table.columns.has(r.column)) {
      table.columns.set(r.column, {
        name: r.column, type: r.type, baseType: r.base_type, isEnum: r.is_enum, notNull: r.not_null, hasDefault: r.has_default,
        allowed: r.enum_labels ?? allowedByCheck(r.checks ?? []),
      });
    }
    if (r.is_pk) table.primaryKey = r.column;
    if (r.ref_table) table.references.set(r.column, { schema: r.ref_schema!, table: r.ref_table, column: r.ref_column! });
  }
  return [...tables.values()];
}

/** Values of `CHECK ((col = ANY (ARRAY['a'::text, 'b'::text])))` or `CHECK (col IN (...))`, as pg_get_constraintdef prints them. */
export function allowedByCheck(definitions: string[]): string[] | undefined {
  for (const def of definitions) {
    if (!/=\s*ANY\s*\(|\bIN\s*\(/i.test(def)) continue;
    const values = [...def.matchAll(/'((?:[^']|'')*)'/g)].map((m) => m[1]!.replace(/''/g, "'"));
    if (values.length > 0) return values;
  }
  return undefined;
}

export const DAY_TYPES = new Set(['date']);
export const INSTANT_TYPES = new Set(['timestamp', 'timestamptz']);
export const TEXT_TYPES = new Set(['text', 'varchar', 'bpchar', 'citext', 'name']);
export const AMOUNT_TYPES = new Set(['numeric', 'int2', 'int4', 'int8', 'float4', 'float8', 'money']);
export const ID_TYPES = new Set(['text', 'varchar', 'bpchar', 'uuid', 'int2', 'int4', 'int8', 'numeric']);
