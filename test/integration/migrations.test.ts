import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDatabaseUrl } from '../../src/db/connection.js';
import { loadMigrations, migrate, migrationStatus } from '../../src/db/migrate.js';
import { Db } from '../../src/db/pool.js';
import { ConfigError, OperationError } from '../../src/errors.js';
import { type TestDatabase, createTestDatabase } from '../helpers/pg.js';

let database: TestDatabase;
const pools: Db[] = [];
const connect = async (url = database.url) => {
  const db = await Db.connect(parseDatabaseUrl(url));
  pools.push(db);
  return db;
};

beforeAll(async () => {
  database = await createTestDatabase('migrations');
});

afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
  await database?.drop();
});

function migrationsDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'aj-migrations-'));
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql);
  return dir;
}

describe('the repository migrations', () => {
  it('apply in order on an empty database, then a re-run applies nothing', async () => {
    const db = await connect();
    const all = loadMigrations();
    expect(all.map((m) => m.version)).toEqual([...all.map((m) => m.version)].sort((a, b) => a - b));
    expect(all[0]).toMatchObject({ version: 1, name: 'foundation' });

    const applied = await migrate(db);
    expect(applied.map((m) => m.version)).toEqual(all.map((m) => m.version));
    expect(await migrate(db)).toEqual([]);

    const status = await migrationStatus(db);
    expect(status.every((m) => m.state === 'applied')).toBe(true);
    const ledger = await database.query<{ version: number; checksum: string }>('SELECT version, checksum FROM aj_migrations ORDER BY version');
    expect(ledger).toEqual(all.map((m) => ({ version: m.version, checksum: m.checksum })));
  });

  it('create the business and operations tables', async () => {
    const rows = await database.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`);
    const tables = rows.map((r) => r.table_name);
    for (const table of ['clients', 'chantiers', 'devis', 'factures']) expect(tables).toContain(table);
  });
});

describe('migrate', () => {
  it('lets only one of two concurrent calls apply each migration', async () => {
    const scratch = await createTestDatabase('migrations_race');
    try {
      const [a, b] = [await connect(scratch.url), await connect(scratch.url)];
      const migrations = loadMigrations();
      const [first, second] = await Promise.all([migrate(a, migrations), migrate(b, migrations)]);
      expect([...first, ...second].map((m) => m.version).sort((x, y) => x - y)).toEqual(migrations.map((m) => m.version));
      const ledger = await scratch.query<{ n: number }>('SELECT count(*)::int AS n FROM aj_migrations');
      expect(ledger[0]!.n).toBe(migrations.length);
      await Promise.all([a.close(), b.close()]);
      pools.splice(pools.indexOf(a), 1);
      pools.splice(pools.indexOf(b), 1);
    } finally {
      await scratch.drop();
    }
  });

  it('refuses a migration changed after it was applied, and applies nothing else', async () => {
    const scratch = await createTestDatabase('migrations_changed');
    const db = await connect(scratch.url);
    try {
      const dir = migrationsDir({ '001_first.sql': 'CREATE TABLE first (id int);' });
      expect((await migrate(db, loadMigrations(dir))).map((m) => m.name)).toEqual(['first']);
      writeFileSync(join(dir, '001_first.sql'), 'CREATE TABLE first (id bigint);');
      writeFileSync(join(dir, '002_second.sql'), 'CREATE TABLE second (id int);');
      const changed = loadMigrations(dir);
      const error = await migrate(db, changed).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toBe('migration 1_first was changed after it was applied');
      expect(await scratch.query(`SELECT to_regclass('second') AS t`)).toEqual([{ t: null }]);
      expect((await migrationStatus(db, changed)).map((m) => m.state)).toEqual(['changed', 'pending']);
    } finally {
      await db.close();
      pools.splice(pools.indexOf(db), 1);
      await scratch.drop();
    }
  });

  it('rolls back a failing migration entirely', async () => {
    const db = await connect();
    const dir = migrationsDir({
      '900_half.sql': 'CREATE TABLE half_done (id int); SELECT 1/0;',
    });
    const migrations = [...loadMigrations(), ...loadMigrations(dir)];
    const error = await migrate(db, migrations).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperationError);
    expect((error as Error).message).toMatch(/^migration 900_half failed: division by zero/);
    expect(await database.query(`SELECT to_regclass('half_done') AS t`)).toEqual([{ t: null }]);
    expect(await database.query('SELECT 1 FROM aj_migrations WHERE version = 900')).toEqual([]);
    expect((await migrationStatus(db, migrations)).at(-1)!.state).toBe('pending');
  });
});
