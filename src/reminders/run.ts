import type { BusinessSql } from '../business/sql.js';
import type { Context } from '../context.js';
import type { Db } from '../db/pool.js';
import { acquireJobLock } from '../db/job-lock.js';
import { type BatchItem, sendBatch } from '../mail/bulk.js';
import type { DeliveryOutcome, OutgoingMessage } from '../mail/history.js';
import { formatEuros } from '../mail/send.js';
import { renderTemplate } from '../mail/templates.js';
import { quoteIdent } from '../business/sql.js';
import { businessDate, frenchDate } from './dates.js';
import { type Only, type Plan, type PlannedReminder, expiringWhere, planReminders } from './plan.js';

export interface RunOptions {
  dryRun: boolean;
  only?: Only;
  asOf?: string;
  limit?: number;
  resendStuck: boolean;
  /** Wait for a concurrent run to finish instead of exiting 75. */
  wait?: boolean;
}

export interface SentReminder {
  documentType: string;
  documentId: string;
  numero: string;
  level: string;
  email: string;
  status: 'sent' | 'failed';
  messageId: number;
  error?: string;
}

export interface RunSummary {
  asOf: string;
  dryRun: boolean;
  plan: Plan;
  sent: number;
  failed: number;
  skipped: Array<{ documentType: string; documentId: string; numero: string; level: string; reason: string }>;
  expired: number;
  /** Claimed by a run that crashed: not re-sent without --resend-stuck. */
  stuck: number;
  results: SentReminder[];
}

/**
 * `aj reminders run`: under the `reminders` job lock, plan what is due, then per reminder claim
 * its (document, level) key in a committed `sending` row, send through the mail layer (history
 * row, company BCC, template), and mark it `sent` or `failed` (retried on the next run).
 */
export async function runReminders(opts: RunOptions, ctx: Context): Promise<RunSummary> {
  const config = ctx.config();
  const asOf = opts.asOf ?? businessDate(ctx.clock(), config.timezone);
  const dryRun = opts.dryRun || !config.autoSendEnabled;
  if (!opts.dryRun && !config.autoSendEnabled) ctx.io.notice('AUTO_SEND_ENABLED is false: planning only, nothing is sent or changed');
  const db = await ctx.db();
  const business = await ctx.business();
  const lock = dryRun ? undefined : await acquireJobLock(db, 'reminders', { wait: opts.wait, signal: ctx.signal });
  try {
    const plan = await planReminders(db, business, { asOf, invoiceDays: config.reminderInvoiceDays, quoteDays: config.reminderQuoteDays, only: opts.only, resendStuck: opts.resendStuck });
    const summary: RunSummary = { asOf, dryRun, plan, sent: 0, failed: 0, skipped: [], expired: 0, stuck: plan.stuck.length, results: [] };
    const sendable: PlannedReminder[] = [];
    for (const r of plan.reminders) {
      if (r.skip) summary.skipped.push({ documentType: r.documentType, documentId: r.documentId, numero: r.numero, level: r.level, reason: r.skip });
      else if (opts.limit === undefined || sendable.length < opts.limit) sendable.push(r);
    }
    if (dryRun) return summary;

    const items: Array<BatchItem<PlannedReminder>> = [];
    for (const r of sendable) items.push({ meta: r, message: await composeReminder(r, config.mailFrom, config.companyBcc) });
    if (items.length > 0) {
      const transport = await ctx.mailer({ pool: true });
      const batch = await sendBatch(db, transport, items, {
        ratePerMinute: config.mailRatePerMinute,
        signal: ctx.signal,
        claim: (item) => claim(db, item.meta, opts.resendStuck),
        settle: (item, outcome) => settle(db, item.meta, outcome),
      });
      summary.sent = batch.sent;
      summary.failed = batch.failed;
      summary.results = batch.outcomes.map(({ item, outcome }) => ({
        documentType: item.meta.documentType, documentId: item.meta.documentId, numero: item.meta.numero, level: item.meta.level,
        email: item.meta.email!, status: outcome.status, messageId: outcome.id, error: outcome.error,
      }));
    }
    if (!opts.only || opts.only === 'expiry') summary.expired = await expireQuotes(db, business, asOf);
    return summary;
  } finally {
    await lock?.release();
  }
}

/** The key is taken only if free, failed before, or (with --resend-stuck) left `sending` by a crash. */
async function claim(db: Db, r: PlannedReminder, resendStuck: boolean): Promise<boolean> {
  const row = await db.one(
    `INSERT INTO reminder_log (document_type, document_id, level, status) VALUES ($1, $2, $3, 'sending')
     ON CONFLICT (document_type, document_id, level) DO UPDATE SET status = 'sending', claimed_at = now(), error = NULL, finished_at = NULL
       WHERE reminder_log.status = 'failed' OR (reminder_log.status = 'sending' AND $4)
     RETURNING id`,
    [r.documentType, r.documentId, r.level, resendStuck],
  );
  return row !== undefined;
}

async function settle(db: Db, r: PlannedReminder, outcome: DeliveryOutcome): Promise<void> {
  await db.query(
    `UPDATE reminder_log SET status = $4, email_message_id = $5, error = $6, finished_at = now()
      WHERE document_type = $1 AND document_id = $2 AND level = $3`,
    [r.documentType, r.documentId, r.level, outcome.status, outcome.id, outcome.error ?? null],
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

export async function composeReminder(r: PlannedReminder, from: string, companyBcc: string | undefined): Promise<OutgoingMessage> {
  const common = { nom: r.clientName, numero: r.numero, montant: formatEuros(r.amount) };
  const rendered =
    r.documentType === 'devis'
      ? await renderTemplate('devis-relance', { ...common, date_envoi: frenchDate(r.referenceDate), a_validite: r.validUntil !== null, date_validite: r.validUntil ? frenchDate(r.validUntil) : '' })
      : await renderTemplate(r.level === 'relance-1' ? 'facture-relance-1' : 'facture-relance-2', {
          ...common,
          date_echeance: frenchDate(r.referenceDate),
          jours_retard: r.daysLate,
          professionnel: r.clientType === 'professionnel',
        });
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
