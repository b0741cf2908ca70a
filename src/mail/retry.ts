import type { Context } from '../context.js';
import type { Db } from '../db/pool.js';
import type { DeliveryOutcome } from '../deliveries/deliver.js';
import { type DeliveryStatus, type Purpose, markAbandoned } from '../deliveries/ledger.js';
import { UsageError } from '../errors.js';
import { type BatchItem, sendBatch } from './bulk.js';
import { reloadAttachment } from './document.js';
import type { AttachmentRecord, OutgoingMessage } from './history.js';

/** A delivery by its id (the number in aj mail history) or its key. */
export type DeliveryRef = { id: number } | { key: string };

export function parseDeliveryRef(value: string): DeliveryRef {
  return /^\d+$/.test(value) ? { id: Number(value) } : { key: value };
}

export const describeRef = (ref: DeliveryRef) => ('id' in ref ? String(ref.id) : ref.key);

export interface RetryOptions {
  refs: DeliveryRef[];
  failed: boolean;
  since?: string;
}

export interface RetryOutcome {
  delivery: number;
  key: string;
  /** The new attempt (email_messages id). */
  attempt: number;
  status: DeliveryOutcome['status'];
  error?: string;
}

export interface RetryResult {
  /** smtp, or outbox: written to the outbox directory, not sent. */
  transport?: 'smtp' | 'outbox';
  sent: number;
  failed: number;
  unknown: number;
  attempts: RetryOutcome[];
  /** Claimed meanwhile by another command (a concurrent retry, a reminders run): not sent again here. */
  alreadyTaken: Array<{ delivery: number; key: string }>;
}

/** A delivery and the content of its latest attempt: what a retry or a settle --resend sends again. */
export interface StoredDelivery {
  id: number;
  key: string;
  purpose: Purpose;
  status: DeliveryStatus;
  document_type: string | null;
  document_id: string | null;
  from_address: string;
  to_addresses: string[];
  cc_addresses: string[];
  bcc_addresses: string[];
  reply_to: string | null;
  subject: string;
  template: string | null;
  attachments: AttachmentRecord[];
  text_body: string | null;
  html_body: string | null;
}

const STORED = `SELECT d.id, d.key, d.purpose, d.status, d.document_type, d.document_id, m.from_address, m.to_addresses, m.cc_addresses,
    m.bcc_addresses, m.reply_to, m.subject, m.template, m.attachments, m.text_body, m.html_body
  FROM deliveries d JOIN LATERAL (SELECT * FROM email_messages a WHERE a.delivery_id = d.id ORDER BY a.id DESC LIMIT 1) m ON true`;

/** The deliveries named, in the order given; an unknown id or key is a usage error. */
export async function loadDeliveries(db: Db, refs: DeliveryRef[]): Promise<StoredDelivery[]> {
  const ids = refs.flatMap((r) => ('id' in r ? [r.id] : []));
  const keys = refs.flatMap((r) => ('key' in r ? [r.key] : []));
  const rows = await db.query<StoredDelivery>(`${STORED} WHERE d.id = ANY($1::bigint[]) OR d.key = ANY($2::text[])`, [ids, keys]);
  return refs.map((ref) => {
    const row = rows.find((r) => ('id' in ref ? Number(r.id) === ref.id : r.key === ref.key));
    if (!row) throw new UsageError(`no delivery ${describeRef(ref)}`, 'see `aj mail history`');
    return { ...row, id: Number(row.id) };
  });
}

/**
 * `aj mail retry`: failed deliveries again, under the same key, as new attempts of the same
 * content. The claim takes only a `failed` key, so a retry racing another retry or a reminders
 * run sends it once; a delivered one is never re-sent, an unknown one only by `aj mail settle`.
 */
