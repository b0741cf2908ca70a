import { rmSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';

/** A PostgreSQL connection target, parsed once from a URL as the web app writes it. */
export interface PgTarget {
  host?: string;
  port?: number;
  database?: string;
  user?: string;
  password?: string;
  /** Parameters libpq understands (sslmode, connect_timeout, ...); Prisma's extras are dropped. */
  params: Record<string, string>;
  /** Prisma's `?schema=`: where the web app's tables live. aj's own search_path never comes from it. */
  schema?: string;
}

// The libpq connection parameters that may appear in a URL query; anything else
// (Prisma's connection_limit, pool_timeout, pgbouncer, ...) would make libpq refuse it.
const LIBPQ_PARAMS = new Set([
  'sslmode', 'sslcert', 'sslkey', 'sslrootcert', 'sslcrl', 'sslpassword', 'sslcompression', 'connect_timeout',
  'application_name', 'options', 'target_session_attrs', 'keepalives', 'keepalives_idle', 'keepalives_interval',
  'keepalives_count', 'gssencmode', 'krbsrvname', 'channel_binding', 'tcp_user_timeout', 'host', 'port', 'user',
  'dbname', 'password',
]);

export function parseDatabaseUrl(url: string | undefined, what = 'DATABASE_URL'): PgTarget {
  if (!url) return { params: {} };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`${what} is not a valid URL`, 'write it as postgresql://user:password@host:5432/database');
  }
  if (parsed.protocol !== 'postgresql:' && parsed.protocol !== 'postgres:') {
    throw new ConfigError(`${what} must start with postgresql:// (got ${parsed.protocol}//)`, 'write it as postgresql://user:password@host:5432/database');
  }
  const target: PgTarget = { params: {} };
  if (parsed.hostname) target.host = decodeURIComponent(parsed.hostname).replace(/^\[|\]$/g, '');
  if (parsed.port) target.port = Number(parsed.port);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (database) target.database = database;
  if (parsed.username) target.user = decodeURIComponent(parsed.username);
  if (parsed.password) target.password = decodeURIComponent(parsed.password);
  for (const [key, value] of parsed.searchParams) {
    if (key === 'schema') target.schema = value;
    else if (key === 'host') target.host = value;
    else if (key === 'port') target.port = Number(value);
    else if (key === 'user') target.user = value;
    else if (key === 'password') target.password = value;
    else if (key === 'dbname') target.database = value;
    else if (LIBPQ_PARAMS.has(key)) target.params[key] = value;
  }
  return target;
}

/** The same target pointing at another database on the same server. */
export function withDatabase(target: PgTarget, database: string): PgTarget {
  return { ...target, database };
}

const LOCK_TIMEOUT = '60s';

/**
 * node-postgres client options for a target. `searchPath` is set at connection start, after any
 * `options` of the URL, so that it wins over a search_path given there.
 */
export function pgClientConfig(target: PgTarget, { applicationName = 'aj', searchPath }: { applicationName?: string; searchPath?: string } = {}) {
  const ssl = target.params.sslmode && !['disable', 'allow', 'prefer'].includes(target.params.sslmode)
    ? { rejectUnauthorized: ['verify-ca', 'verify-full'].includes(target.params.sslmode) }
    : undefined;
  return {
    host: target.host,
    port: target.port,
    database: target.database,
    // libpq falls back to the OS user name; node-postgres only to $USER, which cron may not set.
    user: target.user ?? process.env.PGUSER ?? userInfo().username,
    password: target.password,
    ssl,
    application_name: applicationName,
    connectionTimeoutMillis: Number(target.params.connect_timeout ?? 10) * 1000,
    // On aj's own sessions a lock wait has a deadline: a row the web app keeps locked, or a stuck
    // session, fails the statement in one clear line instead of holding a cron job forever.
    options: [target.params.options, searchPath && `-c search_path=${searchPath} -c lock_timeout=${LOCK_TIMEOUT}`].filter(Boolean).join(' ') || undefined,
  };
}

/** Database name as the server will see it (libpq defaults when the URL names none). */
export function databaseNameOf(target: PgTarget, env: NodeJS.ProcessEnv = process.env): string {
  return target.database ?? env.PGDATABASE ?? target.user ?? env.PGUSER ?? env.USER ?? 'postgres';
}

const escapePassField = (s: string) => s.replace(/\\/g, '\\\\').replace(/:/g, '\\:');

/**
 * Environment for pg_dump/pg_restore/psql. Connection details travel in PG* variables and
 * the password in a 0600 passfile, so nothing secret ever appears in a child's argv.
 * The caller runs cleanup() once the child has exited.
 */
export async function libpqEnv(target: PgTarget): Promise<{ env: Record<string, string>; cleanup: () => Promise<void> }> {
  const env: Record<string, string> = { PGAPPNAME: 'aj' };
  if (target.host) env.PGHOST = target.host;
  if (target.port) env.PGPORT = String(target.port);
  if (target.database) env.PGDATABASE = target.database;
  if (target.user) env.PGUSER = target.user;
  const fromParams: Record<string, string> = {
    sslmode: 'PGSSLMODE', sslrootcert: 'PGSSLROOTCERT', sslcert: 'PGSSLCERT', sslkey: 'PGSSLKEY',
    connect_timeout: 'PGCONNECT_TIMEOUT', target_session_attrs: 'PGTARGETSESSIONATTRS', options: 'PGOPTIONS',
  };
  for (const [param, name] of Object.entries(fromParams)) if (target.params[param]) env[name] = target.params[param]!;
  if (target.password === undefined) return { env, cleanup: async () => undefined };
  await sweepPassDirsOfDeadProcesses();
  // mkdtemp makes the directory 0700: only this user can even list it. The pid in its name lets the
  // next run remove it when this process dies without cleaning up (kill -9).
  const dir = await mkdtemp(join(tmpdir(), `${PASS_DIR_PREFIX}${process.pid}-`));
  livePassDirs.add(dir);
  const passfile = join(dir, 'pgpass');
  await writeFile(passfile, `*:*:*:${escapePassField(target.user ?? '*')}:${escapePassField(target.password)}\n`, { mode: 0o600 });
  return {
    env: { ...env, PGPASSFILE: passfile },
    cleanup: async () => {
      livePassDirs.delete(dir);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const PASS_DIR_PREFIX = 'aj-pgpass-';
const PASS_DIR_NAME = /^aj-pgpass-(\d+)-/;
const livePassDirs = new Set<string>();
// Every exit path that runs JavaScript (normal end, an error, process.exit on a second Ctrl-C)
// removes the passfiles still open; only a SIGKILL leaves one, for the next run to sweep.
process.once('exit', () => {
  for (const dir of livePassDirs) rmSync(dir, { recursive: true, force: true });
});

/** Removes passfile directories left by aj processes that no longer exist. */
export async function sweepPassDirsOfDeadProcesses(dir = tmpdir()): Promise<string[]> {
  const removed: string[] = [];
  const entries = await readdir(dir).catch(() => [] as string[]);
  for (const name of entries) {
    const pid = Number(PASS_DIR_NAME.exec(name)?.[1]);
    if (!pid || pid === process.pid || processExists(pid)) continue;
    await rm(join(dir, name), { recursive: true, force: true }).then(() => removed.push(name), () => undefined);
  }
  return removed;
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else (and so does its directory).
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function withLibpqEnv<T>(target: PgTarget, fn: (env: Record<string, string>) => Promise<T>): Promise<T> {
  const { env, cleanup } = await libpqEnv(target);
  try {
    return await fn(env);
  } finally {
    await cleanup();
  }
}
