import { existsSync, readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseDatabaseUrl, pgClientConfig, withDatabase, withLibpqEnv } from '../../src/db/connection.js';
import { ConfigError } from '../../src/errors.js';

const PRISMA_URL = 'postgresql://app:p%40ss%3Aw%5Cord@db.internal:6543/artetjardin?schema=public&connection_limit=5&pool_timeout=10&pgbouncer=true&sslmode=require';

describe('parseDatabaseUrl', () => {
  it('reads the URL as the web app writes it, Prisma parameters included', () => {
    expect(parseDatabaseUrl(PRISMA_URL)).toEqual({
      host: 'db.internal',
      port: 6543,
      database: 'artetjardin',
      user: 'app',
      password: 'p@ss:w\\ord',
      schema: 'public',
      params: { sslmode: 'require' },
    });
  });

  it('keeps libpq parameters and drops what libpq does not know', () => {
    const target = parseDatabaseUrl('postgres://u@h/d?connect_timeout=3&application_name=web&statement_cache_size=0&socket_timeout=5');
    expect(target.params).toEqual({ connect_timeout: '3', application_name: 'web' });
  });

  it('takes host, port, user and password from query parameters (unix sockets)', () => {
    expect(parseDatabaseUrl('postgresql:///aj?host=/var/run/postgresql&port=5433&user=aj&password=pw')).toMatchObject({
      host: '/var/run/postgresql',
      port: 5433,
      database: 'aj',
      user: 'aj',
      password: 'pw',
    });
  });

  it('reads IPv6 hosts', () => {
    expect(parseDatabaseUrl('postgresql://u@[::1]:5432/d').host).toBe('::1');
  });

  it('leaves everything to libpq defaults when unset', () => {
    expect(parseDatabaseUrl(undefined)).toEqual({ params: {} });
  });

  it('refuses what is not a PostgreSQL URL, without echoing it', () => {
    expect(() => parseDatabaseUrl('mysql://root:hunter2@db/aj')).toThrow(ConfigError);
    expect(() => parseDatabaseUrl('mysql://root:hunter2@db/aj')).not.toThrow(/hunter2/);
    expect(() => parseDatabaseUrl('not a url with hunter2')).toThrow(ConfigError);
    expect(() => parseDatabaseUrl('not a url with hunter2')).not.toThrow(/hunter2/);
  });
});

describe('pgClientConfig', () => {
  it("sets aj's search_path, never Prisma's schema, and turns sslmode into TLS options", () => {
    const config = pgClientConfig(parseDatabaseUrl(PRISMA_URL), { searchPath: 'aj' });
    expect(config).toMatchObject({ host: 'db.internal', port: 6543, database: 'artetjardin', user: 'app', password: 'p@ss:w\\ord' });
    // A lock wait on aj's own sessions has a deadline.
    expect(config.options).toBe('-c search_path=aj -c lock_timeout=60s');
    expect(pgClientConfig(parseDatabaseUrl(PRISMA_URL)).options).toBeUndefined();
    expect(config.ssl).toEqual({ rejectUnauthorized: false });
    expect(pgClientConfig(parseDatabaseUrl('postgresql://u@h/d?sslmode=verify-full')).ssl).toEqual({ rejectUnauthorized: true });
    expect(pgClientConfig(parseDatabaseUrl('postgresql://u@h/d?sslmode=disable')).ssl).toBeUndefined();
  });

  it("keeps the URL's own options, with aj's search_path after them so that it wins", () => {
    const target = parseDatabaseUrl('postgresql://u@h/d?options=-c%20statement_timeout%3D5000%20-c%20search_path%3Dpublic');
    expect(pgClientConfig(target, { searchPath: 'aj' }).options).toBe('-c statement_timeout=5000 -c search_path=public -c search_path=aj -c lock_timeout=60s');
    expect(pgClientConfig(target).options).toBe('-c statement_timeout=5000 -c search_path=public');
  });

  it('explains a lock wait past the deadline in one line', async () => {
    const { explainPgError } = await import('../../src/db/pool.js');
    const error = explainPgError(Object.assign(new Error('canceling statement due to lock timeout'), { code: '55P03' }), parseDatabaseUrl(PRISMA_URL));
    expect(error.message).toBe('waited over 60 s for a lock on db.internal:6543/artetjardin: canceling statement due to lock timeout');
  });

  it('points at another database on the same server', () => {
    expect(withDatabase(parseDatabaseUrl(PRISMA_URL), 'aj_restore_check')).toMatchObject({ host: 'db.internal', database: 'aj_restore_check', password: 'p@ss:w\\ord' });
  });
});

describe('withLibpqEnv', () => {
  it('gives PG* variables and a 0600 passfile, never the password itself, and removes the file', async () => {
    let passfile = '';
    const env = await withLibpqEnv(parseDatabaseUrl(PRISMA_URL), async (env) => {
      passfile = env.PGPASSFILE!;
      expect(statSync(passfile).mode & 0o777).toBe(0o600);
      expect(readFileSync(passfile, 'utf8')).toBe('*:*:*:app:p@ss\\:w\\\\ord\n');
      return env;
    });
    expect(env).toMatchObject({ PGHOST: 'db.internal', PGPORT: '6543', PGDATABASE: 'artetjardin', PGUSER: 'app', PGSSLMODE: 'require' });
    expect(Object.keys(env)).not.toContain('PGPASSWORD');
    expect(JSON.stringify(Object.entries(env).filter(([k]) => k !== 'PGPASSFILE'))).not.toContain('p@ss');
    expect(existsSync(passfile)).toBe(false);
  });

  it('removes the passfile when the child fails', async () => {
    let passfile = '';
    await expect(
      withLibpqEnv(parseDatabaseUrl('postgresql://u:pw@h/d'), async (env) => {
        passfile = env.PGPASSFILE!;
        throw new Error('pg_dump exited with 1');
      }),
    ).rejects.toThrow('pg_dump exited with 1');
    expect(passfile).not.toBe('');
    expect(existsSync(passfile)).toBe(false);
  });

  it('writes no passfile without a password', async () => {
    await withLibpqEnv(parseDatabaseUrl('postgresql://u@h/d'), async (env) => {
      expect(env.PGPASSFILE).toBeUndefined();
    });
  });
});
