import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, OperationError } from '../errors.js';
import { assetPath } from '../paths.js';
import type pg from 'pg';
import { quoteIdent } from './identifiers.js';
import type { Db } from './pool.js';
import { relocateEarlierInstall } from './relocate.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrateResult {
  applied: Migration[];
  /** Tables of an earlier install moved from public into aj's schema (once, before applying). */
  relocated: string[];
}

export interface MigrationStatus {
  version: number;
  name: string;
  state: 'applied' | 'pending' | 'changed';
  appliedAt?: string;
}

const MIGRATION_FILE = /^(\d{3,})_([a-z0-9_-]+)\.sql$/;
// One fixed advisory-lock key for schema changes, so concurrent `aj` processes migrate one at a time.
const MIGRATION_LOCK_KEY = 0x616a6d69; // "ajmi"

export function loadMigrations(dir = assetPath('db', 'migrations')): Migration[] {
  return readdirSync(dir)
    .filter((f) => MIGRATION_FILE.test(f))
    .sort()
    .map((file) => {
      const [, version, name] = MIGRATION_FILE.exec(file)!;
      const sql = readFileSync(join(dir, file), 'utf8');
      return { version: Number(version), name: name!, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

const CREATE_LEDGER = `CREATE TABLE IF NOT EXISTS aj_migrations (
  version integer PRIMARY KEY,
  name text NOT NULL,
  checksum text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

async function upToDate(db: Db, migrations: Migration[]): Promise<boolean> {
  try {
    const rows = await db.query<{ version: number; checksum: string }>('SELECT version, checksum FROM aj_migrations');
    const applied = new Map(rows.map((r) => [r.version, r.checksum]));
    return migrations.every((m) => applied.get(m.version) === m.checksum);
  } catch {
    return false;
  }
}

export async function migrationStatus(db: Db, migrations = loadMigrations()): Promise<MigrationStatus[]> {
  const exists = await db.one<{ t: string | null }>(`SELECT to_regclass('aj_migrations')::text AS t`);
  const applied = exists?.t
    ? await db.query<{ version: number; checksum: string; applied_at: Date }>('SELECT version, checksum, applied_at FROM aj_migrations')
    : [];
  const byVersion = new Map(applied.map((r) => [r.version, r]));
  return migrations.map((m) => {
    const row = byVersion.get(m.version);
    if (!row) return { version: m.version, name: m.name, state: 'pending' };
    return {
      version: m.version,
      name: m.name,
      state: row.checksum === m.checksum ? 'applied' : 'changed',
      appliedAt: row.applied_at.toISOString(),
    };
  });
}

/**
 * Applies pending migrations in order, each in its own transaction, under an advisory lock.
 * Everything happens in aj's schema (the session's only search_path): the migration files name no
 * schema. An applied migration whose file changed is refused: the schema would no longer match the repo.
 */
export async function migrate(db: Db, migrations = loadMigrations()): Promise<MigrateResult> {
  // Every command starts here: when all is applied and unchanged, one query and no lock.
  if (await upToDate(db, migrations)) return { applied: [], relocated: [] };
  const client = await db.client();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await ensureSchema(client, db.schema);
    const relocated = await relocateEarlierInstall(client, db.schema);
    await client.query(CREATE_LEDGER);
    const { rows } = await client.query<{ version: number; checksum: string }>('SELECT version, checksum FROM aj_migrations');
    const applied = new Map(rows.map((r) => [r.version, r.checksum]));
    for (const m of migrations) {
      const checksum = applied.get(m.version);
      if (checksum !== undefined && checksum !== m.checksum) {
        throw new ConfigError(
          `migration ${m.version}_${m.name} was changed after it was applied`,
          'restore the original file and add a new migration for the change',
        );
      }
    }
    const pending = migrations.filter((m) => !applied.has(m.version));
    for (const m of pending) {
      try {
        await client.query('BEGIN');
        await client.query(m.sql);
        await client.query('INSERT INTO aj_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, m.checksum]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new OperationError(`migration ${m.version}_${m.name} failed: ${(error as Error).message}`, 'nothing of it was applied; fix the database or the migration', { cause: error });
      }
    }
    return { applied: pending, relocated };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    client.release();
  }
}

/**
 * CREATE SCHEMA needs the CREATE privilege on the database even when the schema exists, so it is
 * only attempted when missing: a DBA may create the schema for aj's user and grant nothing more.
 */
async function ensureSchema(client: pg.PoolClient, schema: string): Promise<void> {
  const { rows } = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
  if (rows.length > 0) return;
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
  } catch (error) {
    throw new OperationError(
      `cannot create schema ${schema} for aj's tables: ${(error as Error).message}`,
      `create it for aj's database user (CREATE SCHEMA ${schema} AUTHORIZATION <user>) or set AJ_DB_SCHEMA to a schema it owns`,
      { cause: error },
    );
  }
}
