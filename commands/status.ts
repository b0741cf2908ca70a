import type { Command } from 'commander';
import type { Context } from '../src/context.js';
import { OperationError, UsageError } from '../src/errors.js';
import { formatTime, renderTable } from '../src/render.js';

export function register(program: Command, ctx: Context): void {
  program
    .command('status')
    .description('last run of each scheduled job and the health rules; exit 1 when unhealthy (a monitoring check)')
    .option('--alert', 'send an alert (ALERT_EMAIL, ALERT_WEBHOOK_URL) for each failing rule, once per ALERT_COOLDOWN_MINUTES')
    .option('--test', 'with --alert: send one test alert through every configured channel, and nothing else')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', `
Health rules (thresholds in the configuration):
  backup         a successful backup within STATUS_BACKUP_MAX_AGE_HOURS (26)
  backup-proven  a successful backup verify or restore drill within STATUS_VERIFY_MAX_AGE_DAYS (8)
  backup-size    no unacknowledged backup below BACKUP_SHRINK_ALERT (50%) of the usual size
  archive        no archived document with a verification problem outstanding
  reminders      reminders run within STATUS_REMINDERS_MAX_AGE_DAYS weekdays (2)
  mail           no failed delivery (not delivered since) within STATUS_FAILED_MAIL_HOURS (24)
  mail-unknown   no delivery left unknown (cut after the final dot, or a crash while sending):
                 settle each with aj mail settle ID --delivered | --resend
  wal-archive    with archive_mode on: no failed archive_command since the last success, and a WAL
                 file archived within WAL_MAX_AGE_MINUTES (15) while WAL waits (WAL_ARCHIVING=required:
                 archive_mode must be on)

Examples:
  aj status
  aj status --json | jq '.checks[] | select(.ok | not)'
  aj status --alert --quiet          # hourly from cron: email when something is wrong
  aj status --alert --test           # one test alert, to see that alerts arrive

Exit status: 0 healthy (or the test alert sent), 1 unhealthy, 3 configuration error (--test without a channel).
`)
    .action(async (opts: { alert?: boolean; test?: boolean; json?: boolean }) => {
      if (opts.test) {
        if (!opts.alert) throw new UsageError('--test goes with --alert', 'run aj status --alert --test');
        const { sendTestAlert } = await import('../src/ops/alerts.js');
        const outcome = await sendTestAlert(ctx, await ctx.db());
        if (opts.json) return ctx.io.json(outcome);
        return ctx.io.out(outcome.sent ? `test alert ${outcome.id} sent` : 'test alert not sent');
      }
      const { runStatus } = await import('../src/ops/status.js');
      const report = await runStatus(ctx, { alert: Boolean(opts.alert) }).catch(async (error: unknown) => {
        // The database is what failed: the alert goes out without it.
        if (opts.alert) {
          const { DatabaseUnreachableError } = await import('../src/db/pool.js');
          const { alertWithoutDatabase } = await import('../src/ops/offline-alert.js');
          if (error instanceof DatabaseUnreachableError) await alertWithoutDatabase(ctx, { name: 'status', command: 'status', pingEnv: '' }, error);
        }
        throw error;
      });
      if (opts.json) ctx.io.json(report);
      else {
        await renderTable(ctx.io, report.jobs, [
          { header: 'job', value: (j) => j.job },
          { header: 'last run', value: (j) => formatTime(j.lastStarted) },
          { header: 'outcome', value: (j) => paintOutcome(ctx, j.outcome) + (j.exitCode && j.outcome !== 'interrupted' ? ` (exit ${j.exitCode})` : '') },
          { header: 'age', value: (j) => (j.ageHours === null ? '' : `${j.ageHours} h`) },
          { header: 'next expected', value: (j) => (j.nextExpected ? formatTime(j.nextExpected) + (j.nextExpected < report.checkedAt ? ' (missed)' : '') : 'on demand') },
          { header: 'summary', value: (j) => j.error ?? j.summary },
        ]);
        ctx.io.out('');
        await renderTable(ctx.io, report.checks, [
          { header: 'check', value: (c) => c.name },
          { header: 'health', value: (c) => (c.ok ? ctx.io.paint('green', 'ok') : ctx.io.paint('red', 'UNHEALTHY')) },
          { header: 'detail', value: (c) => c.detail },
        ]);
      }
      const failing = report.checks.filter((c) => !c.ok);
      if (failing.length > 0) throw new OperationError(`unhealthy: ${failing.map((c) => c.name).join(', ')}`, 'see the detail column, or aj status --json');
    });
}

function paintOutcome(ctx: Context, outcome: string): string {
  if (outcome === 'succeeded') return ctx.io.paint('green', outcome);
  if (outcome === 'failed' || outcome === 'interrupted') return ctx.io.paint('red', outcome);
  return outcome;
}
