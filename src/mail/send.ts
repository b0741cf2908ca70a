import { readFile } from 'node:fs/promises';
import type { Context } from '../context.js';
import { OperationError, UsageError } from '../errors.js';
import { assertHeaderSafe, formatMailbox, parseMailboxes } from './address.js';
import { type BusinessDocument, type LoadedAttachment, findDocument, loadArchivedPdf, loadFileAttachment, parseDocumentRef } from './document.js';
import { type DeliveryOutcome, deliver, oneOffKey } from '../deliveries/deliver.js';
import type { OutgoingMessage } from './history.js';
import { documentVars } from './document-vars.js';
import { type TemplateVars, parseVars, renderTemplate, templateSet } from './templates.js';

export interface SendOptions {
  to: string[];
  cc: string[];
  subject?: string;
  text?: string;
  html?: string;
  textFile?: string;
  template?: string;
  vars: string[];
  attach: string[];
  from?: string;
  replyTo?: string;
  document?: string;
  /** false with --no-bcc (internal notifications). */
  bcc: boolean;
  /** The delivery key: a second send under a key already delivered is refused. Default: a new send:<uuid>. */
  key?: string;
}

export interface SendResult extends DeliveryOutcome {
  to: string[];
  bcc: string[];
  subject: string;
  transport: string;
  /** smtp, or outbox: written to the outbox directory, not sent. */
  transportKind: 'smtp' | 'outbox';
}

/** `aj mail send`: validate everything, then one message through the delivery ledger. */
export async function runSend(opts: SendOptions, ctx: Context): Promise<SendResult> {
  const config = ctx.config();
  const from = parseMailboxes('--from', opts.from ?? config.mailFrom);
  if (from.length !== 1) throw new UsageError('--from: exactly one sender address', 'give a single address');
  const replyTo = opts.replyTo ? parseMailboxes('--reply-to', opts.replyTo).map(formatMailbox).join(', ') : undefined;
  let to = opts.to.flatMap((v) => parseMailboxes('--to', v)).map(formatMailbox);
  const cc = opts.cc.flatMap((v) => parseMailboxes('--cc', v)).map(formatMailbox);
  if (opts.subject !== undefined) assertHeaderSafe('--subject', opts.subject);
  checkBodySources(opts);
  const ref = opts.document ? parseDocumentRef(opts.document) : undefined;
  const attachments: LoadedAttachment[] = [];
  for (const path of opts.attach) attachments.push(await loadFileAttachment(path, config.mailMaxAttachmentMb));
  const text = opts.textFile ? await readFile(opts.textFile, 'utf8').catch(() => { throw new UsageError(`--text-file: cannot read ${opts.textFile}`, 'check the path'); }) : opts.text;
  if (!ref && to.length === 0) throw new UsageError('--to: at least one recipient is required', 'pass --to name@domain.fr');
  if (opts.key !== undefined) assertKey(opts.key);

  let doc: BusinessDocument | undefined;
  if (ref) {
    const db = await ctx.db();
    doc = await findDocument(db, await ctx.business(), ref);
    // The document's own data, not the operator's input: a failure (exit 1), not a usage error.
    if (/[\r\n\0]/.test(doc.numero)) throw new OperationError(`the number of ${doc.type} ${doc.id} holds a line break, which would break the subject line: nothing sent`, 'fix the number in the app');
    if (to.length === 0) {
      if (!doc.clientEmail) throw new UsageError(`--to: the client of ${doc.type} ${doc.numero} has no email address`, 'pass --to');
      to = parseMailboxes(`email of the client of ${doc.type} ${doc.numero}`, doc.clientEmail).map((m) => formatMailbox({ ...m, name: m.name || doc!.clientName }));
    }
    attachments.push(await loadArchivedPdf(db, await ctx.store('archive'), doc, config.mailMaxAttachmentMb));
  }

  const vars: TemplateVars = { ...(doc ? documentVars(doc) : {}), ...parseVars(opts.vars) };
  const template = opts.template ?? (doc && !opts.text && !opts.html && !opts.textFile ? 'document' : undefined);
  const rendered = template ? await renderTemplate(template, vars, templateSet(config)) : undefined;
  const subject = opts.subject ?? rendered?.subject;
  if (!subject) throw new UsageError('--subject is required', 'pass --subject, or use --template');

  const bcc = opts.bcc && config.companyBcc ? [config.companyBcc] : [];
  if (opts.bcc && !config.companyBcc) ctx.io.warn('COMPANY_BCC_EMAIL is not set: the company gets no copy of this message');
  const message: OutgoingMessage = {
    from: formatMailbox(from[0]!),
    to,
    cc,
    bcc,
    replyTo,
    subject,
    text: rendered?.text ?? text,
    html: rendered?.html ?? opts.html,
    template,
    document: doc ? { type: doc.type, id: doc.id } : undefined,
    attachments,
  };
  const db = await ctx.db();
  const transport = await ctx.mailer();
  const key = opts.key ?? oneOffKey('send');
  const outcome = await deliver(db, transport, { key, purpose: doc ? 'document' : 'send', document: message.document }, message);
  if (!outcome) throw new UsageError(`key ${key} was already delivered or is being sent: not sent again`, `see aj mail history ${key}`);
  return { ...outcome, to, bcc, subject, transport: transport.description, transportKind: transport.kind };
}

/** A caller's key: one line of printable text, not one of aj's own prefixes. */
function assertKey(key: string): void {
  if (!/^[\x21-\x7e]{1,200}$/.test(key)) throw new UsageError(`--key: "${key}" is not a key`, 'printable characters without spaces, e.g. --key devis-envoi:D-2026-014');
  if (/^(reminder|alert|message):/.test(key)) throw new UsageError(`--key: the prefix of "${key}" is aj's own`, 'choose another prefix');
}

function checkBodySources(opts: SendOptions): void {
  if (opts.template && (opts.text || opts.html || opts.textFile)) {
    throw new UsageError('--template cannot be combined with --text, --html or --text-file', 'pick one body source');
  }
  if (opts.text && opts.textFile) throw new UsageError('--text and --text-file cannot be combined', 'pick one');
  if (!opts.template && !opts.text && !opts.html && !opts.textFile && !opts.document) {
    throw new UsageError('no message body', 'pass --text, --html, --text-file or --template');
  }
  if (opts.vars.length > 0 && !opts.template && !opts.document) throw new UsageError('--var needs --template', 'add --template NAME');
}

export { formatEuros } from './document-vars.js';

/** Exit 1 unless every client recipient accepted it (the company copy alone is not a delivery). */
export function failureError(result: SendResult): OperationError | undefined {
  if (result.status === 'unknown') {
    return new OperationError(`delivery ${result.id}: ${result.error}`, `look for it in the company BCC mailbox, then aj mail settle ${result.id} --delivered or --resend`);
  }
  if (result.refused.length > 0) return new OperationError(`delivery ${result.id} failed: the server refused ${result.refused.join(', ')}`, `check the address, then \`aj mail retry ${result.id}\``);
  if (result.status === 'failed') return new OperationError(`delivery ${result.id} failed: ${result.error}`, `fix the cause, then \`aj mail retry ${result.id}\``);
  return undefined;
}
