import type { BusinessSql } from '../business/sql.js';
import type { Context } from '../context.js';
import type { Db } from '../db/pool.js';
import { markAbandoned } from '../deliveries/ledger.js';
import { ConfigError, UsageError } from '../errors.js';
import { type DocumentRef, parseDocumentRef } from './document.js';
import { PENDING_TIMEOUT } from './history.js';
import { type DeliveryRef, describeRef } from './retry.js';

/**
 * `aj mail history`: the delivery ledger, one row per key. Claims whose process is gone are first
 * recorded unknown (a fact, not a decision); one past the timeout elsewhere is shown as unknown.
 */
export type DisplayStatus = 'sending' | 'sent' | 'failed' | 'unknown';

export interface HistoryFilter {
  status?: DisplayStatus;
  to?: string;
  since?: string;
  until?: string;
  /** The document's ids (its number resolved through the business tables, and the value as given). */
  document?: { type: string; ids: string[] };
  limit: number;
  /** Days in --since/--until are business days in this zone. */
  timezone: string;
}

export interface DeliverySummary {
  id: number;
  key: string;
  purpose: string;
  /** `facture FA-2026-0042` (by number when the business tables know it), or null. */
  document: string | null;
  status: DisplayStatus;
  attempts: number;
  refused: string[];
  settled: string | null;
  createdAt: string;
  finishedAt: string | null;
  to: string[];
  subject: string;
  /** The latest attempt's transport: `outbox ...` when it was written to the outbox, not sent. */
  transport: string | null;
  error: string | null;
}

export interface AttemptRow {
  id: number;
  status: string;
  createdAt: string;
  finishedAt: string | null;
  transport: string | null;
  messageId: string | null;
  accepted: string[] | null;
  rejected: string[] | null;
  response: string | null;
  error: string | null;
}

export interface DeliveryDetail extends DeliverySummary {
  from: string;
  cc: string[];
  bcc: string[];
  replyTo: string | null;
  template: string | null;
  attachments: Array<{ filename: string; size: number }>;
  attempts: number;
  history: AttemptRow[];
  text: string | null;
  html: string | null;
}

export const DISPLAY_STATUS_SQL = `CASE WHEN d.status = 'sending' AND d.claimed_at < now() - interval '${PENDING_TIMEOUT}' THEN 'unknown' ELSE d.status END`;

/** The document's number from the mapped business tables; without them, type:id. */
function documentSql(b: BusinessSql | undefined): { select: string; join: string } {
  const raw = `d.document_type || ':' || d.document_id`;
  if (!b) return { select: `CASE WHEN d.document_type IS NULL THEN NULL ELSE ${raw} END`, join: '' };
  return {
    select: `CASE WHEN d.document_type IS NULL THEN NULL
      ELSE d.document_type || ' ' || COALESCE(CASE d.document_type WHEN 'facture' THEN ${b.col('facture', 'numero', 'f')}::text ELSE ${b.col('devis', 'numero', 'q')}::text END, d.document_id) END`,
    join: `LEFT JOIN ${b.table('facture')} f ON d.document_type = 'facture' AND ${b.id('facture', 'f')}::text = d.document_id
           LEFT JOIN ${b.table('devis')} q ON d.document_type = 'devis' AND ${b.id('devis', 'q')}::text = d.document_id`,
  };
}

const summarySql = (b: BusinessSql | undefined) => {
  const doc = documentSql(b);
  return `SELECT d.id, d.key, d.purpose, ${doc.select} AS document, ${DISPLAY_STATUS_SQL} AS status, d.attempts, d.refused, d.settled,
      d.created_at AS "createdAt", d.finished_at AS "finishedAt", COALESCE(m.to_addresses, '{}') AS "to", COALESCE(m.subject, '') AS subject, m.transport, d.error,
      m.from_address, m.cc_addresses, m.bcc_addresses, m.reply_to, m.template, m.attachments, m.text_body, m.html_body
    FROM deliveries d
    LEFT JOIN LATERAL (SELECT * FROM email_messages a WHERE a.delivery_id = d.id ORDER BY a.id DESC LIMIT 1) m ON true
    ${doc.join}`;
};

export interface HistoryOptions extends Omit<HistoryFilter, 'document' | 'timezone'> {
  /** `facture:FA-2026-0042` or `facture:<id>`. */
  document?: string;
}

/** `aj mail history`: the ledger, newest first. */
export async function runHistory(ctx: Context, opts: HistoryOptions): Promise<DeliverySummary[]> {
  const db = await ctx.db();
  await markAbandoned(db);
  const ref = opts.document ? parseDocumentRef(opts.document) : undefined;
  // Numbers need the business tables; without a mapping the ledger is still shown, with ids.
  const b = ref ? await ctx.business() : await businessIfMapped(ctx);
  const document = ref ? { type: ref.type, ids: await documentIds(db, b!, ref) } : undefined;
  return listDeliveries(db, b, { ...opts, document, timezone: ctx.config().timezone });
}

