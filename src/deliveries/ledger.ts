import { hostname } from 'node:os';
import type { Db, Queryable } from '../db/pool.js';
import { PENDING_TIMEOUT, type OutgoingMessage, insertAttempt } from '../mail/history.js';
import { processAlive } from '../ops/job-runs.js';

/**
 * The delivery ledger: every message sent for a purpose has one key, and whatever command sends
 * or re-sends it (reminders run, mail retry, mail send, alerts, mail settle) claims that key in a
 * committed statement before the SMTP conversation. The unique key and the conditional update
 * make two claims of one key impossible, so a key is delivered at most once.
 *
 *   sending  claimed; an attempt is under way (or its process died: see markAbandoned)
 *   sent     every client recipient accepted it (the company BCC alone is not a delivery)
 *   failed   not delivered (server down before the message, or a client address refused): may be re-sent
 *   unknown  the line dropped after the final dot, or the sender crashed: never re-sent on its own;
 *            `aj mail settle` records it delivered or re-sends it
 *
 * reminder_log mirrors the ledger for reminder keys (its delivery_id): every statement here that
 * changes a delivery's status changes its reminder_log row in the same statement.
 */
export type DeliveryStatus = 'sending' | 'sent' | 'failed' | 'unknown';
export type Purpose = 'reminder' | 'alert' | 'send' | 'document';

export interface DeliverySpec {
  key: string;
  purpose: Purpose;
  document?: { type: string; id: string };
}

export interface Attempt {
  deliveryId: number;
  attemptId: number;
  /** 1 for the first attempt of the key. */
  attempt: number;
}

export const reminderKey = (type: string, id: string, level: string) => `reminder:${type}:${id}:${level}`;

/**
 * Claims the key (new, or in one of the `from` states) and records the attempt, in one
 * transaction; undefined when the key is delivered, being sent or not in a `from` state.
 * `also` runs in the same transaction (reminders link their reminder_log row).
 */
export async function claim(
  db: Db,
  spec: DeliverySpec,
  message: OutgoingMessage,
  transport: string,
  options: { from?: DeliveryStatus[]; also?: (q: Queryable, deliveryId: number) => Promise<void> } = {},
): Promise<Attempt | undefined> {
  return db.tx(async (q) => {
    const { rows } = await q.query<{ id: number; attempts: number }>(
      `INSERT INTO deliveries (key, purpose, document_type, document_id, status, attempts, claimed_host, claimed_pid)
       VALUES ($1, $2, $3, $4, 'sending', 1, $5, $6)
       ON CONFLICT (key) DO UPDATE SET status = 'sending', attempts = deliveries.attempts + 1, claimed_host = $5, claimed_pid = $6,
         claimed_at = now(), finished_at = NULL, error = NULL, refused = '{}', settled = NULL
         WHERE deliveries.status = ANY($7::text[])
       RETURNING id, attempts`,
      [spec.key, spec.purpose, spec.document?.type ?? null, spec.document?.id ?? null, hostname(), process.pid, options.from ?? ['failed']],
    );
    const row = rows[0];
    if (!row) return undefined;
    const deliveryId = Number(row.id);
    await options.also?.(q, deliveryId);
    await q.query(`UPDATE reminder_log SET status = 'sending', claimed_at = now(), error = NULL, finished_at = NULL WHERE delivery_id = $1`, [deliveryId]);
    const attemptId = await insertAttempt(q, message, transport, deliveryId);
    return { deliveryId, attemptId, attempt: Number(row.attempts) };
  });
}

export interface AttemptResult {
  status: 'sent' | 'failed' | 'unknown';
  messageId?: string;
  accepted?: string[];
  rejected?: string[];
  response?: string;
  /** Client recipients (to, cc) the server refused. */
  refused: string[];
  error?: string;
}

