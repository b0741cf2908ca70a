import type { Context } from '../context.js';
import type { Db } from '../db/pool.js';
import { findShrunkBackups } from './backup-size.js';
import { JOBS, nextExpectedRun, weekdayHoursBetween } from './jobs.js';

export interface JobStatus {
  job: string;
  command: string;
  lastStarted: Date | null;
  /** succeeded, failed, interrupted, running, or never. */
  outcome: string;
  exitCode: number | null;
  ageHours: number | null;
  lastSuccess: Date | null;
  nextExpected: Date | null;
  summary: string | null;
  error: string | null;
}

export interface HealthCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface StatusReport {
  healthy: boolean;
  checkedAt: Date;
  jobs: JobStatus[];
  checks: HealthCheck[];
}

interface RunRow {
  job: string;
  status: string;
  exit_code: number | null;
  started_at: Date;
  summary: string | null;
  error: string | null;
}

/**
 * `aj status [--alert]`: the report, and with --alert one alert per failing check (each under its
 * own cooldown key), which is how an hourly cron entry turns silent rot into an email.
 */
export async function runStatus(ctx: Context, options: { alert: boolean }): Promise<StatusReport & { alerted: string[] }> {
  const report = await buildStatus(ctx);
  const alerted: string[] = [];
  if (options.alert && !report.healthy) {
    const { hostname } = await import('node:os');
    const { raiseAlert } = await import('./alerts.js');
    const db = await ctx.db();
    for (const check of report.checks.filter((c) => !c.ok)) {
      const outcome = await raiseAlert(ctx, db, {
        key: `status:${check.name}`,
        subject: `aj status: ${check.name} unhealthy on ${hostname()}`,
        lines: [`Check: ${check.name}`, `Detail: ${check.detail}`, `Host: ${hostname()}`, '', 'Investigate: aj status'],
      });
      if (outcome.sent) alerted.push(check.name);
    }
  }
  return { ...report, alerted };
}

/** The last run of each job and the health rules, judged at ctx.clock(). */
export async function buildStatus(ctx: Context): Promise<StatusReport> {
  const db = await ctx.db();
  const now = ctx.clock();
  const config = ctx.config();
  // Exit 75 means another run held the lock and this one did nothing: not the job's last run.
  const latest = await db.query<RunRow>(
    `SELECT DISTINCT ON (job) job, status, exit_code, started_at, summary, error FROM job_runs
      WHERE exit_code IS DISTINCT FROM 75 ORDER BY job, started_at DESC, id DESC`,
  );
  const successes = await lastSuccesses(db);
  const jobs = JOBS.map((job): JobStatus => {
    const run = latest.find((r) => r.job === job.name);
    const lastSuccess = successes.get(job.name) ?? null;
    return {
      job: job.name,
      command: `aj ${job.command}`,
      lastStarted: run?.started_at ?? null,
      outcome: run?.status ?? 'never',
      exitCode: run?.exit_code ?? null,
      ageHours: run ? round1((now.getTime() - run.started_at.getTime()) / 3_600_000) : null,
      lastSuccess,
      nextExpected: nextExpectedRun(job, run?.started_at, now, config.timezone, config.jobSchedules) ?? null,
      summary: run?.summary ?? null,
      error: run?.error ?? null,
    };
  });
  const checks = await healthChecks(ctx, db, now, successes);
  return { healthy: checks.every((c) => c.ok), checkedAt: now, jobs, checks };
}

async function lastSuccesses(db: Db): Promise<Map<string, Date>> {
  const rows = await db.query<{ job: string; at: Date }>(`SELECT job, max(started_at) AS at FROM job_runs WHERE status = 'succeeded' GROUP BY job`);
  return new Map(rows.map((r) => [r.job, r.at]));
}

