import { execa } from 'execa';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMigrations } from '../../src/db/migrate.js';
import { pgToolPath } from '../../src/db/pg-tools.js';
import { aj, scratchDir } from '../helpers/cli.js';
import { type TestDatabase, createTestDatabase } from '../helpers/pg.js';

/** aj's tables live in AJ_DB_SCHEMA (default aj); public is the web app's and aj never changes it. */
const databases: TestDatabase[] = [];
const database = async (label: string) => {
  const db = await createTestDatabase(label);
  databases.push(db);
  return db;
};

afterAll(async () => {
  await Promise.all(databases.map((d) => d.drop()));
});

async function publicSchema(url: string): Promise<string> {
  const { stdout } = await execa(pgToolPath('pg_dump', { pgBinDir: undefined }), ['--schema-only', '--schema=public', '--no-owner', url]);
  // pg_dump's \restrict line carries a random key, new at every run.
  return stdout.replace(/^\\(un)?restrict .*$/gm, '');
}

const tablesIn = async (db: TestDatabase, schema: string) =>
  (await db.query<{ name: string }>(`SELECT tablename AS name FROM pg_tables WHERE schemaname = $1 ORDER BY 1`, [schema])).map((r) => r.name);

describe('aj db migrate beside the web app', () => {
  it("leaves public as it is, even with tables of aj's names and other columns", async () => {
    const db = await database('schema_lookalikes');
    // The app's own tables with aj's names (its `factures` made migration 001 fail before).
    await db.query(`
      CREATE TABLE public.clients (id text PRIMARY KEY, nom text NOT NULL, actif boolean NOT NULL DEFAULT true);
      CREATE TABLE public.chantiers (id text PRIMARY KEY, "clientId" text REFERENCES public.clients(id), titre text);
      CREATE TABLE public.devis (id text PRIMARY KEY, total numeric(12,2));
      CREATE TABLE public.factures (id text PRIMARY KEY, numero text UNIQUE, "devisId" text REFERENCES public.devis(id));
      CREATE TABLE public.backup_runs (id serial PRIMARY KEY, ok boolean);
      CREATE TABLE public.email_messages (id uuid PRIMARY KEY, sujet text);
      CREATE TABLE public.job_runs (nom text);
      CREATE INDEX factures_statut_idx ON public.factures (numero);
      INSERT INTO public.clients (id, nom) VALUES ('clx1', 'Dupont');
    `);
    const before = await publicSchema(db.url);

    const migrate = await aj(['db', 'migrate', '--json'], { env: { DATABASE_URL: db.url } });
    expect(migrate.exitCode, migrate.stderr).toBe(0);
    const result = JSON.parse(migrate.stdout);
    expect(result).toMatchObject({ schema: 'aj', relocated: [] });
    expect(result.applied.map((m: { version: number }) => m.version)).toEqual(loadMigrations().map((m) => m.version));

    expect(await publicSchema(db.url)).toBe(before);
    expect(await db.query('SELECT id, nom FROM public.clients')).toEqual([{ id: 'clx1', nom: 'Dupont' }]);
    expect(await tablesIn(db, 'aj')).toEqual(expect.arrayContaining(['aj_migrations', 'backup_runs', 'clients', 'email_messages', 'factures', 'job_runs']));

    // Commands after the migration reach aj's tables, not the app's namesakes.
    const run = await aj(['backup', 'run', '--json'], { env: { DATABASE_URL: db.url, BACKUP_BUCKET: `file://${scratchDir('schema-bk')}` } });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(await db.query('SELECT id::int, status FROM aj.backup_runs')).toEqual([{ id: 1, status: 'succeeded' }]);
    expect(await db.query('SELECT count(*)::int AS n FROM public.backup_runs')).toEqual([{ n: 0 }]);
    expect(await publicSchema(db.url)).toBe(before);
  });

  it('uses the schema AJ_DB_SCHEMA names', async () => {
    const db = await database('schema_named');
    const migrate = await aj(['db', 'migrate'], { env: { DATABASE_URL: db.url, AJ_DB_SCHEMA: 'aj_ops' } });
    expect(migrate.exitCode, migrate.stderr).toBe(0);
    expect(await tablesIn(db, 'aj_ops')).toContain('backup_runs');
    expect(await tablesIn(db, 'aj')).toEqual([]);
    const bad = await aj(['db', 'migrate'], { env: { DATABASE_URL: db.url, AJ_DB_SCHEMA: 'Aj; drop' } });
    expect(bad.exitCode, bad.stderr).toBe(3);
  });
});

