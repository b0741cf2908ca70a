import type { BusinessSql } from '../business/sql.js';
import type { Context } from '../context.js';
import type { Db, Queryable } from '../db/pool.js';
import { acquireJobLock } from '../db/job-lock.js';
import { type OpenDelivery, markAbandoned, reminderKey, settleCommand, unsettled } from '../deliveries/ledger.js';
import { type AjError, OperationError, VerificationError } from '../errors.js';
import { type BatchItem, sendBatch } from '../mail/bulk.js';
import type { OutgoingMessage } from '../mail/history.js';
import { formatEuros } from '../mail/document-vars.js';
import { type TemplateSet, TemplateVariableError, renderTemplate, templateSet } from '../mail/templates.js';
import { quoteIdent } from '../business/sql.js';
import { invoicePdfs } from './attach.js';
import { businessDate, frenchDate } from './dates.js';
import { type Only, type Plan, type PlannedReminder, expiringWhere, planReminders } from './plan.js';

export interface RunOptions {
  dryRun: boolean;
  only?: Only;
  asOf?: string;
  limit?: number;
  /** Wait for a concurrent run to finish instead of exiting 75. */
  wait?: boolean;
}

export interface SentReminder {
  documentType: string;
  documentId: string;
  numero: string;
  level: string;
  email: string;
  status: 'sent' | 'failed' | 'unknown';
  /** The delivery in the ledger (aj mail history ID). */
  delivery: number;
  error?: string;
}

export interface SkippedReminder {
  documentType: string;
  documentId: string;
  numero: string;
  level: string;
  reason: string;
  /** `letter-or-call`: the client has no email address (not a failure); `fix-data`: the document's data is unusable (the run fails). */
  action: 'letter-or-call' | 'fix-data';
}

export interface RunSummary {
  asOf: string;
  dryRun: boolean;
  plan: Plan;
  /** Where sent messages went: smtp, or the outbox directory (written, not sent). */
  transport?: 'smtp' | 'outbox';
  sent: number;
  failed: number;
  /** Cut after the final dot: maybe delivered, never re-sent on its own. */
  unknown: number;
  skipped: SkippedReminder[];
  /** Invoices whose archived PDF is damaged in storage: their reminder is not sent (exit 4). */
  damaged: Array<{ documentType: string; documentId: string; numero: string; level: string; error: string }>;
  expired: number;
  /** Reminder deliveries left unknown by a crash or a cut line, waiting for `aj mail settle`. */
  stuck: OpenDelivery[];
  results: SentReminder[];
}

/**
 * `aj reminders run`: under the `reminders` job lock, plan what is due, then send each reminder
 * through the delivery ledger under its key reminder:<type>:<id>:<level> (the claim, its
 * reminder_log row and the attempt commit together; company BCC, template), `failed` ones again
 * on the next run. A document whose data cannot make a message is skipped and reported; the
 * rest of the run goes on.
 */
export async function runReminders(opts: RunOptions, ctx: Context): Promise<RunSummary> {
  const config = ctx.config();
  const asOf = opts.asOf ?? businessDate(ctx.clock(), config.timezone);
  const dryRun = opts.dryRun || !config.remindersEnabled;
  if (!opts.dryRun && !config.remindersEnabled) ctx.io.notice('REMINDERS_ENABLED is false: planning only, nothing is sent or changed');
  const db = await ctx.db();
  const business = await ctx.business();
  const lock = dryRun ? undefined : await acquireJobLock(db, 'reminders', { wait: opts.wait, signal: ctx.signal });
  try {
    if (!dryRun) await markAbandoned(db);
    const plan = await planReminders(db, business, { asOf, invoiceDays: config.reminderInvoiceDays, quoteDays: config.reminderQuoteDays, only: opts.only });
    const stuck = await unsettled(db, 'reminder');
    const summary: RunSummary = { asOf, dryRun, plan, sent: 0, failed: 0, unknown: 0, skipped: [], damaged: [], expired: 0, stuck, results: [] };
    const sendable: PlannedReminder[] = [];
    for (const r of plan.reminders) {
      if (r.skip) summary.skipped.push({ documentType: r.documentType, documentId: r.documentId, numero: r.numero, level: r.level, ...r.skip });
      else if (opts.limit === undefined || sendable.length < opts.limit) sendable.push(r);
    }
    if (dryRun) return summary;

    const attach = config.reminderAttachPdf ? await invoicePdfs(ctx, db, sendable, config.mailMaxAttachmentMb) : undefined;
    const items: Array<BatchItem<PlannedReminder>> = [];
    // The company's templates and details: a broken override or an unset detail stops the run here,
    // before anything is sent; one document's missing value only skips that document.
    const templates = templateSet(config);
    for (const r of sendable) {
      const damaged = attach?.damaged.get(r.documentId);
      if (damaged) {
        summary.damaged.push({ documentType: r.documentType, documentId: r.documentId, numero: r.numero, level: r.level, error: damaged });
        continue;
      }
      const message = await composeReminder(r, config.mailFrom, config.companyBcc, templates).catch((error: unknown) => {
        if (!(error instanceof TemplateVariableError)) throw error;
        summary.skipped.push({ documentType: r.documentType, documentId: r.documentId, numero: r.numero, level: r.level, reason: error.message, action: 'fix-data' });
        return undefined;
      });
      if (!message) continue;
      const pdf = attach?.pdfs.get(r.documentId);
      if (pdf) message.attachments.push(pdf);
      const key = reminderKey(r.documentType, r.documentId, r.level);
      items.push({
        meta: r,
        message,
        delivery: { key, purpose: 'reminder', document: { type: r.documentType, id: r.documentId } },
        claim: { also: (q, deliveryId) => linkLog(q, r, deliveryId) },
      });
    }
    if (items.length > 0) {
      const transport = await ctx.mailer({ pool: true });
      summary.transport = transport.kind;
      const batch = await sendBatch(db, transport, items, { ratePerMinute: config.mailRatePerMinute, signal: ctx.signal });
      for (const { meta: r } of batch.unclaimed) ctx.io.notice(`${r.documentType} ${r.numero} ${r.level} was sent meanwhile by another command (aj mail retry): not sent again`);
      summary.sent = batch.sent;
      summary.failed = batch.failed;
      summary.unknown = batch.unknown;
      summary.results = batch.outcomes.map(({ item, outcome }) => ({
        documentType: item.meta.documentType, documentId: item.meta.documentId, numero: item.meta.numero, level: item.meta.level,
        email: item.meta.email!, status: outcome.status, delivery: outcome.id, error: outcome.error,
      }));
    }
    if (!opts.only || opts.only === 'expiry') summary.expired = await expireQuotes(db, business, asOf);
    return summary;
  } finally {
    await lock?.release();
  }
}

