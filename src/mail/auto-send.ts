import type { Context } from '../context.js';
import { acquireJobLock } from '../db/job-lock.js';
import { type OpenDelivery, markAbandoned, settleCommand, unsettled } from '../deliveries/ledger.js';
import { ConfigError, OperationError, VerificationError, describeError } from '../errors.js';
import { formatMailbox, isValidAddress } from './address.js';
import { type Candidate, STATUS_KINDS, planAutoSend, recordSeen, statusKey } from './auto-send-plan.js';
import { type BatchItem, sendBatch } from './bulk.js';
import { type LoadedAttachment, loadArchivedPdf } from './document.js';
import { documentVars } from './document-vars.js';
import type { OutgoingMessage } from './history.js';
import { renderTemplate, templateSet } from './templates.js';

export interface AutoSendOptions {
  dryRun: boolean;
  /** Also mail documents sent, signed or issued on or after this day, baseline or not. */
  since?: string;
  limit?: number;
}

export interface AutoSendDocument {
  documentType: 'devis' | 'facture';
  documentId: string;
  numero: string;
  status: Candidate['status'];
  email: string | null;
  key: string;
}

export interface AutoSendResult extends AutoSendDocument {
  outcome: 'sent' | 'failed' | 'unknown';
  delivery: number;
  error?: string;
}

export interface AutoSendSummary {
  dryRun: boolean;
  /** AUTO_SEND_ENABLED=false: nothing looked at. */
  disabled: boolean;
  /** Set when this run took the baseline: documents recorded as known, not mailed. */
  baseline?: { documents: number; since?: string };
  /** What goes (or, on a dry run, would go). */
  toSend: AutoSendDocument[];
  transport?: 'smtp' | 'outbox';
  sent: number;
  failed: number;
  unknown: number;
  results: AutoSendResult[];
  /** No archived PDF yet: not sent, tried again by the next run; overdue past AUTO_SEND_PDF_WAIT_HOURS. */
  waiting: Array<AutoSendDocument & { since: Date; overdue: boolean }>;
  /** `letter-or-call`: the client has no address (not a failure); `fix-data`: unusable data (the run fails). */
  skipped: Array<AutoSendDocument & { reason: string; action: 'letter-or-call' | 'fix-data'; firstTime: boolean }>;
  /** The archived PDF failed its size or SHA-256 check: not sent, exit 4. */
  damaged: Array<AutoSendDocument & { error: string }>;
  /** Status deliveries left unknown (a cut line, a crash), waiting for `aj mail settle`. */
  stuck: OpenDelivery[];
}

/**
 * `aj mail auto-send`: under the `auto-send` job lock, mail each devis that became envoye (its PDF),
 * each devis that became signe (the signed copy and a confirmation) and each facture that became
 * envoyee (its PDF), once, through the delivery ledger under status:<type>:<id>:<status>, with the
 * company BCC. The first run records what is already in those statuses as its baseline instead.
 */
export async function runAutoSend(ctx: Context, opts: AutoSendOptions): Promise<AutoSendSummary> {
  const config = ctx.config();
  const summary: AutoSendSummary = { dryRun: opts.dryRun, disabled: false, toSend: [], sent: 0, failed: 0, unknown: 0, results: [], waiting: [], skipped: [], damaged: [], stuck: [] };
  if (!config.autoSendEnabled && !opts.dryRun) {
    ctx.skipped = 'AUTO_SEND_ENABLED is false: nothing sent';
    ctx.io.notice(ctx.skipped);
    return { ...summary, disabled: true };
  }
  const db = await ctx.db();
  const business = await ctx.business();
  const lock = opts.dryRun ? undefined : await acquireJobLock(db, 'auto-send', { signal: ctx.signal });
  try {
    if (!opts.dryRun) await markAbandoned(db);
    const firstRun = (await db.one(`SELECT 1 FROM auto_send_baseline`)) === undefined;
    const candidates = await planAutoSend(db, business, opts.since);
    const sinceTakes = (c: Candidate) => opts.since !== undefined && c.day !== null && c.day >= opts.since;
    const baseline = firstRun ? candidates.filter((c) => !sinceTakes(c)) : undefined;
    const due = firstRun ? candidates.filter(sinceTakes) : candidates;
    if (baseline) summary.baseline = { documents: baseline.length, since: opts.since };
    summary.stuck = (await unsettled(db, 'document')).filter((d) => d.key.startsWith('status:'));

    const sendable: Candidate[] = [];
    const waiting: Candidate[] = [];
    for (const c of due) {
      const skip = skipReason(c);
      if (skip) summary.skipped.push({ ...describe(c), ...skip, firstTime: c.firstSeen === null });
      else if (c.pdfVersion === null) waiting.push(c);
      else if (opts.limit === undefined || sendable.length < opts.limit) sendable.push(c);
    }
    summary.toSend = sendable.map(describe);
    const now = ctx.clock();
    const waitedTooLong = (since: Date) => now.getTime() - since.getTime() > config.autoSendPdfWaitHours * 3_600_000;
    if (opts.dryRun) {
      summary.waiting = waiting.map((c) => ({ ...describe(c), since: c.firstSeen ?? now, overdue: c.firstSeen !== null && waitedTooLong(c.firstSeen) }));
      return summary;
    }

    const items: Array<BatchItem<Candidate>> = [];
    for (const c of sendable) {
      const pdf = await loadPdf(ctx, c, config.mailMaxAttachmentMb, summary);
      if (pdf === 'waiting') waiting.push(c);
      if (typeof pdf !== 'object') continue;
      const message = await compose(ctx, c, pdf).catch((error: unknown) => {
        // An empty variable (a client without a name) is the document's data: reported for itself.
        if (error instanceof ConfigError) throw error;
        summary.skipped.push({ ...describe(c), reason: describeError(error), action: 'fix-data', firstTime: c.firstSeen === null });
      });
      if (message) items.push({ meta: c, message, delivery: { key: describe(c).key, purpose: 'document', document: { type: c.documentType, id: c.documentId } } });
    }
    const firstSeen = await recordSeen(db, { baseline, since: opts.since, toSend: due, waiting });
    summary.waiting = waiting.map((c) => {
      const since = firstSeen.get(`${c.documentType}:${c.documentId}:${c.status}`) ?? now;
      return { ...describe(c), since, overdue: waitedTooLong(since) };
    });
    if (items.length > 0) {
      const transport = await ctx.mailer({ pool: true });
      summary.transport = transport.kind;
      const batch = await sendBatch(db, transport, items, { ratePerMinute: config.mailRatePerMinute, signal: ctx.signal });
      for (const { meta } of batch.unclaimed) ctx.io.notice(`${meta.documentType} ${meta.numero} (${meta.status}) was sent meanwhile by another command: not sent again`);
      summary.sent = batch.sent;
      summary.failed = batch.failed;
      summary.unknown = batch.unknown;
      summary.results = batch.outcomes.map(({ item, outcome }) => ({ ...describe(item.meta), outcome: outcome.status, delivery: outcome.id, error: outcome.error }));
    }
    return summary;
  } finally {
    await lock?.release();
  }
}

