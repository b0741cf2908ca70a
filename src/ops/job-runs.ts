import { hostname } from 'node:os';
import { scrubSecrets } from '../config/redact.js';
import type { Context } from '../context.js';
import type { Db } from '../db/pool.js';
import { ExitCode, describeError } from '../errors.js';
import { type JobSpec, jobForCommand } from './jobs.js';

export interface JobRun {
  id: number;
  job: JobSpec;
  db: Db;
}

/**
 * Opens the job_runs row of a cron-able command before its action runs. Recording is best
 * effort: without a loadable config or a reachable database nothing is recorded, and the
 * command then meets (and reports) the same problem itself.
 */
export async function startJobRun(ctx: Context, command: string): Promise<JobRun | undefined> {
  const job = jobForCommand(command);
  if (!job) return undefined;
  try {
    const config = ctx.config();
    ctx.io.redact = (text) => scrubSecrets(text, config);
    ctx.io.job = job.name;
    const db = await ctx.db();
    const closed = await closeStaleRuns(db, job);
    if (closed > 0) ctx.io.warn(`${closed} earlier ${job.name} run(s) had been interrupted; recorded as such`);
    const row = await db.one<{ id: number }>(
      `INSERT INTO job_runs (job, host, pid, status) VALUES ($1, $2, $3, 'running') RETURNING id`,
      [job.name, hostname(), process.pid],
    );
    return { id: row!.id, job, db };
  } catch (error) {
    ctx.io.debug(`job run not recorded: ${describeError(error)}`);
    return undefined;
  }
}

/** Closes the row with the command's exit code; then the success ping or the failure alert. */
export async function finishJobRun(ctx: Context, run: JobRun, exitCode: number, error: unknown): Promise<void> {
  try {
    if (exitCode === ExitCode.usage || exitCode === ExitCode.config) {
      // A typo or a bad setting stopped the command before its job started: no run to record, and
      // nothing for `aj status` or an alert to count as the job failing.
      await run.db.query('DELETE FROM job_runs WHERE id = $1', [run.id]);
      return;
    }
    const status = exitCode !== ExitCode.ok ? (exitCode === ExitCode.interrupted ? 'interrupted' : 'failed') : ctx.skipped ? 'skipped' : 'succeeded';
    const message = error === undefined ? (ctx.skipped ?? null) : scrubSecrets(describeError(error), ctx.config()).slice(0, 1000);
    const { summarise } = await import('./job-summary.js');
    const summary = await summarise(run.db, run.job.name, run.id).catch(() => null);
    await run.db.query(
      `UPDATE job_runs SET status = $2, exit_code = $3, error = $4, summary = $5, finished_at = now() WHERE id = $1`,
      [run.id, status, exitCode, message, summary],
    );
    ctx.io.debug(`job run ${run.id} recorded`, { jobRun: run.id, status, exitCode });
    const { afterJobRun } = await import('./notify.js');
    await afterJobRun(ctx, run, { status, exitCode, error: message, summary });
  } catch (failure) {
    ctx.io.debug(`job run ${run.id} not closed: ${describeError(failure)}`);
  }
}

/**
 * A `running` row whose process is gone: the job's lock is free (PostgreSQL drops it with the
 * session) and, on this host, the pid no longer exists. On other hosts, a minute's grace covers a
 * run that has opened its row but not yet taken its lock; lock-less jobs there get a day.
 */
export async function closeStaleRuns(db: Db, job: JobSpec): Promise<number> {
  const open = await db.query<{ id: number; host: string; pid: number; started_at: Date }>(
    `SELECT id, host, pid, started_at FROM job_runs WHERE job = $1 AND status = 'running'`,
    [job.name],
  );
  if (open.length === 0) return 0;
  if (job.lock) {
    const { isJobLocked } = await import('../db/job-lock.js');
    if (await isJobLocked(db, job.lock)) return 0;
  }
  const here = hostname();
  const stale = open.filter((r) => (r.host === here ? !processAlive(r.pid) : Date.now() - r.started_at.getTime() > (job.lock ? 60_000 : 86_400_000)));
  if (stale.length === 0) return 0;
  await db.query(
    `UPDATE job_runs SET status = 'interrupted', error = 'the process stopped before recording an outcome (killed, crashed or rebooted)',
       finished_at = now() WHERE id = ANY($1::bigint[]) AND status = 'running'`,
    [stale.map((r) => r.id)],
  );
  return stale.length;
}

export function processAlive(pid: number): boolean {
  // Our own pid on a row we did not open: a previous process that had the same number.
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * `backup run` for the action command `run` under `backup`; top-level commands by their own name.
 * The point-in-time drill (`backup restore --physical --drill`) is a job of its own, apart from dump restores.
 */
export function commandPath(action: { name(): string; parent: { name(): string; parent: unknown } | null; opts?(): Record<string, unknown> }): string {
  const path = action.parent?.parent ? `${action.parent.name()} ${action.name()}` : action.name();
  const opts = action.opts?.() ?? {};
  return path === 'backup restore' && opts.physical && opts.drill ? `${path} --physical --drill` : path;
}

/**
 * Everything after a command's action, in main.ts's one call: close the job run (ping, alert)
 * and refresh the metrics file. None of it may change the command's exit code.
 */
export async function afterCommand(ctx: Context, run: JobRun | undefined, exitCode: number, error: unknown, command?: string): Promise<void> {
  if (run) await finishJobRun(ctx, run, exitCode, error);
  else await alertIfDatabaseDown(ctx, command, error);
  // PostgreSQL runs these once per WAL file, during recovery too: no connection, no metrics refresh.
  if (command === 'wal push' || command === 'wal fetch') return;
  let path: string | undefined;
  try {
    path = ctx.config().metricsFile;
    if (!path) return;
    const { writeMetricsFile } = await import('./metrics.js');
    await writeMetricsFile(await ctx.db(), path);
  } catch (failure) {
    if (path) ctx.io.warn(`metrics not written to ${path}: ${scrubSecrets(describeError(failure), undefined)}`);
  }
}

/** A scheduled job that could not even record its run because the database is unreachable still alerts. */
async function alertIfDatabaseDown(ctx: Context, command: string | undefined, error: unknown): Promise<void> {
  const job = command ? jobForCommand(command) : undefined;
  const { DatabaseUnreachableError } = await import('../db/pool.js');
  if (!job || !(error instanceof DatabaseUnreachableError)) return;
  const { alertWithoutDatabase } = await import('./offline-alert.js');
  await alertWithoutDatabase(ctx, job, error);
}
