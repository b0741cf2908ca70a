import { type Command, Option } from 'commander';
import type { Context } from '../src/context.js';
import { UsageError } from '../src/errors.js';
import { formatTime, renderTable } from '../src/render.js';
import { groupHelp } from './shared/help.js';

const RUN_HELP = `
Rules (days configurable, business dates in AJ_TIMEZONE, Europe/Paris by default):
  invoices  envoyee, unpaid, client not paused: level 1 at due date + 30 days, level 2 ("relance
            avant mise en demeure", with the legal penalties and 40 EUR indemnity for professional
            clients) at + 60 days (REMINDER_INVOICE_DAYS=30,60). Catch-up sends only the highest level.
  quotes    envoye, unsigned, still valid: one reminder REMINDER_QUOTE_DAYS (15) days after sending.
  expiry    envoye, unsigned, past validity: status becomes expire (no email), logged.
Each reminder is delivered at most once: its key (reminder:facture:<id>:relance-1) is claimed in the
delivery ledger before sending, whichever command sends it (this one, aj mail retry, aj mail settle).
A failed reminder is sent again by the next run (or aj mail retry). One cut after the whole message
went out, or left "sending" by a crash, is unknown: never re-sent on its own; the run reports it and
fails until it is settled (aj mail settle ID --delivered | --resend).
A document with unusable data (an invalid client address, a number holding a line break) is skipped
and reported for itself, the rest of the run goes on, and the run exits 1. A client without an email
address is reported as needing a letter or a call, without failing the run.
Invoice reminders attach the invoice's latest archived PDF when there is one, read with its
SHA-256 checked (REMINDER_ATTACH_PDF=false: none); a damaged PDF stops that reminder (exit 4).
REMINDERS_ENABLED=false makes run a dry run.

Examples:
  aj reminders run --dry-run
  aj reminders run                      # daily from cron
  aj reminders run --only invoices --as-of 2026-03-31 --json
  aj reminders list --status failed

Exit status: 0 done (clients without an address included), 1 a send failed or was refused (sent again
next run), a delivery is unknown, or a document was skipped for its data; 4 an invoice's archived PDF
is damaged (that reminder not sent); 75 another run holds the lock.
`;