/**
 * Exit 4 when an archived PDF is damaged (the alert fires); otherwise exit 1 when a message failed
 * or is unknown, one waits to be settled, or a document was skipped for its data. A client without
 * an address and a PDF not archived yet are not failures.
 */
export function autoSendFailure(s: AutoSendSummary): OperationError | VerificationError | undefined {
  if (s.dryRun) return undefined;
  if (s.damaged.length > 0) {
    return new VerificationError(
      `${s.damaged.length} archived PDF(s) damaged in storage, not sent: ${s.damaged.map((d) => `${d.documentType} ${d.numero}`).join(', ')}`,
      'restore them from another copy (aj archive verify --deep) or archive a good copy; the next run sends them',
    );
  }
  const unknown = [...s.stuck.map((d) => d.id), ...s.results.filter((r) => r.outcome === 'unknown').map((r) => r.delivery)];
  const fixData = s.skipped.filter((k) => k.action === 'fix-data');
  const problems = [
    s.failed > 0 && `${s.failed} message(s) failed (sent again by the next run; aj mail history --status failed)`,
    unknown.length > 0 && `${unknown.length} message(s) unknown, maybe delivered: never re-sent on their own (${settleCommand(unknown)})`,
    fixData.length > 0 && `${fixData.length} document(s) skipped for their data (fix them in the app)`,
  ].filter((p): p is string => Boolean(p));
  return problems.length > 0 ? new OperationError(problems.join('; ')) : undefined;
}

function describe(c: Candidate): AutoSendDocument {
  return { documentType: c.documentType, documentId: c.documentId, numero: c.numero, status: c.status, email: c.clientEmail, key: statusKey(c.documentType, c.documentId, c.status) };
}

function skipReason(c: Candidate): { reason: string; action: 'letter-or-call' | 'fix-data' } | undefined {
  if (/[\r\n\0]/.test(c.numero)) return { reason: `the ${c.documentType} number ${JSON.stringify(c.numero)} holds a line break, which would break the subject line`, action: 'fix-data' };
  if (!c.clientEmail) return { reason: 'client has no email address', action: 'letter-or-call' };
  if (!isValidAddress(c.clientEmail)) return { reason: `client email "${c.clientEmail}" is not valid`, action: 'fix-data' };
  return undefined;
}

/** The checked read of the archived PDF: damaged or unusable is reported for this document; the run goes on. */
async function loadPdf(ctx: Context, c: Candidate, maxMb: number, summary: AutoSendSummary): Promise<LoadedAttachment | 'waiting' | undefined> {
  const doc = { type: c.documentType, id: c.documentId, numero: c.numero, montantTtc: c.montantTtc, clientName: c.clientName, clientEmail: c.clientEmail };
  try {
    return await loadArchivedPdf(await ctx.db(), await ctx.store('archive'), doc, maxMb);
  } catch (error) {
    if (error instanceof VerificationError) summary.damaged.push({ ...describe(c), error: describeError(error) });
    else if (error instanceof ConfigError) throw error;
    else if (error instanceof OperationError && /^no archived PDF/.test(error.message)) return 'waiting';
    else summary.skipped.push({ ...describe(c), reason: describeError(error), action: 'fix-data', firstTime: c.firstSeen === null });
    return undefined;
  }
}

async function compose(ctx: Context, c: Candidate, pdf: LoadedAttachment): Promise<OutgoingMessage> {
  const config = ctx.config();
  const kind = STATUS_KINDS.find((k) => k.type === c.documentType && k.status === c.status)!;
  const doc = { type: c.documentType, id: c.documentId, numero: c.numero, montantTtc: c.montantTtc, clientName: c.clientName, clientEmail: c.clientEmail };
  const rendered = await renderTemplate(kind.template, documentVars(doc), templateSet(config));
  // The name comes from the business database: stripped of anything that could break a header.
  const name = c.clientName.replace(/[\r\n\0]/g, ' ');
  return {
    from: config.mailFrom,
    to: [formatMailbox({ name, address: c.clientEmail!.toLowerCase() })],
    cc: [],
    bcc: config.companyBcc ? [config.companyBcc] : [],
    subject: rendered.subject,
    text: rendered.text,
    html: rendered.html,
    template: rendered.name,
    document: { type: c.documentType, id: c.documentId },
    attachments: [pdf],
  };
}