/** Records the attempt's outcome on the attempt, the delivery and its reminder_log row: one statement. */
export async function finish(db: Db, attempt: Attempt, result: AttemptResult): Promise<void> {
  await db.query(
    `WITH m AS (
       UPDATE email_messages SET status = $3, message_id = $4, accepted = $5, rejected = $6, response = $7, error = $8, finished_at = now()
        WHERE id = $2),
     d AS (
       UPDATE deliveries SET status = $3, refused = $9, error = $8, finished_at = now() WHERE id = $1 AND status = 'sending' RETURNING id)
     UPDATE reminder_log SET status = $3, email_message_id = $2, error = $8, finished_at = now() WHERE delivery_id IN (SELECT id FROM d)`,
    [
      attempt.deliveryId, attempt.attemptId, result.status, result.messageId ?? null, result.accepted ?? null, result.rejected ?? null,
      result.response ?? null, result.error ?? null, result.refused,
    ],
  );
}

/** Client recipients the server refused: anything in rejected except the envelope-only (BCC) copies. */
export function refusedClients(message: OutgoingMessage, rejected: string[]): string[] {
  const bare = (m: string) => (/<([^>]+)>\s*$/.exec(m)?.[1] ?? m).toLowerCase();
  const clients = new Set([...message.to, ...message.cc].map(bare));
  return rejected.filter((r) => clients.has(r.toLowerCase()));
}

interface Claimed {
  id: number;
  claimed_host: string | null;
  claimed_pid: number | null;
  old: boolean;
}

/** `sending` deliveries whose process is gone (this host, pid dead) or, elsewhere, older than PENDING_TIMEOUT. */
export async function findAbandoned(db: Db): Promise<number[]> {
  const rows = await db.query<Claimed>(
    `SELECT id, claimed_host, claimed_pid, claimed_at < now() - interval '${PENDING_TIMEOUT}' AS old FROM deliveries WHERE status = 'sending'`,
  );
  const here = hostname();
  return rows.filter((r) => r.old || (r.claimed_host === here && r.claimed_pid !== null && !processAlive(r.claimed_pid))).map((r) => Number(r.id));
}

/** Abandoned claims become `unknown` (the message may have gone out before the crash): never re-sent on their own. */
export async function markAbandoned(db: Db): Promise<number> {
  const ids = await findAbandoned(db);
  if (ids.length === 0) return 0;
  const error = 'the process sending it stopped before its outcome was recorded (killed, crashed or rebooted)';
  await db.query(
    `WITH d AS (UPDATE deliveries SET status = 'unknown', error = $2, finished_at = now() WHERE id = ANY($1::bigint[]) AND status = 'sending' RETURNING id),
     m AS (UPDATE email_messages SET status = 'unknown', error = $2, finished_at = now() WHERE delivery_id IN (SELECT id FROM d) AND status = 'pending')
     UPDATE reminder_log SET status = 'unknown', error = $2, finished_at = now() WHERE delivery_id IN (SELECT id FROM d)`,
    [ids, error],
  );
  return ids.length;
}

export interface OpenDelivery {
  id: number;
  key: string;
  purpose: string;
  status: DeliveryStatus;
  error: string | null;
}

/** Unknown deliveries and abandoned claims (read only, for `aj status` and the runs that find them). */
export async function unsettled(db: Db, purpose?: Purpose): Promise<OpenDelivery[]> {
  const abandoned = await findAbandoned(db);
  const rows = await db.query<OpenDelivery>(
    `SELECT id, key, purpose, status, error FROM deliveries
      WHERE (status = 'unknown' OR id = ANY($1::bigint[])) AND ($2::text IS NULL OR purpose = $2) ORDER BY id`,
    [abandoned, purpose ?? null],
  );
  return rows.map((r) => ({ ...r, id: Number(r.id) }));
}

/** The command that settles a delivery, as status and errors name it. */
export const settleCommand = (ids: number[]) => `aj mail settle ${ids.length === 1 ? ids[0] : '<id>'} --delivered (found in the company BCC mailbox) or --resend`;
