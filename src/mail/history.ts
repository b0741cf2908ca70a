import type { SendMailOptions } from 'nodemailer';
import type { Db } from '../db/pool.js';
import type { MailTransport, SentInfo } from './transport.js';

/**
 * The history protocol: a `pending` row is committed before the SMTP conversation, then
 * marked `sent` or `failed`. A crash in between leaves `pending`, shown as `unknown` once
 * PENDING_TIMEOUT has passed, and never re-sent automatically (only `aj mail retry --force`).
 */
export const PENDING_TIMEOUT = '10 minutes';

export type AttachmentSource = { kind: 'file'; path: string } | { kind: 'archive'; key: string };

export interface AttachmentRecord {
  filename: string;
  size: number;
  contentType?: string;
  source: AttachmentSource;
}

export interface OutgoingMessage {
  from: string;
  to: string[];
  cc: string[];
  /** Envelope-only recipients (the company copy): never written into the headers. */
  bcc: string[];
  replyTo?: string;
  subject: string;
  text?: string;
  html?: string;
  template?: string;
  document?: { type: string; id: string };
  attachments: Array<AttachmentRecord & { content: Buffer }>;
  retryOf?: number;
}

export interface DeliveryOutcome {
  id: number;
  status: 'sent' | 'failed';
  messageId?: string;
  accepted: string[];
  rejected: string[];
  error?: string;
  /** The failure looked like the server itself (down, timeout), not this message. */
  connectionError?: boolean;
}

export async function recordPending(db: Db, message: OutgoingMessage, transport: string): Promise<number> {
  const row = await db.one<{ id: number }>(
    `INSERT INTO email_messages (status, from_address, to_addresses, cc_addresses, bcc_addresses, reply_to, subject, template,
       document_type, document_id, attachments, retry_of, transport, text_body, html_body)
     VALUES ('pending', $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id`,
    [
      message.from, message.to, message.cc, message.bcc, message.replyTo ?? null, message.subject, message.template ?? null,
      message.document?.type ?? null, message.document?.id ?? null,
      JSON.stringify(message.attachments.map(({ content: _content, ...record }) => record)),
      message.retryOf ?? null, transport, message.text ?? null, message.html ?? null,
    ],
  );
  return row!.id;
}

export async function markSent(db: Db, id: number, info: SentInfo): Promise<void> {
  await db.query(
    `UPDATE email_messages SET status = 'sent', message_id = $2, accepted = $3, rejected = $4, response = $5, finished_at = now() WHERE id = $1`,
    [id, info.messageId, info.accepted, info.rejected, info.response],
  );
}

export async function markFailed(db: Db, id: number, error: string): Promise<void> {
  await db.query(`UPDATE email_messages SET status = 'failed', error = $2, finished_at = now() WHERE id = $1`, [id, error]);
}

/** What nodemailer gets: BCC goes only into the SMTP envelope, so no header can reveal it. */
export function toNodemailer(message: OutgoingMessage): SendMailOptions {
  const bare = (list: string[]) => list.map((m) => /<([^>]+)>\s*$/.exec(m)?.[1] ?? m);
  return {
    from: message.from,
    to: message.to,
    cc: message.cc.length > 0 ? message.cc : undefined,
    replyTo: message.replyTo,
    subject: message.subject,
    text: message.text,
    html: message.html,
    attachments: message.attachments.map((a) => ({ filename: a.filename, content: a.content, contentType: a.contentType })),
    envelope: { from: bare([message.from])[0], to: [...bare(message.to), ...bare(message.cc), ...bare(message.bcc)] },
  };
}

/** One message through the protocol; SMTP failures become a `failed` outcome, database failures throw. */
export async function deliver(db: Db, transport: MailTransport, message: OutgoingMessage): Promise<DeliveryOutcome> {
  const id = await recordPending(db, message, transport.description);
  let info: SentInfo;
  try {
    info = await transport.send(toNodemailer(message));
  } catch (error) {
    const text = (error as Error).message;
    await markFailed(db, id, text);
    return { id, status: 'failed', accepted: [], rejected: [], error: text, connectionError: isConnectionError(error) };
  }
  await markSent(db, id, info);
  return { id, status: 'sent', messageId: info.messageId, accepted: info.accepted, rejected: info.rejected };
}

// nodemailer error codes that mean the server is gone rather than this message being refused.
const CONNECTION_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE']);

function isConnectionError(error: unknown): boolean {
  const cause = (error as { cause?: { code?: string } }).cause ?? (error as { code?: string });
  return CONNECTION_CODES.has(cause.code ?? '');
}
