import { type Command, Option } from 'commander';
import type { Context } from '../src/context.js';
import { OperationError, UsageError } from '../src/errors.js';
import { formatBytes, formatTime, renderTable } from '../src/render.js';
import { registerAutoSend } from './mail-auto-send.js';
import { groupHelp } from './shared/help.js';
import { registerTemplateCommands } from './mail-templates.js';

const collect = (value: string, previous: string[]) => [...previous, value];

const SEND_HELP = `
Examples:
  aj mail send --to "Jérôme Dupont <jerome@exemple.fr>" --subject "Planning" --text "Bonjour, ..."
  aj mail send --document devis:D-2026-014            # archived PDF, client's address, template "document"
  aj mail send --to a@exemple.fr --template alerte --var sujet=Test --var message=ok --var hote=srv --var date=now
  aj mail send --to equipe@art-et-jardin.fr --no-bcc --subject "Interne" --text-file note.txt --attach plan.pdf

Every message is copied to COMPANY_BCC_EMAIL (in the envelope only, never in the headers) unless
--no-bcc. It is a delivery in the ledger (aj mail history) under its key (--key, or a new one),
claimed before the SMTP conversation, then sent (every recipient accepted it), failed (server down,
or a recipient refused: aj mail retry) or unknown (the line dropped after the whole message went
out: aj mail settle). Without SMTP configured, messages are written to the outbox directory.
Templates: aj mail templates lists them (built-in, or AJ_TEMPLATES_DIR), aj mail preview shows one.

Exit status: 0 sent (or written to the outbox), 1 failed, a recipient refused, or unknown,
2 invalid input or a key already delivered (nothing sent).
`;

