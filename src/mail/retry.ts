import type { Context } from '../context.js';
import type { Db } from '../db/pool.js';
import { UsageError } from '../errors.js';
import { type BatchItem, sendBatch } from './bulk.js';
import { reloadAttachment } from './document.js';
import type { AttachmentRecord, OutgoingMessage } from './history.js';
import { DISPLAY_STATUS_SQL, type DisplayStatus } from './log.js';

export interface RetryOptions {
  ids: number[];
  failed: boolean;
  since?: string;
  force: boolean;
}

export interface RetryOutcome {
  original: number;
  attempt: number;
  status: 'sent' | 'failed';
  error?: string;
}

export interface RetryResult {
  sent: number;
  failed: number;
  attempts: RetryOutcome[];
}

interface Candidate {
  id: number;
  status: DisplayStatus;
  retried_by: number | null;
  from_address: string;
  to_addresses: string[];
  cc_addresses: string[];
  bcc_addresses: string[];
  reply_to: string | null;
  subject: string;
  template: string | null;
  document_type: string | null;
  document_id: string | null;
  attachments: AttachmentRecord[];
  text_body: string | null;
  html_body: string | null;
}

const CANDIDATE = `SELECT m.*, ${DISPLAY_STATUS_SQL} AS status,
  (SELECT max(r.id) FROM email_messages r WHERE r.retry_of = m.id AND r.status <> 'failed') AS retried_by FROM email_messages m`;

/**
 * `aj mail retry`: a new attempt row (retry_of = the original) for failed messages; never a sent
 * one, never one already re-sent, and `unknown` ones (maybe delivered before a crash) only with --force.
 */
export async function runRetry(opts: RetryOptions, ctx: Context): Promise<RetryResult> {
  if (opts.ids.length > 0 && opts.failed) throw new UsageError('give message ids or --failed, not both', 'see aj mail retry --help');
  if (opts.ids.length === 0 && !opts.failed) throw new UsageError('nothing to retry', 'give message ids, or --failed [--since DATE]');
  const db = await ctx.db();
  const candidates = opts.failed ? await failedSince(db, opts.since, ctx.config().timezone) : await byIds(db, opts.ids, opts.force);
  if (candidates.length === 0) {
    ctx.io.notice('no failed messages to retry');
    return { sent: 0, failed: 0, attempts: [] };
  }
  const openArchive = () => ctx.store('archive');
  const items: Array<BatchItem<number>> = [];
  for (const c of candidates) items.push({ meta: c.id, message: await rebuild(c, openArchive) });
  const transport = await ctx.mailer({ pool: items.length > 1 });
  const batch = await sendBatch(db, transport, items, { ratePerMinute: ctx.config().mailRatePerMinute, signal: ctx.signal });
  const attempts = batch.outcomes
    .map(({ item, outcome }) => ({ original: item.meta, attempt: outcome.id, status: outcome.status, error: outcome.error }))
    .sort((a, b) => a.original - b.original);
  return { sent: batch.sent, failed: batch.failed, attempts };
}

async function byIds(db: Db, ids: number[], force: boolean): Promise<Candidate[]> {
  const rows = await db.query<Candidate>(`${CANDIDATE} WHERE m.id = ANY($1::bigint[]) ORDER BY m.id`, [ids]);
  for (const id of ids) {
    const row = rows.find((r) => Number(r.id) === id);
    if (!row) throw new UsageError(`no message ${id}`, 'see `aj mail history`');
    if (row.status === 'sent') throw new UsageError(`message ${id} was sent; it is never re-sent`, 'use aj mail send for a new message');
    if (row.retried_by) throw new UsageError(`message ${id} was already retried as message ${row.retried_by}`, `see aj mail history ${row.retried_by}`);
    if (row.status === 'pending') throw new UsageError(`message ${id} is still being sent`, 'wait for it to finish');
    if (row.status === 'unknown' && !force) {
      throw new UsageError(`message ${id} is unknown: it may have been delivered before a crash`, 'check with the recipient, then pass --force to send it again');
    }
  }
  return rows;
}

async function failedSince(db: Db, since: string | undefined, timezone: string): Promise<Candidate[]> {
  return db.query<Candidate>(
    `${CANDIDATE} WHERE m.status = 'failed' AND NOT EXISTS (SELECT 1 FROM email_messages r WHERE r.retry_of = m.id)
       AND ($1::date IS NULL OR m.created_at >= ($1::date)::timestamp AT TIME ZONE $2) ORDER BY m.id`,
    [since ?? null, timezone],
  );
}

async function rebuild(c: Candidate, openArchive: Parameters<typeof reloadAttachment>[1]): Promise<OutgoingMessage> {
  const attachments = [];
  for (const a of c.attachments) attachments.push(await reloadAttachment(a, openArchive));
  return {
    from: c.from_address,
    to: c.to_addresses,
    cc: c.cc_addresses,
    bcc: c.bcc_addresses,
    replyTo: c.reply_to ?? undefined,
    subject: c.subject,
    text: c.text_body ?? undefined,
    html: c.html_body ?? undefined,
    template: c.template ?? undefined,
    document: c.document_type ? { type: c.document_type, id: c.document_id! } : undefined,
    attachments,
    retryOf: Number(c.id),
  };
}
