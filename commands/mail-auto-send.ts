import type { Command } from 'commander';
import type { Context } from '../src/context.js';
import { formatTime, renderTable } from '../src/render.js';
import { positiveInteger } from './shared/parse.js';

const HELP = `
What goes, each once, to the client's address with the company copy (COMPANY_BCC_EMAIL):
  devis    became envoye   its archived PDF (template "document")
  devis    became signe    the signed copy (a version archived on or after the signature day)
                           and a confirmation (template "devis-signe")
  facture  became envoyee  its archived PDF (template "document")
The first run takes a baseline: documents already in those statuses are recorded as known, not
mailed; --since DATE mails those sent, signed or issued on or after DATE instead. Each message is
a delivery in the ledger under status:<type>:<id>:<status> (aj mail history), claimed before
sending: a failed one is sent again by the next run, an unknown one waits for aj mail settle.
A document whose PDF is not archived yet waits for a later run; after AUTO_SEND_PDF_WAIT_HOURS
(24) aj status is unhealthy, naming it. A damaged PDF (size or SHA-256) is not sent: exit 4 and
an alert. A client without an email address needs a letter or a call (not a failure).
AUTO_SEND_ENABLED=false makes it a no-op (recorded as skipped).

Examples:
  aj mail auto-send --dry-run
  aj mail auto-send                              # every 5 minutes in business hours, from cron
  aj mail auto-send --since 2026-11-01 --json    # first run: also mail what was sent since 1 November

Exit status: 0 done (waiting PDFs and clients without an address included), 1 a send failed or
is unknown, or a document was skipped for its data, 4 an archived PDF is damaged,
75 another run holds the lock.
`;

export function registerAutoSend(mail: Command, ctx: Context): void {
  mail
    .command('auto-send')
    .description('mail each quote sent or signed and each invoice issued, with its archived PDF, once')
    .option('--since <date>', 'also mail documents sent, signed or issued on or after this day (YYYY-MM-DD)')
    .option('--dry-run', 'list what would go; send and record nothing')
    .option('--limit <n>', 'send at most this many messages', positiveInteger)
    .option('--json', 'print the summary as JSON')
    .addHelpText('after', HELP)
    .action(async (opts: { since?: string; dryRun?: boolean; limit?: number; json?: boolean }) => {
      const { runAutoSend, autoSendFailure } = await import('../src/mail/auto-send.js');
      const { parseDay } = await import('../src/mail/log.js');
      const summary = await runAutoSend(ctx, { dryRun: Boolean(opts.dryRun), since: opts.since && parseDay('--since', opts.since), limit: opts.limit });
      if (opts.json) ctx.io.json(summary);
      else await printSummary(ctx, summary);
      const failure = autoSendFailure(summary);
      if (failure) throw failure;
    });
}

type Summary = Awaited<ReturnType<typeof import('../src/mail/auto-send.js').runAutoSend>>;

async function printSummary(ctx: Context, s: Summary): Promise<void> {
  if (s.disabled) return;
  // A number holding a line break is shown quoted, on one line.
  const doc = (d: { documentType: string; numero: string; status: string }) => `${d.documentType} ${/[\r\n\0]/.test(d.numero) ? JSON.stringify(d.numero) : d.numero} (${d.status})`;
  if (s.baseline) ctx.io.notice(`first run: ${s.baseline.documents} document(s) already sent, signed or issued recorded as known, not mailed${s.baseline.since ? ` (before ${s.baseline.since})` : ''}`);
  const rows: Array<Summary['toSend'][number] & { outcome: string; delivery?: number; error?: string }> = s.dryRun ? s.toSend.map((d) => ({ ...d, outcome: 'would go' })) : s.results;
  await renderTable(ctx.io, rows, [
    { header: 'document', value: (r) => doc(r) },
    { header: 'email', value: (r) => r.email ?? '' },
    { header: 'outcome', value: (r) => (r.outcome === 'sent' && s.transport === 'outbox' ? 'written to the outbox' : r.outcome) },
    { header: 'delivery', value: (r) => r.delivery },
    { header: 'error', value: (r) => r.error },
  ], s.dryRun ? 'nothing to send' : 'nothing sent');
  for (const w of s.waiting) {
    const line = `${doc(w)}: no archived PDF yet, waiting since ${formatTime(w.since)}`;
    if (w.overdue) ctx.io.warn(`${line} (past AUTO_SEND_PDF_WAIT_HOURS: check aj archive sync)`);
    else ctx.io.notice(line);
  }
  for (const d of s.damaged) ctx.io.warn(`${doc(d)} not sent: ${d.error}`);
  for (const k of s.skipped) {
    if (k.action === 'fix-data') ctx.io.warn(`skipped ${doc(k)}: ${k.reason}`);
    else if (k.firstTime || s.dryRun) ctx.io.notice(`skipped ${doc(k)}: ${k.reason} (send a letter or call)`);
  }
  for (const d of s.stuck) ctx.io.warn(`delivery ${d.id} (${d.key}) is unknown: ${d.error ?? 'it may have been delivered'}; not re-sent (aj mail settle ${d.id} --delivered | --resend)`);
  if (!s.dryRun) {
    const sent = s.transport === 'outbox' ? `${s.sent} written to the outbox` : `${s.sent} sent`;
    ctx.io.notice(`auto-send: ${sent}, ${s.failed} failed, ${s.unknown} unknown, ${s.waiting.length} waiting for a PDF, ${s.damaged.length} damaged, ${s.skipped.length} skipped`);
  }
}
