import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDatabaseUrl } from '../../src/db/connection.js';
import { loadMigrations, migrate, migrationStatus } from '../../src/db/migrate.js';
import { Db } from '../../src/db/pool.js';
import { ConfigError, OperationError } from '../../src/errors.js';
import pg from 'pg';
import { type TestDatabase, createTestDatabase, serverUrl } from '../helpers/pg.js';

let database: TestDatabase;
const pools: Db[] = [];
const connect = async (url = database.url) => {
  const db = await Db.connect(parseDatabaseUrl(url), { schema: 'aj' });
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

    const { applied, relocated } = await migrate(db);
    expect(applied.map((m) => m.version)).toEqual(all.map((m) => m.version));
    expect(relocated).toEqual([]);
    expect(await migrate(db)).toEqual({ applied: [], relocated: [] });

    const status = await migrationStatus(db);
    expect(status.every((m) => m.state === 'applied')).toBe(true);
    const ledger = await database.query<{ version: number; checksum: string }>('SELECT version, checksum FROM aj_migrations ORDER BY version');
    expect(ledger).toEqual(all.map((m) => ({ version: m.version, checksum: m.checksum })));
  });

  it("create the business and operations tables in aj's schema, and nothing in public", async () => {
    const tablesIn = async (schema: string) =>
      (await database.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`, [schema])).map((r) => r.table_name);
    expect(await tablesIn('aj')).toEqual(expect.arrayContaining(['aj_migrations', 'backup_runs', 'clients', 'chantiers', 'devis', 'factures', 'job_runs', 'restore_runs']));
    expect(await tablesIn('public')).toEqual([]);
  });

});

describe('migrate', () => {
  it('lets only one of two concurrent calls apply each migration', async () => {
    const scratch = await createTestDatabase('migrations_race');
    try {
      const [a, b] = [await connect(scratch.url), await connect(scratch.url)];
      const migrations = loadMigrations();
      const [first, second] = await Promise.all([migrate(a, migrations), migrate(b, migrations)]);
      expect([...first.applied, ...second.applied].map((m) => m.version).sort((x, y) => x - y)).toEqual(migrations.map((m) => m.version));
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
      expect((await migrate(db, loadMigrations(dir))).applied.map((m) => m.name)).toEqual(['first']);
      writeFileSync(join(dir, '001_first.sql'), 'CREATE TABLE first (id bigint);');
      writeFileSync(join(dir, '002_second.sql'), 'CREATE TABLE second (id int);');
      const changed = loadMigrations(dir);
      const error = await migrate(db, changed).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toBe('migration 1_first was changed after it was applied');
      expect(await scratch.query(`SELECT to_regclass('aj.second') AS t`)).toEqual([{ t: null }]);
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
    expect(await database.query(`SELECT to_regclass('aj.half_done') AS t`)).toEqual([{ t: null }]);
    expect(await database.query('SELECT 1 FROM aj_migrations WHERE version = 900')).toEqual([]);
    expect((await migrationStatus(db, migrations)).at(-1)!.state).toBe('pending');
  });
});

describe("aj's schema", () => {
  it('is used as a DBA created it, by a user who may not create schemas; without it that user gets a clear error', async () => {
    const scratch = await createTestDatabase('migrations_dba');
    const role = `${scratch.name}_user`;
    await scratch.query(`CREATE ROLE ${role} LOGIN`);
    const url = new URL(scratch.url);
    url.username = role;
    try {
      const refused = await connect(url.toString());
      const error = await migrate(refused).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OperationError);
      expect((error as Error).message).toMatch(/^cannot create schema aj for aj's tables: permission denied/);
      await refused.close();
      pools.splice(pools.indexOf(refused), 1);

      await scratch.query(`CREATE SCHEMA aj AUTHORIZATION ${role}`);
      const db = await connect(url.toString());
      expect((await migrate(db)).applied.length).toBe(loadMigrations().length);
      expect(await scratch.query(`SELECT tableowner AS owner FROM pg_tables WHERE schemaname = 'aj' AND tablename = 'backup_runs'`)).toEqual([{ owner: role }]);
      await db.close();
      pools.splice(pools.indexOf(db), 1);
    } finally {
      await scratch.drop();
      // A role is the server's, not the database's: it goes once the database that held its tables has.
      const admin = new pg.Client({ connectionString: serverUrl() });
      await admin.connect();
      await admin.query(`DROP ROLE IF EXISTS ${role}`).finally(() => admin.end());
    }
  });
});

describe('008_text_document_ids', () => {
  it("turns reminder_log's integer document ids into their text, keeping the unique constraint", async () => {
    const scratch = await createTestDatabase('migrations_008');
    const db = await connect(scratch.url);
    try {
      const all = loadMigrations();
      await migrate(db, all.filter((m) => m.version < 8));
      await scratch.query(`INSERT INTO reminder_log (document_type, document_id, level, status) VALUES ('facture', 42, 'relance-1', 'sent')`);
      await migrate(db, all);
      const [column] = await scratch.query(`SELECT data_type FROM information_schema.columns WHERE table_schema = 'aj' AND table_name = 'reminder_log' AND column_name = 'document_id'`);
      expect(column).toEqual({ data_type: 'text' });
      expect(await scratch.query('SELECT document_id FROM reminder_log')).toEqual([{ document_id: '42' }]);
      await scratch.query(`INSERT INTO reminder_log (document_type, document_id, level, status) VALUES ('facture', 'clx0abc123', 'relance-1', 'sent')`);
      const duplicate = await scratch.query(`INSERT INTO reminder_log (document_type, document_id, level, status) VALUES ('facture', '42', 'relance-1', 'sent')`).catch((e: Error) => e);
      expect(duplicate).toBeInstanceOf(Error);
      expect((duplicate as Error).message).toMatch(/duplicate key value violates unique constraint/);
    } finally {
      await db.close();
      pools.splice(pools.indexOf(db), 1);
      await scratch.drop();
    }
  });
});