/**
 * Exit 4 when an invoice's archived PDF is damaged (its reminder is not sent); otherwise
 * exit 1 when a reminder failed or is unknown, one is still waiting to be settled, or a document
 * was skipped for its data; the failure alert then fires. A client without an address is not a
 * failure, and a dry run only reports.
 */
export function runFailure(s: RunSummary): AjError | undefined {
  if (s.dryRun) return undefined;
  if (s.damaged.length > 0) {
    return new VerificationError(
      `${s.damaged.length} invoice PDF(s) damaged in storage, their reminder not sent: ${s.damaged.map((d) => `facture ${d.numero}`).join(', ')}`,
      'restore them from another copy (aj archive verify --deep) or archive a good copy; the next run sends the reminder',
    );
  }
  const unknown = [...s.stuck.map((d) => d.id), ...s.results.filter((r) => r.status === 'unknown').map((r) => r.delivery)];
  const problems = [
    s.failed > 0 && `${s.failed} reminder(s) failed (sent again by the next run; aj mail history --status failed)`,
    unknown.length > 0 && `${unknown.length} reminder(s) unknown, maybe delivered: never re-sent on their own (${settleCommand(unknown)})`,
    s.skipped.some((k) => k.action === 'fix-data') && `${s.skipped.filter((k) => k.action === 'fix-data').length} document(s) skipped for their data (fix them in the app)`,
  ].filter((p): p is string => Boolean(p));
  return problems.length > 0 ? new OperationError(problems.join('; ')) : undefined;
}

/** The reminder's log row points at its delivery; the ledger keeps its status from then on. */
async function linkLog(q: Queryable, r: PlannedReminder, deliveryId: number): Promise<void> {
  await q.query(
    `INSERT INTO reminder_log (document_type, document_id, level, status, delivery_id) VALUES ($1, $2, $3, 'sending', $4)
     ON CONFLICT (document_type, document_id, level) DO UPDATE SET delivery_id = $4`,
    [r.documentType, r.documentId, r.level, deliveryId],
  );
}

/** One statement: the status change (and the app's updatedAt) and its log rows commit together. */
async function expireQuotes(db: Db, b: BusinessSql, asOf: string): Promise<number> {
  const set = [`${quoteIdent(b.columnName('devis', 'statut'))} = ${b.labelValue('devis', 'statut', 'expire')}`, ...b.touch('devis')];
  const rows = await db.query(
    `WITH expired AS (UPDATE ${b.table('devis')} d SET ${set.join(', ')} WHERE ${expiringWhere(b)} RETURNING ${b.id('devis', 'd')}::text AS id)
     INSERT INTO reminder_log (document_type, document_id, level, status, finished_at)
     SELECT 'devis', id, 'expiration', 'done', now() FROM expired
     ON CONFLICT (document_type, document_id, level) DO UPDATE SET status = 'done', finished_at = now()
     RETURNING document_id`,
    [asOf],
  );
  return rows.length;
}

export async function composeReminder(r: PlannedReminder, from: string, companyBcc: string | undefined, templates?: TemplateSet): Promise<OutgoingMessage> {
  const common = { nom: r.clientName, numero: r.numero, montant: formatEuros(r.amount) };
  const rendered =
    r.documentType === 'devis'
      ? await renderTemplate('devis-relance', { ...common, date_envoi: frenchDate(r.referenceDate), a_validite: r.validUntil !== null, date_validite: r.validUntil ? frenchDate(r.validUntil) : '' }, templates)
      : await renderTemplate(r.level === 'relance-1' ? 'facture-relance-1' : 'facture-relance-2', {
          ...common,
          date_echeance: frenchDate(r.referenceDate),
          jours_retard: r.daysLate,
          professionnel: r.clientType === 'professionnel',
        }, templates);
  return {
    from,
    // The name comes from the business database: quoted, and stripped of anything that could break a header.
    to: [r.clientName ? `"${r.clientName.replace(/[\r\n\0]/g, ' ').replace(/["\\]/g, '\\$&')}" <${r.email}>` : r.email!],
    cc: [],
    bcc: companyBcc ? [companyBcc] : [],
    subject: rendered.subject,
    text: rendered.text,
    html: rendered.html,
    template: rendered.name,
    document: { type: r.documentType, id: r.documentId },
    attachments: [],
  };
}
