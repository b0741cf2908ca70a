import type pg from 'pg';
import { OperationError } from '../errors.js';
import { type PgTarget, pgClientConfig } from './connection.js';

export type Queryable = Pick<pg.PoolClient, 'query'>;

export interface DbOptions {
  /** aj's own schema (AJ_DB_SCHEMA): the whole search_path of every session, see Db.connect. */
  schema: string;
  applicationName?: string;
}

/** The one place aj talks to PostgreSQL: a pool, queries, and transactions. */
export class Db {
  private constructor(
    readonly pool: pg.Pool,
    readonly target: PgTarget,
    readonly schema: string,
  ) {}

  /**
   * aj's schema is the only schema on the search_path, so aj's unqualified SQL reaches aj's tables
   * and never a table of the web app with the same name (business SQL names its schema itself).
   */
  static async connect(target: PgTarget, { schema, applicationName = 'aj' }: DbOptions): Promise<Db> {
    const pgModule = (await import('pg')).default;
    // Dates stay calendar dates ('2026-11-24'), not midnight in the server's zone.
    pgModule.types.setTypeParser(1082, (v: string) => v);
    // bigint counts and ids fit in a JS number for this business.
    pgModule.types.setTypeParser(20, (v: string) => Number(v));
    const pool = new pgModule.Pool({ ...pgClientConfig(target, { applicationName, searchPath: schema }), max: 5 });
    pool.on('error', () => {
      // An idle client lost its connection; the next query reports it.
    });
    // A checked-out client has no listener of the pool's: without one, a connection killed under a
    // running job (a database restart, a failover) is an uncaught 'error' event and a stack trace.
    // The query in flight rejects with the error, which is how aj reports it.
    pool.on('connect', (client) => client.on('error', ignoreConnectionError));
    return new Db(pool, target, schema);
  }

  async query<R extends pg.QueryResultRow = Record<string, any>>(text: string, values?: unknown[]): Promise<R[]> {
    try {
      const result = await this.pool.query<R>(text, values);
      return result.rows;
    } catch (error) {
      throw explainPgError(error, this.target);
    }
  }

  async one<R extends pg.QueryResultRow = Record<string, any>>(text: string, values?: unknown[]): Promise<R | undefined> {
    return (await this.query<R>(text, values))[0];
  }

  /** Runs fn in a transaction; commits if it returns, rolls back if it throws. */
  async tx<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.client();
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** A dedicated connection (locks, COPY, snapshots); the caller releases it. */
  async client(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (error) {
      throw explainPgError(error, this.target);
    }
  }

  /** A connection of its own outside the pool, with the pool's search_path; the caller ends it. */
  connectClient(applicationName: string): Promise<pg.Client> {
    return openClient(this.target, { applicationName, searchPath: this.schema });
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * One client on its own, to another database than aj's (a restore target, the `postgres`
 * maintenance database): no search_path of aj's. For aj's own database, use Db.connectClient.
 */
export function connectClient(target: PgTarget, applicationName = 'aj'): Promise<pg.Client> {
  return openClient(target, { applicationName });
}

async function openClient(target: PgTarget, options: { applicationName: string; searchPath?: string }): Promise<pg.Client> {
  const pgModule = (await import('pg')).default;
  const client = new pgModule.Client(pgClientConfig(target, options));
  client.on('error', ignoreConnectionError);
  try {
    await client.connect();
  } catch (error) {
    throw explainPgError(error, target);
  }
  return client;
}

function ignoreConnectionError(): void {
  // Reported by the query in flight, or by the next one.
}

/** aj's database cannot be reached: what fails with it (job history, alert cooldowns) must not be relied on. */
export class DatabaseUnreachableError extends OperationError {}

/** Turns connection failures into one line that says what to check. */
export function explainPgError(error: unknown, target: PgTarget): Error {
  const e = error as { code?: string; message?: string };
  const where = `${target.host ?? 'localhost'}:${target.port ?? 5432}/${target.database ?? '(default)'}`;
  if (e.code === 'ECONNREFUSED' || e.code === 'ENOTFOUND' || e.code === 'EHOSTUNREACH' || e.code === 'ETIMEDOUT') {
    return new DatabaseUnreachableError(`cannot reach PostgreSQL at ${where} (${e.code})`, 'check DATABASE_URL and that the server is running', { cause: error });
  }
  if (e.code === '28P01' || e.code === '28000') {
    return new OperationError(`PostgreSQL refused the login for ${where}: ${e.message}`, 'check the user and password in DATABASE_URL', { cause: error });
  }
  if (e.code === '3D000') {
    return new OperationError(`database does not exist: ${where}`, 'create it or fix DATABASE_URL', { cause: error });
  }
  if (e.code === '57P01' || e.code === '57P02' || e.code === '57P03' || e.message === 'Connection terminated unexpectedly') {
    return new DatabaseUnreachableError(`lost the connection to PostgreSQL at ${where} (${e.message})`, 'the server restarted or the session was ended; run the command again once it is back', { cause: error });
  }
  if (e.code === '55P03') {
    return new OperationError(`waited over 60 s for a lock on ${where}: ${e.message}`, 'another session holds it (the web app, another aj, a stuck transaction: see pg_stat_activity); run again later', { cause: error });
  }
  if (e.message?.includes('timeout exceeded when trying to connect') || e.message?.includes('Connection terminated due to connection timeout')) {
    return new DatabaseUnreachableError(`timed out connecting to PostgreSQL at ${where}`, 'check DATABASE_URL and the network', { cause: error });
  }
  return error instanceof Error ? error : new Error(String(error));
}