/** `aj mail history ID|KEY`: one delivery, its attempts and its latest content. */
export async function runHistoryShow(ctx: Context, ref: DeliveryRef): Promise<DeliveryDetail> {
  const db = await ctx.db();
  await markAbandoned(db);
  return getDelivery(db, await businessIfMapped(ctx), ref);
}

async function businessIfMapped(ctx: Context): Promise<BusinessSql | undefined> {
  try {
    return await ctx.business();
  } catch (error) {
    if (error instanceof ConfigError) return undefined;
    throw error;
  }
}

export async function listDeliveries(db: Db, b: BusinessSql | undefined, filter: HistoryFilter): Promise<DeliverySummary[]> {
  const where: string[] = [];
  const values: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    values.push(value);
    where.push(sql.replaceAll('?', `$${values.length}`));
  };
  if (filter.status) add(`${DISPLAY_STATUS_SQL} = ?`, filter.status);
  if (filter.to) add(`EXISTS (SELECT 1 FROM unnest(m.to_addresses || m.cc_addresses) a WHERE a ILIKE '%' || ? || '%')`, filter.to);
  if (filter.since) add(`d.created_at >= (?::date)::timestamp AT TIME ZONE '${sqlZone(filter.timezone)}'`, filter.since);
  if (filter.until) add(`d.created_at < (?::date + 1)::timestamp AT TIME ZONE '${sqlZone(filter.timezone)}'`, filter.until);
  if (filter.document) {
    add('d.document_type = ?', filter.document.type);
    add('d.document_id = ANY(?::text[])', filter.document.ids);
  }
  values.push(filter.limit);
  const rows = await db.query<DeliverySummary>(`${summarySql(b)} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY d.id DESC LIMIT $${values.length}`, values);
  return rows.map(summaryOf);
}

export async function getDelivery(db: Db, b: BusinessSql | undefined, ref: DeliveryRef): Promise<DeliveryDetail> {
  const row = await db.one<DeliverySummary & Record<string, any>>(`${summarySql(b)} WHERE ${'id' in ref ? 'd.id = $1' : 'd.key = $1'}`, ['id' in ref ? ref.id : ref.key]);
  if (!row) throw new UsageError(`no delivery ${describeRef(ref)}`, 'see `aj mail history`');
  const history = await db.query<AttemptRow>(
    `SELECT id, status, created_at AS "createdAt", finished_at AS "finishedAt", transport, message_id AS "messageId", accepted, rejected, response, error
       FROM email_messages WHERE delivery_id = $1 ORDER BY id`,
    [row.id],
  );
  return {
    ...summaryOf(row),
    from: row.from_address ?? '',
    cc: row.cc_addresses ?? [],
    bcc: row.bcc_addresses ?? [],
    replyTo: row.reply_to,
    template: row.template,
    attachments: ((row.attachments ?? []) as Array<{ filename: string; size: number }>).map((a) => ({ filename: a.filename, size: a.size })),
    history: history.map((a) => ({ ...a, id: Number(a.id), createdAt: iso(a.createdAt)!, finishedAt: iso(a.finishedAt) })),
    text: row.text_body,
    html: row.html_body,
  };
}

/** The ids a `--document type:number-or-id` names: the documents with that number or id, and the value itself. */
export async function documentIds(db: Db, b: BusinessSql, ref: DocumentRef): Promise<string[]> {
  const rows = await db.query<{ id: string }>(
    `SELECT ${b.id(ref.type, 'd')}::text AS id FROM ${b.table(ref.type)} d WHERE ${b.col(ref.type, 'numero', 'd')}::text = $1 OR ${b.id(ref.type, 'd')}::text = $1`,
    [ref.id],
  );
  return [...new Set([ref.id, ...rows.map((r) => r.id)])];
}

function summaryOf(row: DeliverySummary & Record<string, any>): DeliverySummary {
  return {
    id: Number(row.id), key: row.key, purpose: row.purpose, document: row.document, status: row.status, attempts: Number(row.attempts),
    refused: row.refused, settled: row.settled, createdAt: iso(row.createdAt)!, finishedAt: iso(row.finishedAt), to: row.to, subject: row.subject, transport: row.transport, error: row.error,
  };
}

const iso = (value: string | Date | null) => (value ? new Date(value).toISOString() : null);

// The zone is validated by the config schema (an IANA name); quotes are doubled all the same.
const sqlZone = (tz: string) => tz.replace(/'/g, "''");

/** `YYYY-MM-DD` for --since/--until/--as-of. */
export function parseDay(flag: string, value: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const d = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : undefined;
  if (!d || d.toISOString().slice(0, 10) !== value) throw new UsageError(`${flag}: "${value}" is not a date`, 'write it as YYYY-MM-DD');
  return value;
}