export function register(program: Command, ctx: Context): void {
  const mail = program
    .command('mail')
    .description('send mail with the company BCC; message history and retries')
    .addHelpText('after', groupHelp(['aj mail send --document facture:F-2026-031', 'aj mail auto-send --dry-run', 'aj mail history --status failed', 'aj mail retry --failed --since 2026-03-01', 'aj mail settle 118 --delivered']));

  mail
    .command('send')
    .description('send one message (validated, recorded in the history, copied to the company)')
    .option('--to <address>', 'recipient (repeatable; "Name <a@b.fr>" accepted)', collect, [])
    .option('--cc <address>', 'copy recipient (repeatable)', collect, [])
    .option('--subject <text>', 'subject (default: the template subject)')
    .option('--text <text>', 'plain-text body')
    .option('--html <html>', 'HTML body')
    .option('--text-file <path>', 'plain-text body read from a file')
    .option('--template <name>', 'a French template with text and HTML parts')
    .option('--var <key=value>', 'template variable (repeatable)', collect, [])
    .option('--attach <file>', 'attach a file (repeatable, at most MAIL_MAX_ATTACHMENT_MB each)', collect, [])
    .option('--document <type:id>', "attach the archived PDF of devis:<id> or facture:<id>, to the client's address")
    .option('--from <address>', 'sender (default: MAIL_FROM)')
    .option('--reply-to <address>', 'Reply-To address')
    .option('--no-bcc', 'no company copy (internal notifications)')
    .option('--key <key>', 'delivery key: a message under a key already delivered is not sent again')
    .option('--json', 'print the outcome as JSON')
    .addHelpText('after', SEND_HELP)
    .action(async (opts: { to: string[]; cc: string[]; var: string[]; attach: string[]; bcc: boolean; json?: boolean } & Record<string, string | undefined>) => {
      const { runSend, failureError } = await import('../src/mail/send.js');
      const result = await runSend({ ...opts, vars: opts.var, attach: opts.attach, to: opts.to, cc: opts.cc, bcc: opts.bcc }, ctx);
      const copy = result.bcc.length ? ' (company copy)' : '';
      if (opts.json) ctx.io.json(result);
      else if (result.status === 'sent' && result.transportKind === 'outbox') ctx.io.out(`written to the outbox (${result.transport}), not sent: delivery ${result.id} to ${result.to.join(', ')}${copy}`);
      else if (result.status === 'sent') ctx.io.out(`sent delivery ${result.id} to ${result.to.join(', ')}${copy}`);
      const failure = failureError(result);
      if (failure) throw failure;
    });

  registerTemplateCommands(mail, ctx);
  registerAutoSend(mail, ctx);

  mail
    .command('history')
    .argument('[delivery]', 'show one delivery in full: its id or key')
    .description('the delivery ledger, newest first: purpose, document, attempts, outcome')
    .addOption(new Option('--status <status>', 'only this outcome').choices(['sending', 'sent', 'failed', 'unknown']))
    .option('--to <address>', 'only deliveries to or copied to this address (substring)')
    .option('--since <date>', 'created on or after this day (YYYY-MM-DD, business time zone)')
    .option('--until <date>', 'created on or before this day')
    .option('--document <type:ref>', 'only deliveries about this document, by number or id (facture:FA-2026-0042)')
    .option('--limit <n>', 'at most this many rows', '50')
    .option('--json', 'print as JSON')
    .addHelpText('after', `
Outcomes: sent (every client recipient accepted it), failed (not delivered: aj mail retry), unknown
(maybe delivered: aj mail settle), sending (under way; past 10 minutes shown as unknown).

Examples:
  aj mail history --status failed --since 2026-03-01
  aj mail history --document facture:FA-2026-0042 --json
  aj mail history 118
  aj mail history reminder:facture:42:relance-1

Exit status: 0 listed (none found included), 2 bad flags or an unknown delivery, 1 the database failed.
`)
    .action(async (ref: string | undefined, opts: { status?: 'sent'; to?: string; since?: string; until?: string; document?: string; limit: string; json?: boolean }) => {
      const { runHistory, runHistoryShow, parseDay } = await import('../src/mail/log.js');
      const { parseDeliveryRef } = await import('../src/mail/retry.js');
      if (ref !== undefined) {
        const delivery = await runHistoryShow(ctx, parseDeliveryRef(ref));
        if (opts.json) return ctx.io.json(delivery);
        return ctx.io.out(describeDelivery(delivery));
      }
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit: "${opts.limit}" is not a positive whole number`, 'write it as --limit 100');
      const rows = await runHistory(ctx, {
        status: opts.status,
        to: opts.to,
        since: opts.since && parseDay('--since', opts.since),
        until: opts.until && parseDay('--until', opts.until),
        document: opts.document,
        limit,
      });
      if (opts.json) return ctx.io.json(rows);
      await renderTable(ctx.io, rows, [
        { header: 'id', value: (d) => d.id },
        { header: 'created', value: (d) => formatTime(d.createdAt) },
        { header: 'purpose', value: (d) => d.purpose },
        { header: 'document', value: (d) => d.document },
        { header: 'outcome', value: (d) => ctx.io.paint(d.status === 'sent' ? 'green' : d.status === 'sending' ? 'dim' : 'red', outcomeText(d.status, d.transport)) },
        { header: 'attempts', value: (d) => d.attempts },
        { header: 'to', value: (d) => d.to.join(', ') },
        { header: 'subject', value: (d) => d.subject },
        { header: 'error', value: (d) => d.error },
      ], 'no deliveries');
    });

  mail
    .command('retry')
    .argument('[deliveries...]', 'delivery ids or keys to send again')
    .description('send failed deliveries again under the same key; never a delivered or unknown one')
    .option('--failed', 'every failed delivery')
    .option('--since <date>', 'with --failed: created on or after this day (YYYY-MM-DD)')
    .option('--json', 'print the attempts as JSON')
    .addHelpText('after', `
A retry is the same delivery: it claims the key as reminders run does, so a retry racing another
retry or a reminders run sends the message once. Unknown deliveries (maybe delivered) are settled
with aj mail settle, never retried.

Examples:
  aj mail retry 118 121
  aj mail retry --failed --since 2026-03-01

Exit status: 0 all re-sent (or taken meanwhile by another command), 1 an attempt failed or is unknown,
2 a delivery that must not be re-sent (delivered, being sent, unknown).
`)
    .action(async (refs: string[], opts: { failed?: boolean; since?: string; json?: boolean }) => {
      const { runRetry, parseDeliveryRef } = await import('../src/mail/retry.js');
      const { parseDay } = await import('../src/mail/log.js');
      if (opts.since && !opts.failed) throw new UsageError('--since needs --failed', 'add --failed');
      const result = await runRetry(ctx, { refs: refs.map(parseDeliveryRef), failed: Boolean(opts.failed), since: opts.since && parseDay('--since', opts.since) });
      if (opts.json) ctx.io.json(result);
      else await printAttempts(ctx, result);
      const bad = result.failed + result.unknown;
      if (bad > 0) throw new OperationError(`${bad} of ${result.attempts.length} delivery(ies) not delivered again`, 'see aj mail history --status failed, and --status unknown');
    });

  mail
    .command('settle')
    .argument('<deliveries...>', 'unknown delivery ids or keys')
    .description('settle unknown deliveries (maybe delivered): --delivered or --resend')
    .addOption(new Option('--delivered', 'record them delivered (found in the company BCC mailbox)').conflicts('resend'))
    .option('--resend', 'send them again under the same key (checked: not in the BCC mailbox)')
    .option('--json', 'print the outcome as JSON')
    .addHelpText('after', `
A delivery is unknown when the line dropped after the whole message went to the server, or when the
command sending it was killed: the client may have it. aj never re-sends it on its own; look for it
in the company BCC mailbox (COMPANY_BCC_EMAIL), then settle it.

Examples:
  aj mail history --status unknown
  aj mail settle 118 --delivered
  aj mail settle reminder:facture:42:relance-1 --resend

Exit status: 0 settled, 1 a re-send failed or is unknown again, 2 not unknown (nothing changed).
`)
    .action(async (refs: string[], opts: { delivered?: boolean; resend?: boolean; json?: boolean }) => {
      if (!opts.delivered && !opts.resend) throw new UsageError('say how: --delivered or --resend', 'look for the message in the company BCC mailbox first');
      const { runSettle } = await import('../src/mail/settle.js');
      const { parseDeliveryRef } = await import('../src/mail/retry.js');
      const result = await runSettle(ctx, { refs: refs.map(parseDeliveryRef), how: opts.delivered ? 'delivered' : 'resend' });
      if (opts.json) ctx.io.json(result);
      for (const d of result.delivered) if (!opts.json) ctx.io.out(`delivery ${d.delivery} (${d.key}) recorded delivered`);
      if (result.resent && !opts.json) await printAttempts(ctx, result.resent);
      const bad = result.resent ? result.resent.failed + result.resent.unknown : 0;
      if (bad > 0) throw new OperationError(`${bad} delivery(ies) not delivered again`, 'see aj mail history');
    });
}

/** Mail written to the outbox is not sent: it never says so. */
const outcomeText = (status: string, transport: string | null | undefined) => (status === 'sent' && transport?.startsWith('outbox') ? 'written to the outbox' : status);

async function printAttempts(ctx: Context, result: import('../src/mail/retry.js').RetryResult): Promise<void> {
  if (result.attempts.length === 0) return;
  await renderTable(ctx.io, result.attempts, [
    { header: 'delivery', value: (a) => a.delivery },
    { header: 'key', value: (a) => a.key },
    { header: 'attempt', value: (a) => a.attempt },
    { header: 'outcome', value: (a) => outcomeText(a.status, result.transport) },
    { header: 'error', value: (a) => a.error },
  ]);
}

function describeDelivery(d: Awaited<ReturnType<typeof import('../src/mail/log.js').runHistoryShow>>): string {
  const lines: Array<[string, string | number | null | undefined]> = [
    ['delivery', d.id], ['key', d.key], ['purpose', d.purpose], ['document', d.document], ['outcome', outcomeText(d.status, d.transport)], ['settled', d.settled],
    ['refused', d.refused.join(', ')], ['error', d.error], ['created', formatTime(d.createdAt)], ['finished', formatTime(d.finishedAt)],
    ['from', d.from], ['to', d.to.join(', ')], ['cc', d.cc.join(', ')], ['bcc (envelope)', d.bcc.join(', ')], ['reply-to', d.replyTo],
    ['subject', d.subject], ['template', d.template], ['attachments', d.attachments.map((a) => `${a.filename} (${formatBytes(a.size)})`).join(', ')],
  ];
  const header = lines.filter(([, v]) => v !== null && v !== undefined && v !== '').map(([k, v]) => `${k.padEnd(15)} ${v}`);
  const attempts = d.history.map((a) => `  ${a.id}  ${formatTime(a.createdAt)}  ${a.status}  ${a.transport ?? ''}  ${a.rejected?.length ? `refused ${a.rejected.join(', ')}  ` : ''}${a.error ?? a.response ?? ''}`);
  return [...header, `attempts (${d.attempts})`, ...attempts, '', d.text ?? (d.html ? '(HTML only)' : '')].join('\n');
}
