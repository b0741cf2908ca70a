import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import pg from 'pg';
import { closedPort } from './ports.js';

/**
 * A throwaway PostgreSQL cluster of a test's own (initdb in a temp directory, on a free loopback
 * port), for what the shared server cannot give: WAL archiving settings, restarts, recovery.
 * As root it runs as the `postgres` system user (PostgreSQL refuses to run as root); otherwise as
 * the current user. Everything lives in one directory removed by `destroy()`.
 */
export interface ThrowawayCluster {
  /** The directory holding everything: data/, the log, the socket, files the test adds. */
  readonly dir: string;
  readonly dataDir: string;
  readonly port: number;
  readonly binDir: string;
  /** `postgresql://postgres@127.0.0.1:<port>/<database>` (trust auth). */
  url(database?: string): string;
  query<R extends pg.QueryResultRow = Record<string, any>>(sql: string, values?: unknown[], database?: string): Promise<R[]>;
  start(): Promise<void>;
  /** `fast` is a clean shutdown; `immediate` is as a crash (recovery on next start). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Runs a command as the server's system user, with the given extra environment. */
  runAsServerUser(command: string, args: string[], env?: Record<string, string>): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  /** Makes a file or directory the test created (an env file, a storage folder) belong to the server's user. */
  giveToServerUser(path: string): void;
  log(): string;
  destroy(): Promise<void>;
}

/** The newest installed PostgreSQL server binaries (Debian's layout), or PG_BIN_DIR. */
export function serverBinDir(): string | undefined {
  if (process.env.PG_BIN_DIR && existsSync(join(process.env.PG_BIN_DIR, 'initdb'))) return process.env.PG_BIN_DIR;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root).filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return majors[0] ? join(root, majors[0], 'bin') : undefined;
}

/** A loopback port with nothing listening, for a new server. */
export const freePort = closedPort;

export interface ClusterOptions {
  /** postgresql.conf lines, as `name: value` (values quoted as the caller writes them). */
  settings?: Record<string, string>;
  /** Environment of the server process (archive_command and restore_command inherit it). */
  env?: Record<string, string>;
  /** Use an existing data directory (a restored base backup) instead of running initdb. */
  dataDir?: string;
}

const asRoot = process.getuid?.() === 0;

function serverUser(): { uid: number; gid: number } | undefined {
  if (!asRoot) return undefined;
  const passwd = execaSyncLine('id', ['-u', 'postgres']);
  const group = execaSyncLine('id', ['-g', 'postgres']);
  return { uid: Number(passwd), gid: Number(group) };
}

function execaSyncLine(command: string, args: string[]): string {
  return String(execFileSync(command, args)).trim();
}

/** The server's user must be able to walk down to its directory: give others search (x) on our own parents. */
function openPathTo(dir: string): void {
  for (let parent = dirname(dir); parent !== dirname(parent); parent = dirname(parent)) {
    const st = statSync(parent);
    if (st.uid === process.getuid?.() && (st.mode & 0o001) === 0) chmodSync(parent, (st.mode & 0o7777) | 0o011);
  }
}

export async function createThrowawayCluster(options: ClusterOptions = {}): Promise<ThrowawayCluster> {
  const binDir = serverBinDir();
  if (!binDir) throw new Error('no PostgreSQL server binaries (initdb) found: install postgresql, or set PG_BIN_DIR');
  const owner = serverUser();
  const dir = mkdtempSync(join(tmpdir(), 'aj-cluster-'));
  openPathTo(join(dir, 'x'));
  chmodSync(dir, 0o755);
  const give = (path: string) => {
    if (!owner) return;
    chownSync(path, owner.uid, owner.gid);
    if (statSync(path).isDirectory()) for (const entry of readdirSync(path)) give(join(path, entry));
  };
  give(dir);
  const dataDir = options.dataDir ?? join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const port = await freePort();
  const baseEnv = { ...process.env, HOME: dir, ...options.env } as Record<string, string>;

  const run = async (command: string, args: string[], env: Record<string, string> = {}) => {
    const full = join(binDir, command);
    const file = existsSync(full) ? full : command;
    const result = asRoot
      ? await execa('runuser', ['-p', '-u', 'postgres', '--', file, ...args], { env: { ...baseEnv, ...env }, extendEnv: false, reject: false, cwd: dir })
      : await execa(file, args, { env: { ...baseEnv, ...env }, extendEnv: false, reject: false, cwd: dir });
    return { exitCode: result.exitCode ?? 1, stdout: String(result.stdout), stderr: String(result.stderr) };
  };

  if (!options.dataDir) {
    const init = await run('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync']);
    if (init.exitCode !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
  } else {
    give(dataDir);
    chmodSync(dataDir, 0o700);
  }
  const settings: Record<string, string> = {
    listen_addresses: "'127.0.0.1'",
    port: String(port),
    unix_socket_directories: `'${dir}'`,
    fsync: 'off',
    max_connections: '20',
    shared_buffers: '32MB',
    ...options.settings,
  };
  appendFileSync(join(dataDir, 'postgresql.conf'), `\n# throwaway test cluster\n${Object.entries(settings).map(([k, v]) => `${k} = ${v}`).join('\n')}\n`);
  // A restored base backup may carry the source's auto.conf; trust auth on loopback for the test.
  writeFileSync(join(dataDir, 'pg_hba.conf'), 'local all all trust\nhost all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\nlocal replication all trust\n');
  give(join(dataDir, 'pg_hba.conf'));

  const cluster: ThrowawayCluster = {
    dir, dataDir, port, binDir,
    url: (database = 'postgres') => `postgresql://postgres@127.0.0.1:${port}/${database}`,
    async query(sql, values, database) {
      const client = new pg.Client({ connectionString: cluster.url(database) });
      await client.connect();
      try {
        return (await client.query(sql, values as any[])).rows;
      } finally {
        await client.end();
      }
    },
    async start() {
      const started = await run('pg_ctl', ['-D', dataDir, '-l', logFile, '-w', '-t', '120', 'start']);
      if (started.exitCode !== 0) throw new Error(`pg_ctl start failed: ${started.stderr || started.stdout}\n${cluster.log()}`);
    },
    async stop(mode = 'fast') {
      await run('pg_ctl', ['-D', dataDir, '-m', mode, '-w', 'stop']);
    },
    runAsServerUser: run,
    giveToServerUser: give,
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    async destroy() {
      if (existsSync(join(dataDir, 'postmaster.pid'))) await cluster.stop('immediate');
      rmSync(dir, { recursive: true, force: true });
      if (options.dataDir) rmSync(options.dataDir, { recursive: true, force: true });
    },
  };
  await cluster.start();
  return cluster;
}