export function register(program: Command, ctx: Context): void {
  const reminders = program
    .command('reminders')
    .description('unpaid-invoice and unsigned-quote reminders, quote expiry')
    .addHelpText('after', groupHelp(['aj reminders run --dry-run', 'aj reminders run', 'aj reminders list --status failed']));

  reminders
    .command('run')
    .description('send the reminders due today and expire outdated quotes, each exactly once')
    .option('--dry-run', 'print the plan; change nothing')
    .addOption(new Option('--only <what>', 'only this part').choices(['invoices', 'quotes', 'expiry']))
    .option('--as-of <date>', 'plan as of this business day (YYYY-MM-DD) instead of today')
    .option('--limit <n>', 'send at most this many reminders')
    .option('--wait', 'wait for a run already in progress instead of exiting 75')
    .option('--json', 'print the summary as JSON')
    .addHelpText('after', RUN_HELP)
    .action(async (opts: { dryRun?: boolean; only?: 'invoices'; asOf?: string; limit?: string; wait?: boolean; json?: boolean }) => {
      const { runReminders, runFailure } = await import('../src/reminders/run.js');
      const { parseDay } = await import('../src/mail/log.js');
      const limit = opts.limit === undefined ? undefined : Number(opts.limit);
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new UsageError(`--limit: "${opts.limit}" is not a positive whole number`, 'write it as --limit 50');
      const summary = await runReminders(
        { dryRun: Boolean(opts.dryRun), only: opts.only, asOf: opts.asOf && parseDay('--as-of', opts.asOf), limit, wait: Boolean(opts.wait) },
        ctx,
      );
      if (opts.json) ctx.io.json(summary);
      else await printSummary(ctx, summary);
      for (const s of summary.stuck) ctx.io.warn(`delivery ${s.id} (${s.key}) is unknown: ${s.error ?? 'it may have been delivered'}; not re-sent (aj mail settle ${s.id} --delivered | --resend)`);
      const failure = runFailure(summary);
      if (failure) throw failure;
    });

  reminders
    .command('list')
    .description('the reminder log: what was claimed, sent, failed or done, newest first')
    .addOption(new Option('--status <status>', 'only this status').choices(['sending', 'sent', 'failed', 'unknown', 'done']))
    .addOption(new Option('--type <type>', 'only this document type').choices(['facture', 'devis']))
    .option('--document <ref>', 'only this document: facture:FA-2026-0042 (number or id), or an id as the app stores it')
    .option('--limit <n>', 'at most this many rows', '50')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExamples:\n  aj reminders list\n  aj reminders list --status unknown   # maybe delivered: aj mail settle\n  aj reminders list --document facture:FA-2026-0042 --json\n\nExit status: 0 listed (none found included), 2 bad flags, 1 the database failed.\n')
    .action(async (opts: { status?: 'sent'; type?: 'facture'; document?: string; limit: string; json?: boolean }) => {
      const { runReminderLog } = await import('../src/reminders/log.js');
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit: "${opts.limit}" is not a positive whole number`, 'write it as --limit 100');
      const rows = await runReminderLog(ctx, { status: opts.status, type: opts.type, document: opts.document, limit });
      if (opts.json) return ctx.io.json(rows);
      await renderTable(ctx.io, rows, [
        { header: 'document', value: (r) => `${r.documentType} ${r.numero ?? r.documentId}` },
        { header: 'level', value: (r) => r.level },
        { header: 'status', value: (r) => r.status },
        { header: 'claimed', value: (r) => formatTime(r.claimedAt) },
        { header: 'finished', value: (r) => formatTime(r.finishedAt) },
        { header: 'delivery', value: (r) => r.delivery },
        { header: 'error', value: (r) => r.error },
      ], 'no reminders logged');
    });
}

type Summary = Awaited<ReturnType<typeof import('../src/reminders/run.js').runReminders>>;

async function printSummary(ctx: Context, s: Summary): Promise<void> {
  if (s.dryRun) {
    await renderTable(ctx.io, s.plan.reminders, [
      { header: 'document', value: (r) => `${r.documentType} ${r.numero}` },
      { header: 'client', value: (r) => r.clientName },
      { header: 'level', value: (r) => r.level },
      { header: 'due since', value: (r) => r.dueSince },
      { header: 'amount', value: (r) => r.amount },
      { header: 'email', value: (r) => r.email ?? '' },
      { header: 'note', value: (r) => r.skip?.reason ?? '' },
    ], `no reminders due on ${s.asOf}`);
    const expiring = s.plan.expiring.map((e) => e.numero);
    if (expiring.length > 0) ctx.io.notice(`would expire ${expiring.length} quote(s): ${expiring.slice(0, 10).join(', ')}${expiring.length > 10 ? ', ...' : ''}`);
    return;
  }
  if (s.results.length > 0) {
    await renderTable(ctx.io, s.results, [
      { header: 'document', value: (r) => `${r.documentType} ${r.numero}` },
      { header: 'level', value: (r) => r.level },
      { header: 'email', value: (r) => r.email },
      { header: 'status', value: (r) => r.status },
      { header: 'delivery', value: (r) => r.delivery },
      { header: 'error', value: (r) => r.error },
    ]);
  }
  // A number holding a line break is shown quoted, on one line.
  const numero = (n: string) => (/[\r\n\0]/.test(n) ? JSON.stringify(n) : n);
  for (const d of s.damaged) ctx.io.warn(`not sent: facture ${numero(d.numero)} ${d.level}: ${d.error}`);
  for (const k of s.skipped) ctx.io.warn(`skipped ${k.documentType} ${numero(k.numero)} ${k.level}: ${k.reason}${k.action === 'letter-or-call' ? ' (send a letter or call)' : ''}`);
  const sent = s.transport === 'outbox' ? `${s.sent} written to the outbox` : `${s.sent} sent`;
  ctx.io.notice(`reminders as of ${s.asOf}: ${sent}, ${s.failed} failed, ${s.unknown} unknown, ${s.skipped.length} skipped, ${s.expired} quote(s) expired, ${s.stuck.length} waiting to be settled`);
}
