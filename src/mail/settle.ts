import type { Context } from '../context.js';
import { markAbandoned } from '../deliveries/ledger.js';
import { UsageError } from '../errors.js';
import { type DeliveryRef, type RetryResult, type StoredDelivery, loadDeliveries, resend } from './retry.js';

export interface SettleOptions {
  refs: DeliveryRef[];
  how: 'delivered' | 'resend';
}

export interface SettleResult {
  /** Recorded delivered (the operator found them in the company BCC mailbox). */
  delivered: Array<{ delivery: number; key: string }>;
  /** With --resend: the new attempts. */
  resent?: RetryResult;
}

/**
 * `aj mail settle`: the operator's decision on unknown deliveries (cut after the final dot, or
 * left `sending` by a crash), which aj never re-sends on its own: --delivered records them sent,
 * --resend sends them again under the same key (claimed from `unknown` only, so once).
 */
export async function runSettle(ctx: Context, opts: SettleOptions): Promise<SettleResult> {
  if (opts.refs.length === 0) throw new UsageError('nothing to settle', 'give delivery ids or keys (aj mail history --status unknown)');
  const db = await ctx.db();
  await markAbandoned(db);
  const deliveries = checkUnknown(await loadDeliveries(db, opts.refs));
  if (opts.how === 'resend') {
    const resent = await resend(ctx, db, deliveries, ['unknown'], async (q, id) => {
      await q.query(`UPDATE deliveries SET settled = 'resent' WHERE id = $1`, [id]);
    });
    return { delivered: [], resent };
  }
  const rows = await db.query<{ id: number; key: string }>(
    `WITH d AS (UPDATE deliveries SET status = 'sent', settled = 'delivered', error = NULL, finished_at = now()
                 WHERE id = ANY($1::bigint[]) AND status = 'unknown' RETURNING id, key),
     l AS (UPDATE reminder_log SET status = 'sent', error = NULL, finished_at = now() WHERE delivery_id IN (SELECT id FROM d))
     SELECT id, key FROM d ORDER BY id`,
    [deliveries.map((d) => d.id)],
  );
  return { delivered: rows.map((r) => ({ delivery: Number(r.id), key: r.key })) };
}

function checkUnknown(rows: StoredDelivery[]): StoredDelivery[] {
  for (const d of rows) {
    if (d.status === 'unknown') continue;
    const hint = d.status === 'failed' ? `it was not delivered: aj mail retry ${d.id}` : d.status === 'sent' ? 'nothing to settle' : 'wait for it to finish';
    throw new UsageError(`delivery ${d.id} (${d.key}) is ${d.status === 'sending' ? 'being sent' : d.status}, not unknown`, hint);
  }
  return rows;
}
