import type { Db } from '../db/pool.js';
import { type DeliverOptions, type DeliveryOutcome, deliver, oneOffKey } from '../deliveries/deliver.js';
import type { DeliverySpec } from '../deliveries/ledger.js';
import { forEachLimit } from '../parallel.js';
import type { OutgoingMessage } from './history.js';
import type { MailTransport } from './transport.js';

/**
 * Bulk sending for reminders, alerts and retries: one pooled transport, enough workers (16) that the
 * ledger writes of one message overlap the SMTP conversation of others, an optional rate limit,
 * and each message through the delivery ledger under its key. Once the server looks down, the
 * remaining messages are recorded `failed` without another attempt (nothing lost, retry later).
 */
export interface BatchItem<T> {
  message: OutgoingMessage;
  meta: T;
  /** The key it is delivered under; a one-off `send:` key when absent. */
  delivery?: DeliverySpec;
  /** Claim options: the states it may be claimed from, work in the claim's transaction. */
  claim?: Pick<DeliverOptions, 'from' | 'also'>;
}

export interface BatchOptions {
  /** Messages per minute; 0 is unlimited. */
  ratePerMinute: number;
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export interface BatchResult<T> {
  sent: number;
  failed: number;
  unknown: number;
  /** Keys already delivered or being sent by another command: not sent again. */
  unclaimed: Array<BatchItem<T>>;
  outcomes: Array<{ item: BatchItem<T>; outcome: DeliveryOutcome }>;
  /** The first connection-level error, when the server went away mid-batch. */
  serverDown?: string;
}

export async function sendBatch<T>(db: Db, transport: MailTransport, items: BatchItem<T>[], options: BatchOptions): Promise<BatchResult<T>> {
  const result: BatchResult<T> = { sent: 0, failed: 0, unknown: 0, unclaimed: [], outcomes: [] };
  const limiter = rateLimiter(options.ratePerMinute, options.signal);
  let done = 0;

  const handle = async (item: BatchItem<T>) => {
    const spec = item.delivery ?? { key: oneOffKey('send'), purpose: 'send' as const };
    const down = result.serverDown;
    if (!down) await limiter();
    const notAttempted = down ? `not attempted: the mail server went away earlier in this batch (${down})` : undefined;
    const outcome = await deliver(db, transport, spec, item.message, { ...item.claim, notAttempted });
    if (!outcome) {
      result.unclaimed.push(item);
      return;
    }
    if (outcome.connectionError) result.serverDown ??= outcome.error;
    result[outcome.status] += 1;
    result.outcomes.push({ item, outcome });
  };

  await forEachLimit(items, options.concurrency ?? 16, async (item) => {
    await handle(item);
    done += 1;
    options.onProgress?.(done, items.length);
  }, options.signal);
  if (options.signal?.aborted) throw options.signal.reason;
  return result;
}

/** Spaces sends evenly: the n-th send waits until start + n * (60 s / rate). */
export function rateLimiter(perMinute: number, signal?: AbortSignal, now: () => number = Date.now): () => Promise<void> {
  if (perMinute <= 0) return async () => undefined;
  const interval = 60_000 / perMinute;
  let slot = 0;
  return async () => {
    const at = Math.max(now(), slot);
    slot = at + interval;
    const wait = at - now();
    if (wait > 0) await sleep(wait, signal);
  };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