describe('an earlier install, with aj tables in public', () => {
  let db: TestDatabase;
  const earlier = loadMigrations().filter((m) => m.version <= 7);

  beforeAll(async () => {
    db = await database('schema_earlier');
    // Built as aj used to: its migration files run with public as the search_path, and its ledger.
    const client = new pg.Client({ connectionString: db.url, options: '-c search_path=public' });
    await client.connect();
    try {
      await client.query('CREATE TABLE aj_migrations (version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
      for (const m of earlier) {
        await client.query(m.sql);
        await client.query('INSERT INTO aj_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, m.checksum]);
      }
      await client.query(`
        INSERT INTO clients (nom, email) VALUES ('Durand', 'durand@exemple.fr'), ('Martin', NULL);
        INSERT INTO chantiers (client_id, nom) VALUES (1, 'Haie');
        INSERT INTO devis (numero, client_id, statut) VALUES ('D-1', 1, 'envoye');
        INSERT INTO backup_runs (status, database_name, storage_url, host, pid) VALUES ('succeeded', 'x', 'file:///old', 'h', 1), ('deleted', 'x', 'file:///old', 'h', 2);
        INSERT INTO job_runs (job, host, pid, status) VALUES ('backup', 'h', 1, 'succeeded');
        INSERT INTO email_messages (status, from_address, to_addresses, subject) VALUES ('sent', 'a@b.fr', '{c@d.fr}', 'Relance');
        INSERT INTO reminder_log (document_type, document_id, level, status, email_message_id) VALUES ('devis', 1, 'relance', 'sent', 1);
        -- The web app's own factures, not aj's: it stays in public.
        DROP TABLE factures;
        CREATE TABLE factures (id text PRIMARY KEY, numero text, total numeric);
        INSERT INTO factures VALUES ('clx9', 'F-9', 10);
        CREATE TABLE "Client" (id text PRIMARY KEY);
      `);
    } finally {
      await client.end();
    }
  });

  it("moves aj's tables into aj's schema with their data on the first run, then applies what is pending", async () => {
    const migrate = await aj(['db', 'migrate', '--json'], { env: { DATABASE_URL: db.url } });
    expect(migrate.exitCode, migrate.stderr).toBe(0);
    const result = JSON.parse(migrate.stdout);
    expect([...result.relocated].sort()).toEqual(['aj_migrations', 'archived_documents', 'backup_runs', 'chantiers', 'clients', 'devis', 'email_messages', 'import_runs', 'job_runs', 'ops_alerts', 'reminder_log']);
    expect(result.applied.map((m: { version: number }) => m.version)).toEqual(loadMigrations().filter((m) => m.version > 7).map((m) => m.version));

    expect(await tablesIn(db, 'public')).toEqual(['Client', 'factures']);
    const publicSequences = await db.query(`SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('S', 'i') ORDER BY 1`);
    expect(publicSequences).toEqual([{ relname: 'Client_pkey' }, { relname: 'factures_pkey' }]);
    expect(await db.query('SELECT id::int, nom FROM aj.clients ORDER BY id')).toEqual([{ id: 1, nom: 'Durand' }, { id: 2, nom: 'Martin' }]);
    expect(await db.query('SELECT id::int, status FROM aj.backup_runs ORDER BY id')).toEqual([{ id: 1, status: 'succeeded' }, { id: 2, status: 'deleted' }]);
    expect(await db.query('SELECT document_id FROM aj.reminder_log')).toEqual([{ document_id: '1' }]);
    expect(await db.query('SELECT count(*)::int AS n FROM aj.aj_migrations')).toEqual([{ n: loadMigrations().length }]);
    expect(await db.query('SELECT id, numero FROM public.factures')).toEqual([{ id: 'clx9', numero: 'F-9' }]);
  });

  it('goes on numbering where the earlier install stopped, and moves nothing again', async () => {
    const run = await aj(['backup', 'run', '--json'], { env: { DATABASE_URL: db.url, BACKUP_BUCKET: `file://${scratchDir('earlier-bk')}` } });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).id).toBe(3);
    expect(await db.query(`INSERT INTO aj.clients (nom) VALUES ('Petit') RETURNING id::int`)).toEqual([{ id: 3 }]);
    const again = await aj(['db', 'migrate', '--json'], { env: { DATABASE_URL: db.url } });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({ schema: 'aj', relocated: [], applied: [] });
  });
});
