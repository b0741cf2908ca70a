import { PassThrough, type Readable, type Writable } from 'node:stream';
import type { Config } from '../config/schema.js';
import { type PgTarget, libpqEnv } from '../db/connection.js';
import { type PgTool, pgToolMissing, pgToolPath } from '../db/pg-tools.js';
import { OperationError } from '../errors.js';

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
 */
export async function startPgTool(
  tool: PgTool,
  args: string[],
  target: PgTarget,
  config: Config,
  options: { signal?: AbortSignal; stdin?: 'pipe' | 'ignore' } = {},
): Promise<PgProcess> {
  const { execa } = await import('execa');
  const { env, cleanup } = await libpqEnv(target);
  const child = execa(pgToolPath(tool, config), args, {
    env: { PGCONNECT_TIMEOUT: '15', ...env },
    stdin: options.stdin ?? 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: { stdout: false, stderr: true },
    cancelSignal: options.signal,
    forceKillAfterDelay: 5000,
    maxBuffer: { stderr: 1024 * 1024 },
  });
  const exited = (async () => {
    try {
      await child;
    } catch (error) {
      throw explainToolFailure(tool, error);
    } finally {
      await cleanup();
    }
  })();
  exited.catch(() => undefined);
  return { stdout: holdOutput(child.stdout as Readable), stdin: (child.stdin as Writable | null) ?? null, exited, kill: () => void child.kill() };
}

/**
 * execa resumes an unread `buffer: false` stdout on the next tick, dropping its data; callers
 * attach their consumer only after some awaits. A PassThrough piped at once keeps every byte,
 * with backpressure reaching the child as usual.
 */
export function holdOutput(stdout: Readable): Readable {
  const held = new PassThrough({ highWaterMark: 1 << 20 });
  stdout.once('error', (error) => held.destroy(error));
  return stdout.pipe(held);
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
