import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable, type Writable } from 'node:stream';
import type { Config } from '../config/schema.js';
import { type PgTarget, libpqEnv } from '../db/connection.js';
import { type PgTool, pgToolMissing, pgToolPath } from '../db/pg-tools.js';
import { OperationError } from '../errors.js';

const STDERR_LIMIT = 1024 * 1024;
const FORCE_KILL_MS = 5000;

export interface PgProcess {
  stdout: Readable;
  stdin: Writable | null;
  /** Resolves on exit status 0; rejects with the tool's own error line otherwise. */
  exited: Promise<void>;
  kill(): void;
}

/**
 * Starts a PostgreSQL client tool with connection details in the environment only
 * (PG* variables, password in a 0600 passfile removed when the process ends).
 * Plain child_process rather than execa: execa reports a stdout handed to another process (pg_dump
 * writing straight into age) as a stream closed early.
 */
export async function startPgTool(
  tool: PgTool,
  args: string[],
  target: PgTarget,
  config: Config,
  options: {
    signal?: AbortSignal;
    stdin?: 'pipe' | 'ignore';
    /**
     * Where the tool writes directly, without a copy through Node: a stream with a file descriptor
     * (another process's stdin; the caller closes its own end afterwards) or an open file's
     * descriptor. `stdout` is then empty.
     */
    stdout?: Writable | number;
    /**
     * Bytes the tool gathers before each write to its stdout pipe (coreutils stdbuf, when installed).
     * pg_dump writes 4-8 KiB at a time, and every write is a chunk for Node to handle: through a
     * pipe, a 454 MiB dump was 75,000 chunks and seconds of CPU; with 1 MiB, 8,000.
     */
    outputBuffer?: number;
  } = {},
): Promise<PgProcess> {
  const path = pgToolPath(tool, config);
  const { env, cleanup } = await libpqEnv(target);
  let child;
  try {
    const stdbuf = options.outputBuffer && options.stdout === undefined ? workingStdbuf() : undefined;
    const [command, argv] = stdbuf ? [stdbuf, ['-o', String(options.outputBuffer), path, ...args]] : [path, args];
    child = spawn(command, argv, { env: { ...process.env, PGCONNECT_TIMEOUT: '15', ...env }, stdio: [options.stdin ?? 'ignore', options.stdout ?? 'pipe', 'pipe'] });
  } catch (error) {
    await cleanup();
    throw explainToolFailure(tool, error);
  }
  // A tool that exits before reading all its input: its exit status tells, not an EPIPE thrown here.
  child.stdin?.on('error', () => undefined);
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (text: string) => {
    if (stderr.length < STDERR_LIMIT) stderr += text;
  });
  const stderrRead = new Promise<void>((resolve) => child.stderr!.once('close', () => resolve()));
  let canceled = false;
  let forceKill: NodeJS.Timeout | undefined;
  const kill = () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    // A tool stuck in a network call may ignore SIGTERM.
    forceKill ??= setTimeout(() => child.kill('SIGKILL'), FORCE_KILL_MS).unref();
  };
  const onAbort = () => {
    canceled = true;
    kill();
  };
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  const exited = (async () => {
    try {
      const status = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', (code, signal) => resolve({ code, signal }));
      });
      await stderrRead;
      if (canceled) throw Object.assign(new Error(`${tool} was stopped`), { isCanceled: true });
      if (status.code !== 0) throw Object.assign(new Error(`${tool} failed`), { exitCode: status.code ?? undefined, signal: status.signal ?? undefined, stderr });
    } catch (error) {
      throw explainToolFailure(tool, error);
    } finally {
      clearTimeout(forceKill);
      options.signal?.removeEventListener('abort', onAbort);
      await cleanup();
    }
  })();
  exited.catch(() => undefined);
  const stdout = options.stdout === undefined ? holdOutput(child.stdout!) : Readable.from([]);
  return { stdout, stdin: child.stdin ?? null, exited, kill };
}

/**
 * A PassThrough with room for 1 MiB between a child's pipe (64 KiB) and its consumer: the tool
 * writes ahead while Node is busy elsewhere, with backpressure reaching the child as usual. A
 * consumer attached only after some awaits misses nothing.
 */
export function holdOutput(stdout: Readable): Readable {
  const held = new PassThrough({ highWaterMark: 1 << 20 });
  stdout.once('error', (error) => held.destroy(error));
  return stdout.pipe(held);
}

let stdbufFound: string | null | undefined;

/** coreutils stdbuf when it is installed and works (it needs its libstdbuf.so), looked for once. */
function workingStdbuf(): string | undefined {
  if (stdbufFound === undefined) {
    const dir = (process.env.PATH ?? '/usr/bin:/bin').split(':').find((d) => d && existsSync(join(d, 'stdbuf')));
    stdbufFound = dir && spawnSync(join(dir, 'stdbuf'), ['-o', '1M', 'true'], { stdio: 'ignore' }).status === 0 ? join(dir, 'stdbuf') : null;
  }
  return stdbufFound ?? undefined;
}

/** Runs a tool to completion and returns its stdout (small outputs: versions, globals). */
export async function runPgTool(tool: PgTool, args: string[], target: PgTarget, config: Config, signal?: AbortSignal): Promise<string> {
  const proc = await startPgTool(tool, args, target, config, { signal });
  const chunks: Buffer[] = [];
  proc.stdout.on('data', (c: Buffer) => chunks.push(c));
  await proc.exited;
  return Buffer.concat(chunks).toString('utf8');
}

function explainToolFailure(tool: PgTool, error: unknown): Error {
  const e = error as { code?: string; exitCode?: number; stderr?: string; signal?: string; isCanceled?: boolean };
  if (e.code === 'ENOENT') return pgToolMissing(tool);
  if (e.isCanceled) return new OperationError(`${tool} was stopped`);
  const lines = (e.stderr ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
  const detail = lines.find((l) => /error|fatal/i.test(l)) ?? lines.at(-1) ?? (e.signal ? `killed by ${e.signal}` : `exit status ${e.exitCode}`);
  const hint = /password authentication failed|no password supplied/.test(detail)
    ? 'check the password in DATABASE_URL'
    : /server version mismatch|aborting because of server version/.test(detail)
      ? 'install a PostgreSQL client at least as new as the server, or set PG_BIN_DIR'
      : /could not connect|Connection refused|could not translate host/.test(detail)
        ? 'check DATABASE_URL and that the server is running'
        : undefined;
  return new OperationError(`${tool} failed: ${detail.replace(/^\S+: (error: )?/, '')}`, hint, { cause: error });
}