export async function runRetry(ctx: Context, opts: RetryOptions): Promise<RetryResult> {
  if (opts.refs.length > 0 && opts.failed) throw new UsageError('give delivery ids or keys, or --failed, not both', 'see aj mail retry --help');
  if (opts.refs.length === 0 && !opts.failed) throw new UsageError('nothing to retry', 'give delivery ids or keys, or --failed [--since DATE]');
  const db = await ctx.db();
  await markAbandoned(db);
  const candidates = opts.failed ? await failedSince(db, opts.since, ctx.config().timezone) : checkRetryable(await loadDeliveries(db, opts.refs));
  if (candidates.length === 0) {
    ctx.io.notice('no failed deliveries to retry');
    return { sent: 0, failed: 0, unknown: 0, attempts: [], alreadyTaken: [] };
  }
  return resend(ctx, db, candidates, ['failed']);
}

function checkRetryable(rows: StoredDelivery[]): StoredDelivery[] {
  for (const d of rows) {
    if (d.status === 'sent') throw new UsageError(`delivery ${d.id} (${d.key}) was delivered; it is never re-sent`, 'use aj mail send for a new message');
    if (d.status === 'sending') throw new UsageError(`delivery ${d.id} (${d.key}) is being sent`, 'wait for it to finish; see aj mail history');
    if (d.status === 'unknown') {
      throw new UsageError(`delivery ${d.id} (${d.key}) is unknown: it may have been delivered`, `look for it in the company BCC mailbox, then aj mail settle ${d.id} --delivered or --resend`);
    }
  }
  return rows;
}

async function failedSince(db: Db, since: string | undefined, timezone: string): Promise<StoredDelivery[]> {
  const rows = await db.query<StoredDelivery>(
    `${STORED} WHERE d.status = 'failed' AND ($1::date IS NULL OR d.created_at >= ($1::date)::timestamp AT TIME ZONE $2) ORDER BY d.id`,
    [since ?? null, timezone],
  );
  return rows.map((r) => ({ ...r, id: Number(r.id) }));
}

/** Sends each delivery's latest content again under its key, claimed from the given states only. */
export async function resend(ctx: Context, db: Db, deliveries: StoredDelivery[], from: DeliveryStatus[], also?: NonNullable<BatchItem<unknown>['claim']>['also']): Promise<RetryResult> {
  const openArchive = () => ctx.store('archive');
  const items: Array<BatchItem<StoredDelivery>> = [];
  for (const d of deliveries) {
    items.push({
      meta: d,
      message: await rebuild(d, openArchive),
      delivery: { key: d.key, purpose: d.purpose, document: d.document_type ? { type: d.document_type, id: d.document_id! } : undefined },
      claim: { from, also },
    });
  }
  const transport = await ctx.mailer({ pool: items.length > 1 });
  const batch = await sendBatch(db, transport, items, { ratePerMinute: ctx.config().mailRatePerMinute, signal: ctx.signal });
  for (const { meta } of batch.unclaimed) ctx.io.notice(`delivery ${meta.id} (${meta.key}) was taken by another command meanwhile: not sent again here`);
  const attempts = batch.outcomes
    .map(({ item, outcome }) => ({ delivery: item.meta.id, key: item.meta.key, attempt: outcome.message, status: outcome.status, error: outcome.error }))
    .sort((a, b) => a.delivery - b.delivery);
  return { transport: transport.kind, sent: batch.sent, failed: batch.failed, unknown: batch.unknown, attempts, alreadyTaken: batch.unclaimed.map(({ meta }) => ({ delivery: meta.id, key: meta.key })) };
}

async function rebuild(d: StoredDelivery, openArchive: Parameters<typeof reloadAttachment>[1]): Promise<OutgoingMessage> {
  const attachments = [];
  for (const a of d.attachments) attachments.push(await reloadAttachment(a, openArchive));
  return {
    from: d.from_address,
    to: d.to_addresses,
    cc: d.cc_addresses,
    bcc: d.bcc_addresses,
    replyTo: d.reply_to ?? undefined,
    subject: d.subject,
    text: d.text_body ?? undefined,
    html: d.html_body ?? undefined,
    template: d.template ?? undefined,
    document: d.document_type ? { type: d.document_type, id: d.document_id! } : undefined,
    attachments,
  };
}
