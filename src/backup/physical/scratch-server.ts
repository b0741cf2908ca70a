import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { OperationError } from '../../errors.js';

const asRoot = process.getuid?.() === 0;

/**
 * A throwaway PostgreSQL server on a restored data directory, for the drill: loopback only, on a
 * free port, its socket in the scratch directory, trust for local connections only, archiving off
 * (a drill must never push a new timeline into the production archive). PostgreSQL refuses to run
 * as root: then it runs as the `postgres` system user, who is given the scratch directory.
 */
export class ScratchServer {
  private constructor(
    private readonly scratch: string,
    private readonly dataDir: string,
    private readonly binDir: string,
    private readonly port: number,
    /** The role the drill connects as (local trust): DATABASE_URL's user exists in a restore of its cluster. */
    private readonly user: string,
  ) {}

  static async prepare(scratch: string, dataDir: string, binDir: string, user: string): Promise<ScratchServer> {
    writeFileSync(join(dataDir, 'pg_hba.conf'), 'local all all trust\nhost all all 127.0.0.1/32 trust\n', { mode: 0o600 });
    // Debian keeps postgresql.conf and pg_ident.conf in /etc: the backup may not hold them.
    for (const file of ['postgresql.conf', 'pg_ident.conf']) if (!existsSync(join(dataDir, file))) writeFileSync(join(dataDir, file), '', { mode: 0o600 });
    if (asRoot) {
      const owner = { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) };
      giveTo(scratch, owner);
      openPathTo(scratch);
    }
    return new ScratchServer(scratch, dataDir, binDir, await freePort(), user);
  }

  private get logFile(): string {
    return join(this.scratch, 'server.log');
  }

  async start(timeoutSeconds: number, signal: AbortSignal): Promise<void> {
    const settings = {
      port: String(this.port), listen_addresses: '127.0.0.1', unix_socket_directories: this.scratch, archive_mode: 'off', ssl: 'off',
      hba_file: join(this.dataDir, 'pg_hba.conf'), ident_file: join(this.dataDir, 'pg_ident.conf'), logging_collector: 'off',
      log_destination: 'stderr', external_pid_file: '', cluster_name: 'aj-drill',
    };
    const options = Object.entries(settings).map(([name, value]) => `-c ${name}='${value}'`).join(' ');
    const result = await this.pgCtl(['-D', this.dataDir, '-l', this.logFile, '-w', '-t', String(timeoutSeconds), '-o', options, 'start'], signal);
    if (result.exitCode !== 0) throw new OperationError(`the restored server did not start: ${this.logTail() || String(result.stderr).trim()}`);
  }

  /** Polls until recovery has reached its target and promoted; returns the last replayed commit's time. */
  async waitForPromotion(timeoutSeconds: number, signal: AbortSignal): Promise<string | null> {
    const deadline = Date.now() + timeoutSeconds * 1000;
    for (;;) {
      signal.throwIfAborted();
      if (!existsSync(join(this.dataDir, 'postmaster.pid'))) throw new OperationError(`the restored server stopped during recovery: ${this.logTail()}`);
      const row = await this.withClient('postgres', async (client) => (await client.query<{ recovering: boolean; at: Date | null }>(
        'SELECT pg_is_in_recovery() AS recovering, pg_last_xact_replay_timestamp() AS at',
      )).rows[0]!).catch(() => undefined);
      if (row && !row.recovering) return row.at ? row.at.toISOString() : null;
      if (Date.now() > deadline) throw new OperationError(`recovery had not finished after ${timeoutSeconds} s: ${this.logTail() || 'still replaying WAL'}`, 'raise --timeout');
      await sleep(250, undefined, { signal });
    }
  }

  async databases(): Promise<string[]> {
    return this.withClient('postgres', async (client) =>
      (await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1')).rows.map((r) => r.datname));
  }

  async withClient<T>(database: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ host: this.scratch, port: this.port, database, user: this.user, application_name: 'aj drill' });
    client.on('error', () => undefined);
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Immediate: the server and its files are thrown away. */
  async stop(): Promise<void> {
    if (existsSync(join(this.dataDir, 'postmaster.pid'))) await this.pgCtl(['-D', this.dataDir, '-m', 'immediate', '-w', 'stop']);
  }

  private logTail(): string {
    const lines = existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8').split('\n') : [];
    return lines.filter((l) => /FATAL|PANIC|ERROR/.test(l)).slice(-3).map((l) => l.replace(/^.*?(FATAL|PANIC|ERROR):\s*/, '$1: ')).join(' | ');
  }

  private async pgCtl(args: string[], signal?: AbortSignal) {
    const { execa } = await import('execa');
    const pgCtl = join(this.binDir, 'pg_ctl');
    const [command, full] = asRoot ? ['runuser', ['-u', 'postgres', '--', pgCtl, ...args]] : [pgCtl, args];
    return execa(command, full, { reject: false, cancelSignal: signal, stdin: 'ignore', cwd: this.scratch });
  }
}

function giveTo(path: string, owner: { uid: number; gid: number }): void {
  chownSync(path, owner.uid, owner.gid);
  if (statSync(path).isDirectory()) for (const entry of readdirSync(path)) giveTo(join(path, entry), owner);
}

/** The server's user must reach the scratch directory: parents of ours get search (x) for others, never read. */
function openPathTo(dir: string): void {
  for (let parent = dirname(dir); parent !== dirname(parent); parent = dirname(parent)) {
    const st = statSync(parent);
    if (st.uid === process.getuid?.() && (st.mode & 0o001) === 0) chmodSync(parent, (st.mode & 0o7777) | 0o011);
  }
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
