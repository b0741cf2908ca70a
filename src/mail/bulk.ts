import type { Db } from '../db/pool.js';
import { forEachLimit } from '../parallel.js';
import { type DeliveryOutcome, type OutgoingMessage, deliver, markFailed, recordPending } from './history.js';
import type { MailTransport } from './transport.js';

/**
 * Bulk sending for reminders, alerts and retries: one pooled transport, enough workers (16) that the
 * history writes of one message overlap the SMTP conversation of others, an optional rate limit,
 * and the same pending -> sent/failed protocol per message. Once the server looks down, the
 * remaining messages are recorded `failed` without another attempt (nothing lost, retry later).
 */
export interface BatchItem<T> {
  message: OutgoingMessage;
  meta: T;
}

export interface BatchOptions<T> {
  /** Messages per minute; 0 is unlimited. */
  ratePerMinute: number;
  concurrency?: number;
  signal?: AbortSignal;
  /** Called right before an item is sent; false skips it (e.g. someone else claimed it). */
  claim?: (item: BatchItem<T>) => Promise<boolean>;
  /** Called once the outcome is recorded in the history. */
  settle?: (item: BatchItem<T>, outcome: DeliveryOutcome) => Promise<void>;
  onProgress?: (done: number, total: number) => void;
}

export interface BatchResult<T> {
  sent: number;
  failed: number;
  unclaimed: number;
  outcomes: Array<{ item: BatchItem<T>; outcome: DeliveryOutcome }>;
  /** The first connection-level error, when the server went away mid-batch. */
  serverDown?: string;
}

export async function sendBatch<T>(db: Db, transport: MailTransport, items: BatchItem<T>[], options: BatchOptions<T>): Promise<BatchResult<T>> {
  const result: BatchResult<T> = { sent: 0, failed: 0, unclaimed: 0, outcomes: [] };
  const limiter = rateLimiter(options.ratePerMinute, options.signal);
  let done = 0;

  const handle = async (item: BatchItem<T>) => {
    if (options.claim && !(await options.claim(item))) {
      result.unclaimed += 1;
      return;
    }
    let outcome: DeliveryOutcome;
    if (result.serverDown) {
      const id = await recordPending(db, item.message, transport.description);
      const error = `not attempted: the mail server went away earlier in this batch (${result.serverDown})`;
      await markFailed(db, id, error);
      outcome = { id, status: 'failed', accepted: [], rejected: [], error };
    } else {
      await limiter();
      outcome = await deliver(db, transport, item.message);
      if (outcome.connectionError) result.serverDown ??= outcome.error;
    }
    result[outcome.status] += 1;
    result.outcomes.push({ item, outcome });
    await options.settle?.(item, outcome);
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
