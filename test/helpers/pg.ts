import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** Server URL for tests: AJ_TEST_DATABASE_URL, else the local server on 127.0.0.1:5432. */
export function serverUrl(): string {
  return process.env.AJ_TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
}

export function urlFor(database: string, base = serverUrl()): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl() });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `tests need PostgreSQL at ${serverUrl()} (${(error as Error).message}). Start it (.ci/run does), ` +
        'install it with `apt-get install postgresql`, or set AJ_TEST_DATABASE_URL.',
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  query<R extends pg.QueryResultRow = Record<string, any>>(sql: string, values?: unknown[]): Promise<R[]>;
  drop(): Promise<void>;
}

/** A fresh database of its own for a test file; dropped (with its connections) afterwards. */
export async function createTestDatabase(label = 'test'): Promise<TestDatabase> {
  const name = `aj_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE "${name}"`));
  const url = urlFor(name);
  // aj's tables live in its own schema (AJ_DB_SCHEMA, default aj) and tests name them unqualified.
  // public comes first so that the app-like tables a test creates land in public whether or not aj
  // has already created its schema; a test that puts a same-named table in public qualifies aj's.
  const pool = new pg.Pool({ connectionString: url, max: 2, options: '-c search_path=public,aj' });
  // pool.end() resolves before the server has seen every Terminate; the forced DROP then kills a
  // connection that is already being closed. Without a listener that is an uncaught error.
  pool.on('error', () => undefined);
  return {
    name,
    url,
    async query(sql, values) {
      return (await pool.query(sql, values)).rows;
    },
    async drop() {
      await pool.end();
      await dropDatabase(name);
    },
  };
}

export async function dropDatabase(name: string): Promise<void> {
  await admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}
