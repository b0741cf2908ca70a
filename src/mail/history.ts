import type { SendMailOptions } from 'nodemailer';
import type { Queryable } from '../db/pool.js';

/**
 * The attempts of the delivery ledger (src/deliveries): a `pending` row is committed with the
 * claim of its key, before the SMTP conversation, then marked `sent`, `failed` or `unknown`.
 * A claim older than PENDING_TIMEOUT whose process cannot be checked counts as abandoned.
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
}

/** The attempt row (email_messages) of a delivery: what was sent, to whom, with what content. */
export async function insertAttempt(q: Queryable, message: OutgoingMessage, transport: string, deliveryId: number): Promise<number> {
  const { rows } = await q.query<{ id: number }>(
    `INSERT INTO email_messages (status, from_address, to_addresses, cc_addresses, bcc_addresses, reply_to, subject, template,
       document_type, document_id, attachments, retry_of, transport, text_body, html_body, delivery_id)
     VALUES ('pending', $1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
       (SELECT max(id) FROM email_messages WHERE delivery_id = $14), $11, $12, $13, $14) RETURNING id`,
    [
      message.from, message.to, message.cc, message.bcc, message.replyTo ?? null, message.subject, message.template ?? null,
      message.document?.type ?? null, message.document?.id ?? null,
      JSON.stringify(message.attachments.map(({ content: _content, ...record }) => record)),
      transport, message.text ?? null, message.html ?? null, deliveryId,
    ],
  );
  return Number(rows[0]!.id);
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
