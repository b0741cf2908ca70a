import type { BusinessSql } from '../business/sql.js';
import type { Context } from '../context.js';
import type { Db } from '../db/pool.js';
import { parseDocumentRef } from '../mail/document.js';
import { documentIds } from '../mail/log.js';

/** `aj reminders list`: the reminder log (the ledger's status for reminder keys, and expiries), newest claim first, with the document number. */
export interface ReminderLogFilter {
  status?: 'sending' | 'sent' | 'failed' | 'unknown' | 'done';
  type?: 'facture' | 'devis';
  /** The document's ids (a number resolved through the business tables, and the value as given). */
  documentIds?: string[];
  limit: number;
}

export interface ReminderLogOptions extends Omit<ReminderLogFilter, 'documentIds'> {
  /** `facture:FA-2026-0042` (number or id), or an id as the app stores it. */
  document?: string;
}

/** `aj reminders list`. */
export async function runReminderLog(ctx: Context, opts: ReminderLogOptions): Promise<ReminderLogEntry[]> {
  const db = await ctx.db();
  const b = await ctx.business();
  const { document, ...filter } = opts;
  if (document?.includes(':')) {
    const ref = parseDocumentRef(document);
    return listReminderLog(db, b, { ...filter, type: ref.type, documentIds: await documentIds(db, b, ref) });
  }
  return listReminderLog(db, b, { ...filter, documentIds: document === undefined ? undefined : [document] });
}

export interface ReminderLogEntry {
  id: number;
  documentType: string;
  documentId: string;
  numero: string | null;
  level: string;
  status: string;
  /** Its delivery in the ledger (aj mail history ID); none for an expiry. */
  delivery: number | null;
  error: string | null;
  claimedAt: string;
  finishedAt: string | null;
}

export async function listReminderLog(db: Db, b: BusinessSql, filter: ReminderLogFilter): Promise<ReminderLogEntry[]> {
  const rows = await db.query<ReminderLogEntry>(
    `SELECT l.id, l.document_type AS "documentType", l.document_id AS "documentId",
            CASE l.document_type WHEN 'facture' THEN ${b.col('facture', 'numero', 'f')}::text ELSE ${b.col('devis', 'numero', 'd')}::text END AS numero,
            l.level, l.status, l.delivery_id AS "delivery", l.error, l.claimed_at AS "claimedAt", l.finished_at AS "finishedAt"
       FROM reminder_log l
       LEFT JOIN ${b.table('facture')} f ON l.document_type = 'facture' AND ${b.id('facture', 'f')}::text = l.document_id
       LEFT JOIN ${b.table('devis')} d ON l.document_type = 'devis' AND ${b.id('devis', 'd')}::text = l.document_id
      WHERE ($1::text IS NULL OR l.status = $1) AND ($2::text IS NULL OR l.document_type = $2) AND ($3::text[] IS NULL OR l.document_id = ANY($3::text[]))
      ORDER BY l.claimed_at DESC, l.id DESC LIMIT $4`,
    [filter.status ?? null, filter.type ?? null, filter.documentIds ?? null, filter.limit],
  );
  return rows.map((r) => ({
    ...r,
    delivery: r.delivery === null ? null : Number(r.delivery),
    claimedAt: new Date(r.claimedAt).toISOString(),
    finishedAt: r.finishedAt ? new Date(r.finishedAt).toISOString() : null,
  }));
}
