import { hostname } from 'node:os';
import type { Context } from '../context.js';
import { ExitCode, describeError } from '../errors.js';
import { raiseAlert } from './alerts.js';
import type { JobRun } from './job-runs.js';

export interface JobOutcome {
  status: string;
  exitCode: number;
  error: string | null;
  summary: string | null;
}

/**
 * What follows a recorded run: a success ping for dead-man's-switch monitoring, an alert when
 * the job failed (exit 1) or found problems (exit 4), and the backup size check after a backup.
 */
export async function afterJobRun(ctx: Context, run: JobRun, outcome: JobOutcome): Promise<void> {
  if (outcome.status === 'skipped') return;
  if (outcome.exitCode === ExitCode.ok) {
    await pingSuccess(ctx, run.job.pingEnv);
    if (run.job.name === 'backup') await alertIfShrunk(ctx, run);
    return;
  }
  if (outcome.exitCode !== ExitCode.failed && outcome.exitCode !== ExitCode.verification) return;
  const verb = outcome.exitCode === ExitCode.verification ? 'found problems' : 'failed';
  await raiseAlert(ctx, run.db, {
    key: run.job.name,
    job: run.job.name,
    jobRunId: run.id,
    subject: `aj ${run.job.command} ${verb} on ${hostname()}`,
    lines: [
      `Job: ${run.job.name} (aj ${run.job.command}), run ${run.id}, exit code ${outcome.exitCode}`,
      `Host: ${hostname()}, pid ${process.pid}`,
      `Error: ${outcome.error ?? 'none reported'}`,
      ...(outcome.summary ? [`Summary: ${outcome.summary}`] : []),
      '',
      `Investigate: aj status; ${investigateCommand(run.job.name)}`,
    ],
  });
}

function investigateCommand(job: string): string {
  const commands: Record<string, string> = {
    backup: 'aj backup list --limit 5',
    'backup-verify': 'aj backup verify --all',
    'restore-drill': 'scripts/restore-drill.sh',
    'archive-verify': 'aj archive verify --json',
    'auto-send': 'aj mail auto-send --dry-run',
    reminders: 'aj reminders list',
    import: 'aj import csv --help',
    'mail-retry': 'aj mail history --status failed',
  };
  return commands[job] ?? 'aj doctor';
}

/** GET <JOB>_PING_URL (healthchecks.io style); an unreachable monitor is a warning, not a failure. */
export async function pingSuccess(ctx: Context, envName: string): Promise<void> {
  const url = ctx.env[envName];
  if (!url) return;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5000), headers: { 'user-agent': 'aj-ping' } });
    await response.body?.cancel();
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    ctx.io.warn(`success ping failed: ${cause ?? describeError(error)} (check ${envName})`);
  }
}

async function alertIfShrunk(ctx: Context, run: JobRun): Promise<void> {
  const { findShrunkBackups } = await import('./backup-size.js');
  const [newest] = await findShrunkBackups(run.db, ctx.config().backupShrinkAlert);
  if (!newest) return;
  ctx.io.warn(newest.description);
  await raiseAlert(ctx, run.db, {
    key: `backup-shrink:${newest.id}`,
    job: 'backup',
    jobRunId: run.id,
    subject: `backup ${newest.id} is much smaller than usual on ${hostname()}`,
    lines: [
      newest.description,
      'A data loss upstream looks like a healthy small backup: retention deletes nothing until this is acknowledged.',
      '',
      `Investigate: aj backup list; then, if the drop is expected, aj backup ack ${newest.id}`,
    ],
  });
}
