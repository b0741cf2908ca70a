import { randomUUID } from 'node:crypto';
import type { Db, Queryable } from '../db/pool.js';
import { type OutgoingMessage, toNodemailer } from '../mail/history.js';
import { type MailTransport, type SentInfo, UncertainDeliveryError } from '../mail/transport.js';
import { type Attempt, type AttemptResult, type DeliverySpec, type DeliveryStatus, claim, finish, refusedClients } from './ledger.js';

export interface DeliveryOutcome {
  /** The delivery (ledger row): what `aj mail history`, `retry` and `settle` name. */
  id: number;
  key: string;
  /** The attempt (email_messages row). */
  message: number;
  attempt: number;
  status: 'sent' | 'failed' | 'unknown';
  accepted: string[];
  rejected: string[];
  /** Client recipients the server refused: the delivery failed for them. */
  refused: string[];
  error?: string;
  /** The failure looked like the server itself (down, timeout), not this message. */
  connectionError?: boolean;
}

export interface DeliverOptions {
  /** States a key may be claimed from besides new: a retry takes `failed`, a settle --resend `unknown`. */
  from?: DeliveryStatus[];
  also?: (q: Queryable, deliveryId: number) => Promise<void>;
  /** Record the attempt failed with this reason instead of sending (the server went away earlier in a batch). */
  notAttempted?: string;
}

/** A key for a message that has no purpose of its own to name (a manual send). */
export const oneOffKey = (purpose: string) => `${purpose}:${randomUUID()}`;

/**
 * One message under its key: claim (committed with the attempt row), SMTP, outcome. Undefined when
 * the key was not claimable (delivered, or another command is sending it). SMTP failures become
 * `failed` (or `unknown` after the final dot); database failures throw.
 */
export async function deliver(db: Db, transport: MailTransport, spec: DeliverySpec, message: OutgoingMessage, options: DeliverOptions = {}): Promise<DeliveryOutcome | undefined> {
  const attempt = await claim(db, spec, message, transport.description, { from: options.from, also: options.also });
  if (!attempt) return undefined;
  const result = options.notAttempted ? { status: 'failed' as const, refused: [], error: options.notAttempted } : await attemptSend(transport, message);
  await finish(db, attempt, result);
  return outcomeOf(spec, attempt, result);
}

async function attemptSend(transport: MailTransport, message: OutgoingMessage): Promise<AttemptResult & { connectionError?: boolean }> {
  let info: SentInfo;
  try {
    info = await transport.send(toNodemailer(message));
  } catch (error) {
    const status = error instanceof UncertainDeliveryError ? 'unknown' : 'failed';
    return { status, refused: [], error: (error as Error).message, connectionError: isConnectionError(error) };
  }
  const refused = refusedClients(message, info.rejected);
  return {
    status: refused.length > 0 ? 'failed' : 'sent',
    messageId: info.messageId,
    accepted: info.accepted,
    rejected: info.rejected,
    response: info.response,
    refused,
    error: refused.length > 0 ? `the server refused ${refused.join(', ')}` : undefined,
  };
}

function outcomeOf(spec: DeliverySpec, attempt: Attempt, result: AttemptResult & { connectionError?: boolean }): DeliveryOutcome {
  return {
    id: attempt.deliveryId,
    key: spec.key,
    message: attempt.attemptId,
    attempt: attempt.attempt,
    status: result.status,
    accepted: result.accepted ?? [],
    rejected: result.rejected ?? [],
    refused: result.refused,
    error: result.error,
    connectionError: result.connectionError,
  };
}

// nodemailer error codes that mean the server is gone rather than this message being refused.
const CONNECTION_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE']);

function isConnectionError(error: unknown): boolean {
  const cause = (error as { cause?: { code?: string } }).cause ?? (error as { code?: string });
  return CONNECTION_CODES.has(cause.code ?? '');
}
