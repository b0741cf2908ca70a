import { type Command, Option } from 'commander';
import type { Context } from '../src/context.js';
import { OperationError, UsageError } from '../src/errors.js';
import { formatBytes, formatTime, renderTable } from '../src/render.js';

const collect = (value: string, previous: string[]) => [...previous, value];

const SEND_HELP = `
Examples:
  aj mail send --to "Jérôme Dupont <jerome@exemple.fr>" --subject "Planning" --text "Bonjour, ..."
  aj mail send --document devis:D-2026-014            # archived PDF, client's address, template "document"
  aj mail send --to a@exemple.fr --template alerte --var sujet=Test --var message=ok --var hote=srv --var date=now
  aj mail send --to equipe@art-et-jardin.fr --no-bcc --subject "Interne" --text-file note.txt --attach plan.pdf

Every message is copied to COMPANY_BCC_EMAIL (in the envelope only, never in the headers) unless
--no-bcc. It is recorded as pending before the SMTP conversation, then sent or failed.
Templates: document, facture-relance-1, facture-relance-2, devis-relance, alerte (src/mail/templates).

Exit status: 0 sent, 1 failed or a recipient refused (see aj mail retry), 2 invalid input (nothing sent or recorded).
`;

export function register(program: Command, ctx: Context): void {
  const mail = program
    .command('mail')
    .description('send mail with the company BCC; message history and retries')
    .addHelpText('after', '\nExamples:\n  aj mail send --document facture:F-2026-031\n  aj mail history --status failed\n  aj mail retry --failed --since 2026-03-01\n');

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
    .option('--json', 'print the outcome as JSON')
    .addHelpText('after', SEND_HELP)
    .action(async (opts: { to: string[]; cc: string[]; var: string[]; attach: string[]; bcc: boolean; json?: boolean } & Record<string, string | undefined>) => {
      const { runSend, failureError } = await import('../src/mail/send.js');
      const result = await runSend({ ...opts, vars: opts.var, attach: opts.attach, to: opts.to, cc: opts.cc, bcc: opts.bcc }, ctx);
      if (opts.json) ctx.io.json(result);
      else if (result.status === 'sent') ctx.io.out(`sent message ${result.id} to ${result.to.join(', ')}${result.bcc.length ? ' (company copy)' : ''}`);
      const failure = failureError(result);
      if (failure) throw failure;
    });

  mail
    .command('history')
    .argument('[id]', 'show one message in full')
    .description('messages ever attempted, newest first; pending ones past 10 minutes show as unknown')
    .addOption(new Option('--status <status>', 'only this status').choices(['pending', 'sent', 'failed', 'unknown']))
    .option('--to <address>', 'only messages to or copied to this address (substring)')
    .option('--since <date>', 'created on or after this day (YYYY-MM-DD, business time zone)')
    .option('--until <date>', 'created on or before this day')
    .option('--document <type:id>', 'only messages about this document (devis:12)')
    .option('--limit <n>', 'at most this many rows', '50')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExamples:\n  aj mail history --status failed --since 2026-03-01\n  aj mail history --document facture:42 --json\n  aj mail history 118\n')
    .action(async (id: string | undefined, opts: { status?: 'sent'; to?: string; since?: string; until?: string; document?: string; limit: string; json?: boolean }) => {
      const { listMessages, getMessage, parseDay } = await import('../src/mail/log.js');
      const db = await ctx.db();
      if (id !== undefined) {
        const message = await getMessage(db, parseId(id));
        if (opts.json) return ctx.io.json(message);
        return ctx.io.out(describeMessage(message));
      }
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit: "${opts.limit}" is not a positive whole number`, 'write it as --limit 100');
      const document = opts.document ? (await import('../src/mail/document.js')).parseDocumentRef(opts.document) : undefined;
      const rows = await listMessages(db, {
        status: opts.status,
        to: opts.to,
        since: opts.since && parseDay('--since', opts.since),
        until: opts.until && parseDay('--until', opts.until),
        document,
        limit,
        timezone: ctx.config().timezone,
      });
      if (opts.json) return ctx.io.json(rows);
      await renderTable(ctx.io, rows, [
        { header: 'id', value: (m) => m.id },
        { header: 'created', value: (m) => formatTime(m.createdAt) },
        { header: 'status', value: (m) => ctx.io.paint(m.status === 'sent' ? 'green' : m.status === 'pending' ? 'dim' : 'red', m.status) },
        { header: 'to', value: (m) => m.to.join(', ') },
        { header: 'subject', value: (m) => m.subject },
        { header: 'document', value: (m) => m.document },
        { header: 'retry of', value: (m) => m.retryOf },
        { header: 'error', value: (m) => m.error },
      ], 'no messages');
    });

  mail
    .command('retry')
    .argument('[ids...]', 'message ids to re-send')
    .description('re-send failed messages as new attempts linked to the original; never a sent one')
    .option('--failed', 'every failed message not retried yet')
    .option('--since <date>', 'with --failed: created on or after this day (YYYY-MM-DD)')
    .option('--force', 'also re-send unknown messages (they may have been delivered before a crash)')
    .option('--json', 'print the attempts as JSON')
    .addHelpText('after', '\nExamples:\n  aj mail retry 118 121\n  aj mail retry --failed --since 2026-03-01\n  aj mail retry 97 --force   # an unknown message, after checking it never arrived\n\nExit status: 0 all re-sent, 1 an attempt failed, 2 a message that must not be re-sent.\n')
    .action(async (ids: string[], opts: { failed?: boolean; since?: string; force?: boolean; json?: boolean }) => {
      const { runRetry } = await import('../src/mail/retry.js');
      const { parseDay } = await import('../src/mail/log.js');
      if (opts.since && !opts.failed) throw new UsageError('--since needs --failed', 'add --failed');
      const result = await runRetry({ ids: ids.map(parseId), failed: Boolean(opts.failed), since: opts.since && parseDay('--since', opts.since), force: Boolean(opts.force) }, ctx);
      if (opts.json) ctx.io.json(result);
      else if (result.attempts.length > 0) {
        await renderTable(ctx.io, result.attempts, [
          { header: 'original', value: (a) => a.original },
          { header: 'attempt', value: (a) => a.attempt },
          { header: 'status', value: (a) => a.status },
          { header: 'error', value: (a) => a.error },
        ]);
      }
      if (result.failed > 0) throw new OperationError(`${result.failed} of ${result.attempts.length} message(s) failed again`, 'see aj mail history --status failed');
    });
}

function parseId(value: string): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`"${value}" is not a message id`, 'ids are the numbers in aj mail history');
  return Number(value);
}

function describeMessage(m: Awaited<ReturnType<typeof import('../src/mail/log.js').getMessage>>): string {
  const lines: Array<[string, string | number | null | undefined]> = [
    ['id', m.id], ['status', m.status], ['created', formatTime(m.createdAt)], ['finished', formatTime(m.finishedAt)],
    ['from', m.from], ['to', m.to.join(', ')], ['cc', m.cc.join(', ')], ['bcc (envelope)', m.bcc.join(', ')], ['reply-to', m.replyTo],
    ['subject', m.subject], ['template', m.template], ['document', m.document],
    ['attachments', m.attachments.map((a) => `${a.filename} (${formatBytes(a.size)})`).join(', ')],
    ['transport', m.transport], ['message-id', m.messageId], ['accepted', m.accepted?.join(', ')], ['rejected', m.rejected?.join(', ')],
    ['response', m.response], ['error', m.error], ['retry of', m.retryOf], ['retried as', m.retries.join(', ')],
  ];
  const header = lines.filter(([, v]) => v !== null && v !== undefined && v !== '').map(([k, v]) => `${k.padEnd(15)} ${v}`);
  return [...header, '', m.text ?? (m.html ? '(HTML only)' : '')].join('\n');
}