async function healthChecks(ctx: Context, db: Db, now: Date, successes: Map<string, Date>): Promise<HealthCheck[]> {
  const config = ctx.config();
  const hoursSince = (at: Date | null | undefined) => (at ? (now.getTime() - at.getTime()) / 3_600_000 : Infinity);
  const ago = (at: Date | null | undefined) => (at ? `${describeAge(hoursSince(at))} ago` : 'never');
  const checks: HealthCheck[] = [];

  const backup = await db.one<{ at: Date | null }>(`SELECT max(finished_at) AS at FROM backup_runs WHERE status IN ('succeeded', 'deleted')`);
  checks.push(config.backupEnabled
    ? { name: 'backup', ok: hoursSince(backup?.at) <= config.statusBackupMaxAgeHours, detail: `last successful backup ${ago(backup?.at)} (limit ${config.statusBackupMaxAgeHours} h)` }
    : { name: 'backup', ok: true, detail: 'backups disabled (BACKUP_ENABLED=false)' });

  const verified = await db.one<{ at: Date | null }>(`SELECT max(verified_at) AS at FROM backup_runs WHERE verify_ok`);
  const drill = successes.get('restore-drill');
  const proven = [verified?.at, drill].filter((d): d is Date => Boolean(d)).sort((a, b) => b.getTime() - a.getTime())[0];
  checks.push({
    name: 'backup-proven',
    ok: hoursSince(proven) <= config.statusVerifyMaxAgeDays * 24,
    detail: `last verification ${ago(verified?.at)}, last restore drill ${ago(drill)} (limit ${config.statusVerifyMaxAgeDays} days)`,
  });

  const shrunk = await findShrunkBackups(db, config.backupShrinkAlert);
  checks.push({ name: 'backup-size', ok: shrunk.length === 0, detail: shrunk.length === 0 ? 'no unexpected drop in backup size' : shrunk.map((s) => s.description).join('; ') });

  const archive = await db.one<{ problems: number }>(
    `SELECT count(*) AS problems FROM archived_documents WHERE last_verify_result IS NOT NULL AND last_verify_result <> 'ok'`,
  );
  const problems = archive?.problems ?? 0;
  checks.push({ name: 'archive', ok: problems === 0, detail: problems === 0 ? 'no archive verification problem outstanding' : `${problems} archived document(s) failed verification (aj archive verify --json)` });

  const reminders = successes.get('reminders');
  const weekdayHours = reminders ? weekdayHoursBetween(reminders, now, config.timezone) : Infinity;
  checks.push({
    name: 'reminders',
    ok: weekdayHours <= config.statusRemindersMaxAgeDays * 24,
    detail: `last successful run ${ago(reminders)} (limit ${config.statusRemindersMaxAgeDays} weekdays)`,
  });

  checks.push(config.autoSendEnabled ? await autoSendCheck(db, now, config.autoSendPdfWaitHours) : { name: 'auto-send', ok: true, detail: 'automatic sending disabled (AUTO_SEND_ENABLED=false)' });
  checks.push(await mailCheck(db, now, config.statusFailedMailHours));
  checks.push(await unsettledCheck(db));
  const { walArchiveHealth } = await import('../wal/health.js');
  const wal = await walArchiveHealth(db, { maxAgeMinutes: config.walMaxAgeMinutes, required: config.walArchiving === 'required' });
  checks.push({ name: 'wal-archive', ok: wal.healthy, detail: wal.detail });
  return checks;
}

/**
 * Failed deliveries of the last hours, not delivered since (by a retry or the next reminders run:
 * the ledger's status is the key's, whoever re-sent it); and attempts from before the ledger that
 * were never re-sent.
 */
async function mailCheck(db: Db, now: Date, hours: number): Promise<HealthCheck> {
  const mail = await db.one<{ failed: number; ids: number[] }>(
    `SELECT count(*) AS failed, (array_agg(id ORDER BY id))[1:5] AS ids FROM (
       SELECT d.id FROM deliveries d WHERE d.status = 'failed' AND d.finished_at > $1::timestamptz - make_interval(hours => $2)
       UNION ALL
       SELECT NULL FROM email_messages m WHERE m.delivery_id IS NULL AND m.status = 'failed' AND m.created_at > $1::timestamptz - make_interval(hours => $2)
          AND NOT EXISTS (SELECT 1 FROM email_messages r WHERE r.retry_of = m.id AND r.status = 'sent')) f`,
    [now, hours],
  );
  const failed = mail?.failed ?? 0;
  const ids = (mail?.ids ?? []).filter((id) => id !== null);
  return {
    name: 'mail',
    ok: failed === 0,
    detail: failed === 0 ? `no failed email in ${hours} h` : `${failed} email(s) failed in ${hours} h${ids.length ? ` (deliveries ${ids.join(', ')})` : ''}: aj mail retry --failed (aj mail history --status failed)`,
  };
}

/** Documents `aj mail auto-send` has to mail that still have no archived PDF after the allowed wait. */
async function autoSendCheck(db: Db, now: Date, hours: number): Promise<HealthCheck> {
  const { overdueWaits } = await import('../mail/auto-send-plan.js');
  const late = await overdueWaits(db, hours, now);
  if (late.length === 0) return { name: 'auto-send', ok: true, detail: `no document waiting more than ${hours} h for its archived PDF` };
  const named = late.slice(0, 5).map((d) => `${d.documentType} ${d.numero ?? d.documentId} (${d.status})`).join(', ');
  return {
    name: 'auto-send',
    ok: false,
    detail: `${late.length} document(s) waiting more than ${hours} h for an archived PDF, not sent: ${named}${late.length > 5 ? ', ...' : ''} (check aj archive sync, or archive it with aj archive put)`,
  };
}

/** Deliveries that may or may not have reached the client: the operator settles them; until then, unhealthy. */
async function unsettledCheck(db: Db): Promise<HealthCheck> {
  const { settleCommand, unsettled } = await import('../deliveries/ledger.js');
  const open = await unsettled(db);
  if (open.length === 0) return { name: 'mail-unknown', ok: true, detail: 'no delivery waiting to be settled' };
  const ids = open.map((d) => d.id);
  return {
    name: 'mail-unknown',
    ok: false,
    detail: `${open.length} delivery(ies) maybe delivered, never re-sent on their own (${open.slice(0, 5).map((d) => d.key).join(', ')}${open.length > 5 ? ', ...' : ''}): ${settleCommand(ids)}`,
  };
}

function describeAge(hours: number): string {
  if (hours < 1) return `${Math.max(0, Math.round(hours * 60))} min`;
  if (hours < 48) return `${round1(hours)} h`;
  return `${round1(hours / 24)} days`;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
