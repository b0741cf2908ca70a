import type { Db } from '../db/pool.js';
import { UsageError } from '../errors.js';
import { PENDING_TIMEOUT } from './history.js';

/** `aj mail history`: the email_messages table, with `unknown` for pending rows past the timeout. */
export type DisplayStatus = 'pending' | 'sent' | 'failed' | 'unknown';
export const DISPLAY_STATUSES: readonly DisplayStatus[] = ['pending', 'sent', 'failed', 'unknown'];

export interface HistoryFilter {
  status?: DisplayStatus;
  to?: string;
  since?: string;
  until?: string;
  document?: { type: string; id: string };
  limit: number;
  /** Days in --since/--until are business days in this zone. */
  timezone: string;
}

export interface MessageSummary {
  id: number;
  status: DisplayStatus;
  createdAt: string;
  to: string[];
  subject: string;
  template: string | null;
  document: string | null;
  retryOf: number | null;
  error: string | null;
}

export interface MessageDetail extends MessageSummary {
  from: string;
  cc: string[];
  bcc: string[];
  replyTo: string | null;
  attachments: Array<{ filename: string; size: number }>;
  messageId: string | null;
  accepted: string[] | null;
  rejected: string[] | null;
  response: string | null;
  transport: string | null;
  finishedAt: string | null;
  retries: number[];
  text: string | null;
  html: string | null;
}

export const DISPLAY_STATUS_SQL = `CASE WHEN m.status = 'pending' AND m.created_at < now() - interval '${PENDING_TIMEOUT}' THEN 'unknown' ELSE m.status END`;

const SUMMARY = `m.id, ${DISPLAY_STATUS_SQL} AS status, m.created_at AS "createdAt", m.to_addresses AS "to", m.subject, m.template,
  CASE WHEN m.document_type IS NULL THEN NULL ELSE m.document_type || ':' || m.document_id END AS document,
  m.retry_of AS "retryOf", m.error`;

export async function listMessages(db: Db, filter: HistoryFilter): Promise<MessageSummary[]> {
  const where: string[] = [];
  const values: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    values.push(value);
    where.push(sql.replace('?', `$${values.length}`));
  };
  if (filter.status) add(`${DISPLAY_STATUS_SQL} = ?`, filter.status);
  if (filter.to) add(`EXISTS (SELECT 1 FROM unnest(m.to_addresses || m.cc_addresses) a WHERE a ILIKE '%' || ? || '%')`, filter.to);
  if (filter.since) add(`m.created_at >= (?::date)::timestamp AT TIME ZONE '${sqlZone(filter.timezone)}'`, filter.since);
  if (filter.until) add(`m.created_at < (?::date + 1)::timestamp AT TIME ZONE '${sqlZone(filter.timezone)}'`, filter.until);
  if (filter.document) {
    add('m.document_type = ?', filter.document.type);
    add('m.document_id = ?', filter.document.id);
  }
  values.push(filter.limit);
  const rows = await db.query<MessageSummary>(
    `SELECT ${SUMMARY} FROM email_messages m ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY m.id DESC LIMIT $${values.length}`,
    values,
  );
  return rows.map(withIsoDates);
}

export async function getMessage(db: Db, id: number): Promise<MessageDetail> {
  const row = await db.one<MessageDetail>(
    `SELECT ${SUMMARY}, m.from_address AS "from", m.cc_addresses AS cc, m.bcc_addresses AS bcc, m.reply_to AS "replyTo",
            m.attachments, m.message_id AS "messageId", m.accepted, m.rejected, m.response, m.transport, m.finished_at AS "finishedAt",
            ARRAY(SELECT r.id FROM email_messages r WHERE r.retry_of = m.id ORDER BY r.id)::bigint[] AS retries,
            m.text_body AS text, m.html_body AS html
       FROM email_messages m WHERE m.id = $1`,
    [id],
  );
  if (!row) throw new UsageError(`no message ${id}`, 'see `aj mail history`');
  const attachments = row.attachments.map((a) => ({ filename: a.filename, size: a.size }));
  return { ...withIsoDates(row), attachments, retries: row.retries.map(Number), finishedAt: row.finishedAt ? new Date(row.finishedAt).toISOString() : null };
}

// The zone is validated by the config schema (an IANA name); quotes are doubled all the same.
const sqlZone = (tz: string) => tz.replace(/'/g, "''");

function withIsoDates<T extends { createdAt: string }>(row: T): T {
  return { ...row, createdAt: new Date(row.createdAt).toISOString() };
}

/** `YYYY-MM-DD` for --since/--until/--as-of. */
export function parseDay(flag: string, value: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const d = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : undefined;
  if (!d || d.toISOString().slice(0, 10) !== value) throw new UsageError(`${flag}: "${value}" is not a date`, 'write it as YYYY-MM-DD');
  return value;
}
